// A third-party OID4VCI 1.0 issuer for the wallet core's interop tests: the authorization
// server of @openid4vc/oauth2 (pre-authorized code, Attestation-Based Client Authentication
// required, JWT access tokens) and the credential issuer of @openid4vc/openid4vci (nonce
// endpoint, JWT proofs, notifications), issuing SD-JWT VCs made with @sd-jwt/sd-jwt-vc.
//
// Driven by crates/wallet/tests/interop_issuer.rs. Input (environment):
//   ATTESTER_JWKS_URL  a Symbolon attester's /.well-known/jwks.json, fetched once at start:
//                      client attestations must be signed by one of these keys (by kid)
//   TRUST_NOBODY       when set, trust a freshly generated key instead (every attestation fails)
//   DPOP_REQUIRED      when set, advertise DPoP (ES256) and require it: the token request must
//                      carry a DPoP proof (the token is bound to its key) and the credential and
//                      notification requests `Authorization: DPoP` with a proof by that key
// It listens on 127.0.0.1 (a free port) and prints `READY <port>`; it serves until killed.
// Test-only endpoints: POST /test/offer {tx_code?} → {offer_uri}; GET /test/events →
// {tokens: [{client_id, iss, environment, dpop_jkt}], issued: [{cnf_jwk}], notifications: [body],
//  resources: [{path, scheme}]}.
// Protocol errors are the libraries' OAuth error responses.
// No attestation challenge: @openid4vc/oauth2 0.4.6 has no challenge endpoint and its
// token-request verification checks the PoP without an expected nonce.

import http from 'node:http';
import * as nodeCrypto from 'node:crypto';
import {
  Oauth2AuthorizationServer, Oauth2ResourceServer, Oauth2ServerErrorResponseError,
  Oauth2ResourceUnauthorizedError, preAuthorizedCodeGrantIdentifier, clientAuthenticationNone,
  setGlobalConfig,
} from '@openid4vc/oauth2';
import { Openid4vciIssuer } from '@openid4vc/openid4vci';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, generateSalt } from '@sd-jwt/crypto-nodejs';

setGlobalConfig({ allowInsecureUrls: true });

const CONFIG_ID = 'interop_pass';
const DPOP_REQUIRED = Boolean(process.env.DPOP_REQUIRED);
const VCT = 'https://interop.example/vct/pass';

const pub = ({ d, ...rest }) => rest;
const b64u = (s) => Buffer.from(s).toString('base64url');
const ieee = { dsaEncoding: 'ieee-p1363' };
const newKey = () => nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const thumbprint = (jwk) => nodeCrypto.createHash('sha256')
  .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');

// --- trust: the attester's published keys, by kid -----------------------------------------
const trusted = new Map();
if (process.env.TRUST_NOBODY) {
  const k = pub(newKey());
  trusted.set('nobody', { jwk: k, key: nodeCrypto.createPublicKey({ key: k, format: 'jwk' }) });
} else {
  const url = process.env.ATTESTER_JWKS_URL;
  if (!url) throw new Error('ATTESTER_JWKS_URL is not set');
  const jwks = await (await fetch(url)).json();
  for (const k of jwks.keys ?? []) {
    if (!k.kid || k.d) throw new Error('attester JWKS must hold public keys with kid');
    const { x5c, ...jwk } = k;
    trusted.set(k.kid, { jwk, key: nodeCrypto.createPublicKey({ key: jwk, format: 'jwk' }) });
  }
  if (trusted.size === 0) throw new Error('attester JWKS has no keys');
}

// --- keys ---------------------------------------------------------------------------------
const accessTokenJwk = newKey();
const credentialJwk = newKey();
const credentialKid = thumbprint(credentialJwk);
const privateKeys = new Map([
  [accessTokenJwk.x, nodeCrypto.createPrivateKey({ key: accessTokenJwk, format: 'jwk' })],
  [credentialJwk.x, nodeCrypto.createPrivateKey({ key: credentialJwk, format: 'jwk' })],
]);

const verifyEs256 = (key, compact) => {
  const dot = compact.lastIndexOf('.');
  return nodeCrypto.verify('sha256', Buffer.from(compact.slice(0, dot)), { key, ...ieee },
    Buffer.from(compact.slice(dot + 1), 'base64url'));
};

let BASE; // http://127.0.0.1:<port>, known once listening
const jwksJson = () => JSON.stringify({ keys: [{ ...pub(accessTokenJwk), kid: 'at-1', use: 'sig', alg: 'ES256' }] });

const callbacks = {
  hash: (data, alg) => nodeCrypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  generateRandom: (n) => nodeCrypto.randomBytes(n),
  clientAuthentication: clientAuthenticationNone({ clientId: 'unused' }),
  // Only the authorization server's own JWKS is ever fetched (access token verification).
  fetch: async (url) => {
    if (String(url) === `${BASE}/jwks.json`) {
      return new Response(jwksJson(), { headers: { 'content-type': 'application/jwk-set+json' } });
    }
    throw new Error(`unexpected fetch ${url}`);
  },
  signJwt: async (signer, { header, payload }) => {
    if (signer.method !== 'jwk') throw new Error('unsupported signer');
    const key = privateKeys.get(signer.publicJwk.x);
    const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(payload));
    const sig = nodeCrypto.sign('sha256', Buffer.from(input), { key, ...ieee }).toString('base64url');
    return { jwt: input + '.' + sig, signerJwk: signer.publicJwk };
  },
  verifyJwt: async (signer, { compact }) => {
    if (signer.alg !== 'ES256') return { verified: false };
    if (signer.method === 'custom') {
      // The client attestation: its kid must name a trusted attester key.
      const t = trusted.get(signer.kid);
      if (!t) return { verified: false };
      return verifyEs256(t.key, compact) ? { verified: true, signerJwk: t.jwk } : { verified: false };
    }
    if (signer.method === 'jwk') {
      // PoPs and proofs (their own key); access tokens (our key, via jwks_uri).
      const key = nodeCrypto.createPublicKey({ key: pub(signer.publicJwk), format: 'jwk' });
      return verifyEs256(key, compact) ? { verified: true, signerJwk: signer.publicJwk } : { verified: false };
    }
    return { verified: false };
  },
};

const authorizationServer = new Oauth2AuthorizationServer({ callbacks });
const resourceServer = new Oauth2ResourceServer({ callbacks });
const issuer = new Openid4vciIssuer({ callbacks });

let issuerMetadata;
function metadata() {
  const as = authorizationServer.createAuthorizationServerMetadata({
    issuer: BASE, token_endpoint: `${BASE}/token`, jwks_uri: `${BASE}/jwks.json`,
    'pre-authorized_grant_anonymous_access_supported': true,
    token_endpoint_auth_methods_supported: ['attest_jwt_client_auth'],
    ...(DPOP_REQUIRED ? { dpop_signing_alg_values_supported: ['ES256'] } : {}),
  });
  const ci = issuer.createCredentialIssuerMetadata({
    credential_issuer: BASE,
    credential_endpoint: `${BASE}/credential`,
    nonce_endpoint: `${BASE}/nonce`,
    notification_endpoint: `${BASE}/notification`,
    batch_credential_issuance: { batch_size: 2 },
    display: [{ name: 'Interop issuer (oid4vc-ts)', locale: 'en' }],
    credential_configurations_supported: {
      [CONFIG_ID]: {
        format: 'dc+sd-jwt', vct: VCT, scope: 'interop_pass',
        credential_signing_alg_values_supported: ['ES256'],
        cryptographic_binding_methods_supported: ['jwk'],
        proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256'] } },
        credential_metadata: {
          display: [{ name: 'Interop pass', locale: 'en' }],
          claims: [
            { path: ['given_name'], display: [{ name: 'Given name', locale: 'en' }] },
            { path: ['family_name'], display: [{ name: 'Family name', locale: 'en' }] },
            { path: ['role'], display: [{ name: 'Role', locale: 'en' }] },
          ],
        },
      },
    },
  });
  return {
    credentialIssuer: ci, authorizationServers: [as], originalDraftVersion: 'V1',
    knownCredentialConfigurations: issuer.getKnownCredentialConfigurationsSupported(ci),
  };
}

const sdjwt = new SDJwtVcInstance({
  signer: (data) => nodeCrypto.sign('sha256', Buffer.from(data), { key: privateKeys.get(credentialJwk.x), ...ieee }).toString('base64url'),
  signAlg: 'ES256', hasher: digest, hashAlg: 'sha-256', saltGenerator: generateSalt,
});

// --- state --------------------------------------------------------------------------------
const codes = new Map(); // pre-authorized code -> { txCode }
const nonces = new Set();
const notificationIds = new Set();
const events = { tokens: [], issued: [], notifications: [], resources: [] };

const toHeaders = (req) => {
  const h = new Headers();
  for (const [k, v] of Object.entries(req.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : v);
  return h;
};

async function offer(body) {
  const input = body ? JSON.parse(body) : {};
  const code = nodeCrypto.randomBytes(24).toString('base64url');
  codes.set(code, { txCode: input.tx_code });
  const grant = { 'pre-authorized_code': code };
  if (input.tx_code) grant.tx_code = { length: input.tx_code.length, input_mode: 'numeric' };
  const { credentialOffer } = await issuer.createCredentialOffer({
    issuerMetadata, credentialConfigurationIds: [CONFIG_ID],
    grants: { [preAuthorizedCodeGrantIdentifier]: grant },
  });
  return { offer_uri: credentialOffer };
}

async function token(req, body) {
  const request = { method: 'POST', url: `${BASE}/token`, headers: toHeaders(req) };
  const parsed = authorizationServer.parseAccessTokenRequest({
    accessTokenRequest: Object.fromEntries(new URLSearchParams(body)), request,
  });
  if (parsed.grant.grantType !== preAuthorizedCodeGrantIdentifier) {
    throw new Oauth2ServerErrorResponseError({ error: 'unsupported_grant_type' });
  }
  const code = parsed.grant.preAuthorizedCode;
  const entry = codes.get(code);
  if (!entry) throw new Oauth2ServerErrorResponseError({ error: 'invalid_grant', error_description: 'unknown or used pre-authorized code' });
  const { clientAttestation, dpop } = await authorizationServer.verifyPreAuthorizedCodeAccessTokenRequest({
    authorizationServerMetadata: issuerMetadata.authorizationServers[0], grant: parsed.grant,
    accessTokenRequest: parsed.accessTokenRequest, expectedPreAuthorizedCode: code,
    expectedTxCode: entry.txCode, request,
    clientAttestation: { ...parsed.clientAttestation, required: true },
    dpop: DPOP_REQUIRED ? { ...parsed.dpop, required: true, allowedSigningAlgs: ['ES256'] } : undefined,
  });
  codes.delete(code);
  const payload = clientAttestation.clientAttestation.payload;
  events.tokens.push({ client_id: payload.sub, iss: payload.iss, environment: payload.environment, dpop_jkt: dpop?.jwkThumbprint });
  return authorizationServer.createAccessTokenResponse({
    audience: BASE, authorizationServer: BASE, subject: code, expiresInSeconds: 300,
    signer: { method: 'jwk', alg: 'ES256', publicJwk: pub(accessTokenJwk) },
    clientId: payload.sub, dpop,
  });
}

async function bearer(req, path) {
  // With DPoP required, the library checks the scheme, the proof (htm, htu, ath) and that its
  // key is the token's `cnf.jkt`.
  const verified = await resourceServer.verifyResourceRequest({
    authorizationServers: issuerMetadata.authorizationServers, resourceServer: BASE,
    request: { method: 'POST', url: `${BASE}${path}`, headers: toHeaders(req) },
    allowedAuthenticationSchemes: DPOP_REQUIRED ? ['DPoP'] : ['Bearer'],
  });
  events.resources.push({ path, scheme: verified.scheme });
  return verified;
}

async function credential(req, body) {
  await bearer(req, '/credential');
  const parsed = issuer.parseCredentialRequest({ issuerMetadata, credentialRequest: JSON.parse(body) });
  const jwts = parsed.proofs?.jwt ?? [];
  if (jwts.length === 0) throw new Oauth2ServerErrorResponseError({ error: 'invalid_proof', error_description: 'no proof' });
  const holderKeys = [];
  const used = [];
  for (const jwt of jwts) {
    const nonce = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString() || '{}').nonce;
    if (!nonces.has(nonce)) throw new Oauth2ServerErrorResponseError({ error: 'invalid_nonce' });
    const { signer } = await issuer.verifyCredentialRequestJwtProof({ issuerMetadata, expectedNonce: nonce, jwt });
    holderKeys.push(signer.publicJwk);
    used.push(nonce);
  }
  // Consumed only once every proof verified: a refused request uses up nothing.
  for (const nonce of used) nonces.delete(nonce);
  const now = Math.floor(Date.now() / 1000);
  const credentials = [];
  for (const jwk of holderKeys) {
    const credential = await sdjwt.issue(
      {
        iss: BASE, iat: now, exp: now + 30 * 86400, vct: VCT, cnf: { jwk },
        given_name: 'Erika', family_name: 'Mustermann', role: 'student',
      },
      { _sd: ['given_name', 'family_name', 'role'] },
      { header: { kid: credentialKid } },
    );
    credentials.push({ credential });
    events.issued.push({ cnf_jwk: jwk });
  }
  const notificationId = nodeCrypto.randomBytes(16).toString('base64url');
  notificationIds.add(notificationId);
  return issuer.createCredentialResponse({ credentialRequest: parsed, credentials, notificationId });
}

async function notification(req, body) {
  await bearer(req, '/notification');
  const n = JSON.parse(body);
  if (!notificationIds.has(n.notification_id)) {
    throw new Oauth2ServerErrorResponseError({ error: 'invalid_notification_id' });
  }
  events.notifications.push(n);
}

const send = (res, status, obj) => {
  if (obj === undefined) { res.writeHead(status); res.end(); return; }
  const b = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b), 'cache-control': 'no-store' });
  res.end(b);
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString();
    const route = `${req.method} ${req.url.split('?')[0]}`;
    try {
      switch (route) {
        case 'GET /.well-known/openid-credential-issuer': return send(res, 200, issuerMetadata.credentialIssuer);
        case 'GET /.well-known/oauth-authorization-server': return send(res, 200, issuerMetadata.authorizationServers[0]);
        case 'GET /.well-known/jwt-vc-issuer':
          return send(res, 200, { issuer: BASE, jwks: { keys: [{ ...pub(credentialJwk), kid: credentialKid, use: 'sig', alg: 'ES256' }] } });
        case 'GET /jwks.json': res.writeHead(200, { 'content-type': 'application/jwk-set+json' }); return res.end(jwksJson());
        case 'POST /token': return send(res, 200, await token(req, body));
        case 'POST /nonce': {
          const cNonce = nodeCrypto.randomBytes(16).toString('base64url');
          nonces.add(cNonce);
          return send(res, 200, issuer.createNonceResponse({ cNonce }));
        }
        case 'POST /credential': return send(res, 200, await credential(req, body));
        case 'POST /notification': await notification(req, body); return send(res, 204);
        case 'POST /test/offer': return send(res, 200, await offer(body));
        case 'GET /test/events': return send(res, 200, events);
        default: return send(res, 404, { error: 'not_found' });
      }
    } catch (e) {
      if (e instanceof Oauth2ServerErrorResponseError) send(res, e.status ?? 400, e.errorResponse);
      else if (e instanceof Oauth2ResourceUnauthorizedError) send(res, 401, { error: 'invalid_token', error_description: e.message });
      else send(res, 500, { error: 'server_error', error_description: String(e?.message ?? e) });
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  BASE = `http://127.0.0.1:${server.address().port}`;
  issuerMetadata = metadata();
  console.log(`READY ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
