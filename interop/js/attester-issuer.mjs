// Interop: the authorization server of @openid4vc/oauth2 (oid4vc-ts), configured to trust a
// Symbolon attester's key, accepts a pre-authorized-code token request authenticated with a
// client attestation from that attester and a PoP by the wallet's CI-Key.
//
// Driven by crates/attester/tests/interop.rs. Input (environment):
//   ATTESTER_JWKS_URL  the attester's /.well-known/jwks.json (fetched once at start: the
//                      only keys trusted for client attestations, by kid), and/or
//   ATTESTER_ANCHORS   a PEM file of trust anchors: an attestation carrying `x5c` is
//                      trusted when its chain (each certificate issued and signed by the
//                      next, all within validity) ends at or under one of them — what a
//                      generic issuer without the attester's JWKS does
//   AS_ISSUER          this authorization server's issuer identifier (the PoP `aud`)
//   CODE               the one pre-authorized code it accepts
// It listens on 127.0.0.1 (a free port) and prints `READY <port>` on stdout; POST /token
// answers the token response plus `attested`: the verified attestation's client id,
// attester and environment claims. Errors are the library's OAuth error responses.
// It serves until killed.

import http from 'node:http';
import fs from 'node:fs';
import * as nodeCrypto from 'node:crypto';
import {
  Oauth2AuthorizationServer, Oauth2ServerErrorResponseError, preAuthorizedCodeGrantIdentifier,
  clientAuthenticationNone, setGlobalConfig,
} from '@openid4vc/oauth2';

setGlobalConfig({ allowInsecureUrls: true });

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const JWKS_URL = process.env.ATTESTER_JWKS_URL;
const ANCHORS = process.env.ATTESTER_ANCHORS;
if (!JWKS_URL && !ANCHORS) throw new Error('ATTESTER_JWKS_URL or ATTESTER_ANCHORS is required');
const AS_ISSUER = need('AS_ISSUER');
const CODE = need('CODE');

// Trust: exactly the attester's published keys, by kid.
const trusted = new Map();
if (JWKS_URL) {
  const jwks = await (await fetch(JWKS_URL)).json();
  for (const k of jwks.keys ?? []) {
    if (!k.kid || k.d) throw new Error('attester JWKS must hold public keys with kid');
    const { x5c, ...jwk } = k;
    trusted.set(k.kid, { jwk, key: nodeCrypto.createPublicKey({ key: jwk, format: 'jwk' }) });
  }
  if (trusted.size === 0) throw new Error('attester JWKS has no keys');
}
// And/or: X.509 trust anchors for x5c attestations.
const anchors = ANCHORS
  ? (fs.readFileSync(ANCHORS, 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [])
    .map((pem) => new nodeCrypto.X509Certificate(pem))
  : [];
if (ANCHORS && anchors.length === 0) throw new Error('ATTESTER_ANCHORS holds no certificate');

// The leaf key of an x5c chain that leads to an anchor, or null.
const anchoredLeafKey = (x5c) => {
  if (!Array.isArray(x5c) || x5c.length === 0) return null;
  const certs = x5c.map((c) => new nodeCrypto.X509Certificate(Buffer.from(c, 'base64')));
  const now = new Date();
  if (certs.some((c) => new Date(c.validFrom) > now || new Date(c.validTo) < now)) return null;
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i].checkIssued(certs[i + 1]) || !certs[i].verify(certs[i + 1].publicKey)) return null;
  }
  const top = certs[certs.length - 1];
  const anchored = anchors.some((a) => a.fingerprint256 === top.fingerprint256
    || (top.checkIssued(a) && top.verify(a.publicKey)));
  return anchored ? certs[0].publicKey : null;
};

const accessTokenJwk = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const accessTokenKey = nodeCrypto.createPrivateKey({ key: accessTokenJwk, format: 'jwk' });
const pub = ({ d, ...rest }) => rest;
const b64u = (s) => Buffer.from(s).toString('base64url');
const ieee = { dsaEncoding: 'ieee-p1363' };

const verifyEs256 = (key, compact) => {
  const dot = compact.lastIndexOf('.');
  return nodeCrypto.verify('sha256', Buffer.from(compact.slice(0, dot)), { key, ...ieee },
    Buffer.from(compact.slice(dot + 1), 'base64url'));
};

const callbacks = {
  hash: (data, alg) => nodeCrypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  generateRandom: (n) => nodeCrypto.randomBytes(n),
  clientAuthentication: clientAuthenticationNone({ clientId: 'unused' }),
  signJwt: async (signer, { header, payload }) => {
    const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(payload));
    const sig = nodeCrypto.sign('sha256', Buffer.from(input), { key: accessTokenKey, ...ieee }).toString('base64url');
    return { jwt: input + '.' + sig, signerJwk: signer.publicJwk };
  },
  verifyJwt: async (signer, { compact }) => {
    if (signer.alg !== 'ES256') return { verified: false };
    if (signer.method === 'x5c') {
      // The client attestation with a certificate chain: trusted through the anchors only.
      const key = anchoredLeafKey(signer.x5c);
      if (!key) return { verified: false };
      return verifyEs256(key, compact) ? { verified: true, signerJwk: key.export({ format: 'jwk' }) } : { verified: false };
    }
    if (signer.method === 'custom') {
      // The client attestation: its kid must name a trusted attester key.
      const t = trusted.get(signer.kid);
      if (!t) return { verified: false };
      return verifyEs256(t.key, compact) ? { verified: true, signerJwk: t.jwk } : { verified: false };
    }
    if (signer.method === 'jwk') {
      // The PoP: signed by the attested cnf key.
      const key = nodeCrypto.createPublicKey({ key: signer.publicJwk, format: 'jwk' });
      return verifyEs256(key, compact) ? { verified: true, signerJwk: signer.publicJwk } : { verified: false };
    }
    return { verified: false };
  },
};

const as = new Oauth2AuthorizationServer({ callbacks });
const metadata = as.createAuthorizationServerMetadata({
  issuer: AS_ISSUER, token_endpoint: `${AS_ISSUER}/token`,
  'pre-authorized_grant_anonymous_access_supported': true,
  token_endpoint_auth_methods_supported: ['attest_jwt_client_auth'],
});

async function token(req, body) {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const request = { method: 'POST', url: `${AS_ISSUER}/token`, headers };
  const parsed = as.parseAccessTokenRequest({ accessTokenRequest: Object.fromEntries(new URLSearchParams(body)), request });
  if (parsed.grant.grantType !== preAuthorizedCodeGrantIdentifier) {
    throw new Oauth2ServerErrorResponseError({ error: 'unsupported_grant_type' });
  }
  const { clientAttestation } = await as.verifyPreAuthorizedCodeAccessTokenRequest({
    authorizationServerMetadata: metadata, grant: parsed.grant, accessTokenRequest: parsed.accessTokenRequest,
    expectedPreAuthorizedCode: CODE, request,
    clientAttestation: { ...parsed.clientAttestation, required: true },
  });
  const payload = clientAttestation.clientAttestation.payload;
  const response = await as.createAccessTokenResponse({
    audience: AS_ISSUER, authorizationServer: AS_ISSUER, subject: CODE, expiresInSeconds: 300,
    signer: { method: 'jwk', alg: 'ES256', publicJwk: pub(accessTokenJwk) },
    clientId: payload.sub,
  });
  return { ...response, attested: { client_id: payload.sub, iss: payload.iss, environment: payload.environment } };
}

const send = (res, status, obj) => {
  const b = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
  res.end(b);
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      if (req.method === 'POST' && req.url === '/token') send(res, 200, await token(req, Buffer.concat(chunks).toString()));
      else send(res, 404, { error: 'not_found' });
    } catch (e) {
      if (e instanceof Oauth2ServerErrorResponseError) send(res, e.status ?? 400, e.errorResponse);
      else send(res, 500, { error: 'server_error', error_description: String(e?.message ?? e) });
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(`READY ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
