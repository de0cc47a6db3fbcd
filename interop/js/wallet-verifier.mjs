// A third-party OpenID4VP 1.0 verifier for the wallet core's interop tests: requests made
// with @openid4vc/openid4vp (DCQL; client identifier prefixes x509_san_dns and x509_hash
// with signed request objects, redirect_uri unsigned; response modes direct_post and
// direct_post.jwt), responses parsed and checked by the same library, and the SD-JWT VC
// presentations verified with @sd-jwt/sd-jwt-vc (issuer signature with the issuer's JWKS,
// KB-JWT signature with cnf.jwk, nonce and aud).
//
// Driven by crates/wallet/tests/interop_verifier.rs. Input (environment):
//   ISSUER_JWKS_URL  the credential issuer's JWKS (fetched when a response is verified)
//   VCT              the vct the query asks for
//   CLAIMS           the claims it asks for, comma-separated (default: role,course)
//                    (ISSUER_JWKS_URL may also name JWT VC Issuer Metadata: {issuer, jwks})
//   CERT_DER         base64 DER of the request-signing certificate (SAN dNSName localhost)
//   CERT_KEY_JWK     its private key (P-256 JWK)
// It listens on 127.0.0.1 (a free port; its URLs use http://localhost:<port>, the
// certificate's name) and prints `READY <port>`; it serves until killed.
// Test endpoints: POST /test/request {client_id_prefix, response_mode, by_reference,
// request_uri_method, redirect} → {id, authorization_request}; GET /test/result/<id> → {status, claims?,
// kb?, disclosed?, error?} (disclosed: the names of the disclosures received; status
// `wallet_error` with error, error_description, state_matches, encrypted when the wallet
// sent an error response). The response
// endpoint answers 200 with {redirect_uri} when asked to.

import http from 'node:http';
import * as nodeCrypto from 'node:crypto';
import { Openid4vpVerifier } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/utils';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, ES256 } from '@sd-jwt/crypto-nodejs';
import * as jose from 'jose';

setGlobalConfig({ allowInsecureUrls: true });

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const ISSUER_JWKS_URL = need('ISSUER_JWKS_URL');
const VCT = need('VCT');
const CLAIMS = (process.env.CLAIMS || 'role,course').split(',');
const CERT_DER = need('CERT_DER');
const CERT_KEY = nodeCrypto.createPrivateKey({ key: JSON.parse(need('CERT_KEY_JWK')), format: 'jwk' });
const CERT_HASH = nodeCrypto.createHash('sha256').update(Buffer.from(CERT_DER, 'base64')).digest('base64url');

const b64u = (s) => Buffer.from(s).toString('base64url');
const ieee = { dsaEncoding: 'ieee-p1363' };
const pub = ({ d, ...rest }) => rest;

const callbacks = {
  hash: (data, alg) => nodeCrypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  generateRandom: (n) => nodeCrypto.randomBytes(n),
  signJwt: async (signer, { header, payload }) => {
    if (signer.method !== 'x5c') throw new Error(`unexpected signer ${signer.method}`);
    const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(payload));
    const sig = nodeCrypto.sign('sha256', Buffer.from(input), { key: CERT_KEY, ...ieee }).toString('base64url');
    return { jwt: input + '.' + sig, signerJwk: pub(CERT_KEY.export({ format: 'jwk' })) };
  },
  verifyJwt: async () => ({ verified: false }), // responses here are encrypted, not signed
  decryptJwe: async (jwe, options) => {
    const entry = [...requests.values()].find((r) => r.encKid && r.encKid === options?.jwk?.kid);
    if (!entry) return { decrypted: false };
    try {
      const { plaintext } = await jose.compactDecrypt(jwe, entry.encPrivate);
      return { decrypted: true, payload: new TextDecoder().decode(plaintext), decryptionJwk: options.jwk };
    } catch {
      return { decrypted: false };
    }
  },
};
const verifier = new Openid4vpVerifier({ callbacks });

let BASE;
const requests = new Map(); // id -> { payload, jwt, encPrivate, encKid, redirect, result }

async function createRequest(input) {
  const id = nodeCrypto.randomBytes(12).toString('base64url');
  const responseUri = `${BASE}/response/${id}`;
  const entry = { result: { status: 'pending' }, redirect: Boolean(input.redirect) };
  const payload = {
    response_type: 'vp_token',
    response_mode: input.response_mode,
    response_uri: responseUri,
    nonce: nodeCrypto.randomBytes(16).toString('base64url'),
    state: nodeCrypto.randomBytes(8).toString('base64url'),
    dcql_query: {
      credentials: [{
        id: 'pass', format: 'dc+sd-jwt', meta: { vct_values: [VCT] },
        claims: CLAIMS.map((name) => ({ path: [name] })),
      }],
    },
    client_metadata: {
      vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
    },
  };
  if (input.response_mode === 'direct_post.jwt') {
    const { publicKey, privateKey } = await jose.generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
    entry.encPrivate = privateKey;
    entry.encKid = nodeCrypto.randomBytes(8).toString('base64url');
    const jwk = await jose.exportJWK(publicKey);
    payload.client_metadata.jwks = { keys: [{ ...jwk, kid: entry.encKid, use: 'enc', alg: 'ECDH-ES' }] };
    payload.client_metadata.encrypted_response_enc_values_supported = ['A128GCM', 'A256GCM'];
  }
  let jar;
  switch (input.client_id_prefix) {
    case 'x509_san_dns': payload.client_id = 'x509_san_dns:localhost'; break;
    case 'x509_hash': payload.client_id = `x509_hash:${CERT_HASH}`; break;
    case 'redirect_uri': payload.client_id = `redirect_uri:${responseUri}`; break;
    default: throw new Error(`unknown prefix ${input.client_id_prefix}`);
  }
  if (input.client_id_prefix !== 'redirect_uri') {
    jar = {
      jwtSigner: { method: 'x5c', alg: 'ES256', x5c: [CERT_DER] },
      expiresInSeconds: 300,
      ...(input.by_reference ? { requestUri: `${BASE}/request/${id}` } : {}),
    };
  }
  const created = await verifier.createOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: payload, jar,
  });
  entry.payload = created.authorizationRequestPayload;
  entry.jwt = created.jar?.authorizationRequestJwt;
  entry.jar = jar;
  requests.set(id, entry);
  let link = created.authorizationRequest;
  if (input.request_uri_method === 'post') {
    // The wallet POSTs to request_uri (wallet_metadata, wallet_nonce); the request
    // object is then signed again with its wallet_nonce (see requestObjectForPost).
    entry.post = true;
    const url = new URL(link);
    url.searchParams.set('request_uri_method', 'post');
    link = url.toString();
  }
  return { id, authorization_request: link };
}

// request_uri_method=post: a request object made for this wallet's nonce.
async function requestObjectForPost(entry, form) {
  if (!form.wallet_nonce) throw new Error('wallet_nonce missing');
  entry.walletNonce = form.wallet_nonce;
  entry.walletMetadata = form.wallet_metadata ? JSON.parse(form.wallet_metadata) : undefined;
  const created = await verifier.createOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: entry.payload,
    jar: { ...entry.jar, additionalJwtPayload: { aud: 'https://self-issued.me/v2', wallet_nonce: form.wallet_nonce } },
  });
  return created.jar.authorizationRequestJwt;
}

async function issuerVerifier(credentialJwt) {
  const header = JSON.parse(Buffer.from(credentialJwt.split('.')[0], 'base64url').toString());
  const document = await (await fetch(ISSUER_JWKS_URL)).json();
  const jwks = document.jwks ?? document;
  const jwk = (jwks.keys ?? []).find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`issuer key ${header.kid} not in the issuer's JWKS`);
  return ES256.getVerifier(jwk);
}

async function response(id, form) {
  const entry = requests.get(id);
  if (!entry) return [404, { error: 'invalid_request', error_description: 'unknown request' }];
  if (entry.result.status !== 'pending') return [400, { error: 'invalid_request', error_description: 'already answered' }];
  // An error response (OpenID4VP 1.0 §8.5): the library parses only vp_token responses,
  // so the error is read here, decrypted first when it came as direct_post.jwt.
  let fields = form;
  if (form.response && entry.encPrivate) {
    try {
      const { plaintext } = await jose.compactDecrypt(form.response, entry.encPrivate);
      const payload = JSON.parse(new TextDecoder().decode(plaintext));
      if (payload.error) fields = payload;
    } catch { /* not an error response: the library decides below */ }
  }
  if (fields.error) {
    entry.result = {
      status: 'wallet_error', error: fields.error, error_description: fields.error_description ?? null,
      state_matches: fields.state === entry.payload.state, encrypted: fields !== form,
    };
    return [200, {}];
  }
  try {
    const parsed = await verifier.parseOpenid4vpAuthorizationResponse({
      authorizationResponse: form, authorizationRequestPayload: entry.payload, callbacks,
    });
    if (parsed.type !== 'dcql') throw new Error(`unexpected response type ${parsed.type}`);
    const presentations = parsed.dcql.presentations.pass;
    if (!Array.isArray(presentations) || presentations.length !== 1) throw new Error('one presentation for `pass` expected');
    const presentation = presentations[0];
    const sdjwt = new SDJwtVcInstance({
      hasher: digest, hashAlg: 'sha-256',
      verifier: await issuerVerifier(presentation.split('~')[0]),
      kbVerifier: async (data, signature, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, signature),
      statusListFetcher: async (uri) => (await fetch(uri)).text(),
    });
    const verified = await sdjwt.verify(presentation, { keyBindingNonce: entry.payload.nonce });
    if (verified.header?.typ !== 'dc+sd-jwt') throw new Error(`typ is ${verified.header?.typ}`);
    if (verified.kb?.payload?.aud !== entry.payload.client_id) {
      throw new Error(`KB-JWT aud ${verified.kb?.payload?.aud} is not the client_id ${entry.payload.client_id}`);
    }
    if (verified.payload.vct !== VCT) throw new Error(`vct ${verified.payload.vct}`);
    // The names of the disclosures the wallet sent, as the library decodes them.
    const { disclosures } = await sdjwt.decode(presentation);
    const disclosed = (disclosures ?? []).map((d) => d.key ?? '(array element)').sort();
    entry.result = {
      status: 'verified', claims: verified.payload, kb: verified.kb.payload, disclosed,
      encrypted: Boolean(parsed.jarm), wallet_nonce: entry.walletNonce ?? null,
      wallet_metadata: entry.walletMetadata ?? null,
    };
  } catch (e) {
    entry.result = { status: 'rejected', error: String(e?.message ?? e) };
    return [400, { error: 'invalid_request', error_description: entry.result.error }];
  }
  return [200, entry.redirect ? { redirect_uri: `${BASE}/done/${id}` } : {}];
}

const send = (res, status, obj, type = 'application/json') => {
  const b = typeof obj === 'string' ? obj : JSON.stringify(obj);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(b), 'cache-control': 'no-store' });
  res.end(b);
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString();
    const path = req.url.split('?')[0];
    const [, first, id] = path.split('/');
    try {
      if (req.method === 'POST' && path === '/test/request') return send(res, 200, await createRequest(JSON.parse(body)));
      if (req.method === 'GET' && first === 'test' && path.startsWith('/test/result/')) {
        const entry = requests.get(path.slice('/test/result/'.length));
        return entry ? send(res, 200, entry.result) : send(res, 404, { error: 'not_found' });
      }
      if (first === 'request') {
        const entry = requests.get(id);
        if (!entry?.jwt) return send(res, 404, { error: 'not_found' });
        if (Boolean(entry.post) !== (req.method === 'POST')) return send(res, 405, { error: 'invalid_request' });
        const jwt = entry.post ? await requestObjectForPost(entry, Object.fromEntries(new URLSearchParams(body))) : entry.jwt;
        return send(res, 200, jwt, 'application/oauth-authz-req+jwt');
      }
      if (req.method === 'POST' && first === 'response') {
        const [status, answer] = await response(id, Object.fromEntries(new URLSearchParams(body)));
        return send(res, status, answer);
      }
      return send(res, 404, { error: 'not_found' });
    } catch (e) {
      return send(res, 500, { error: 'server_error', error_description: String(e?.message ?? e) });
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  BASE = `http://localhost:${server.address().port}`;
  console.log(`READY ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
