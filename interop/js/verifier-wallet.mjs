// A third-party wallet answering a Symbolon verifier: the OpenID4VP client of
// @openid4vc/openid4vp (request resolution with x5c checks, JAR, request_uri_method
// get/post with wallet_nonce, direct_post and direct_post.jwt) and SD-JWT VCs issued and
// presented with @sd-jwt/sd-jwt-vc.
//
// Input (JSON on stdin):
//   authorization_request  the openid4vp:// link from POST /transactions
//   issuer_jwk, issuer_kid the issuer's private JWK (the test's issuer, trusted by the verifier)
//   holder_jwk             the holder's private P-256 JWK
//   iss, vct, status       credential contents (status: {idx, uri} or null)
//   trusted_cert           base64 DER of the verifier certificate the wallet trusts (pinned)
//   wallet_nonce           for request_uri_method=post (sent with wallet_metadata)
//   replay                 submit the same response twice
// Output (JSON on stdout): {client_id, status, body, replay?: {status, body}}
import * as nodeCrypto from 'node:crypto';
import {
  parseOpenid4vpAuthorizationRequest,
  resolveOpenid4vpAuthorizationRequest,
  createOpenid4vpAuthorizationResponse,
  submitOpenid4vpAuthorizationResponse,
} from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/utils';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, generateSalt, ES256 } from '@sd-jwt/crypto-nodejs';
import * as jose from 'jose';

// The test verifier runs on http://localhost.
setGlobalConfig({ allowInsecureUrls: true });

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

const pub = ({ d, ...rest }) => rest;
const now = () => Math.floor(Date.now() / 1000);

// --- issue the credential the holder will present --------------------------------------
const sdjwt = new SDJwtVcInstance({
  hasher: digest,
  hashAlg: 'sha-256',
  saltGenerator: generateSalt,
  signer: await ES256.getSigner(input.issuer_jwk),
  signAlg: 'ES256',
  kbSigner: await ES256.getSigner(input.holder_jwk),
  kbSignAlg: 'ES256',
});
const claims = {
  iss: input.iss,
  vct: input.vct,
  iat: now() - 60,
  exp: now() + 86400,
  cnf: { jwk: pub(input.holder_jwk) },
  role: 'student',
  course: 'Immersive Physics 101',
  given_name: 'Erika',
};
if (input.status) claims.status = { status_list: input.status };
const credential = await sdjwt.issue(
  claims,
  { _sd: ['role', 'course', 'given_name'] },
  { header: { kid: input.issuer_kid } },
);

// --- the wallet's crypto callbacks ---------------------------------------------------
const callbacks = {
  fetch: globalThis.fetch,
  hash: (data, alg) => new Uint8Array(nodeCrypto.createHash(alg === 'sha-384' ? 'sha384' : 'sha256').update(data).digest()),
  generateRandom: (n) => new Uint8Array(nodeCrypto.randomBytes(n)),
  getX509CertificateMetadata: (certificate) => {
    const cert = new nodeCrypto.X509Certificate(Buffer.from(certificate, 'base64'));
    const names = (cert.subjectAltName ?? '').split(',').map((s) => s.trim());
    return {
      sanDnsNames: names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)),
      sanUriNames: names.filter((n) => n.startsWith('URI:')).map((n) => n.slice(4)),
    };
  },
  verifyJwt: async (signer, { compact }) => {
    if (signer.method !== 'x5c') return { verified: false };
    // Trust: the leaf must be the certificate this wallet was configured with.
    if (signer.x5c[0] !== input.trusted_cert) return { verified: false };
    const cert = new nodeCrypto.X509Certificate(Buffer.from(signer.x5c[0], 'base64'));
    try {
      await jose.compactVerify(compact, cert.publicKey);
    } catch {
      return { verified: false };
    }
    return { verified: true, signerJwk: cert.publicKey.export({ format: 'jwk' }) };
  },
  encryptJwe: async (encryptor, data) => {
    const key = await jose.importJWK(encryptor.publicJwk, 'ECDH-ES');
    const jwe = new jose.CompactEncrypt(new TextEncoder().encode(data)).setProtectedHeader({
      alg: encryptor.alg,
      enc: encryptor.enc,
      kid: encryptor.publicJwk.kid,
    });
    const params = {};
    if (encryptor.apu) params.apu = jose.base64url.decode(encryptor.apu);
    if (encryptor.apv) params.apv = jose.base64url.decode(encryptor.apv);
    jwe.setKeyManagementParameters(params);
    return { encryptionJwk: encryptor.publicJwk, jwe: await jwe.encrypt(key) };
  },
  signJwt: async () => { throw new Error('the wallet signs no JWTs here'); },
  decryptJwe: async () => ({ decrypted: false }),
};

// --- resolve the request ---------------------------------------------------------------
const parsed = parseOpenid4vpAuthorizationRequest({ authorizationRequest: input.authorization_request });
const walletMetadata = {
  vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
  client_id_prefixes_supported: ['x509_san_dns', 'x509_hash', 'redirect_uri'],
  request_object_signing_alg_values_supported: ['ES256'],
  authorization_encryption_alg_values_supported: ['ECDH-ES'],
  authorization_encryption_enc_values_supported: ['A128GCM', 'A256GCM'],
};
const post = parsed.params.request_uri_method === 'post';
const resolved = await resolveOpenid4vpAuthorizationRequest({
  authorizationRequestPayload: parsed.params,
  // The library (0.4.6) posts `wallet.metadata` itself as the form fields, so it gets the
  // §5.10 fields; `expectedNonce` makes it check the echoed `wallet_nonce`.
  wallet: post
    ? {
        metadata: { wallet_metadata: JSON.stringify(walletMetadata), wallet_nonce: input.wallet_nonce },
        nonce: input.wallet_nonce,
        expectedNonce: input.wallet_nonce,
      }
    : undefined,
  callbacks,
});
const request = resolved.authorizationRequestPayload;

// --- present what the DCQL query asks for ---------------------------------------------
const vpToken = {};
for (const query of resolved.dcql.query.credentials) {
  const frame = {};
  for (const c of query.claims ?? []) frame[c.path[0]] = true;
  vpToken[query.id] = [
    await sdjwt.present(credential, frame, {
      kb: { payload: { iat: now(), aud: request.client_id, nonce: request.nonce } },
    }),
  ];
}

const encrypted = request.response_mode === 'direct_post.jwt';
const response = await createOpenid4vpAuthorizationResponse({
  authorizationRequestPayload: request,
  authorizationResponsePayload: { vp_token: vpToken },
  jarm: encrypted
    ? {
        encryption: { nonce: nodeCrypto.randomBytes(16).toString('base64url') },
        serverMetadata: {
          authorization_signing_alg_values_supported: ['ES256'],
          authorization_encryption_alg_values_supported: ['ECDH-ES'],
          authorization_encryption_enc_values_supported: ['A128GCM', 'A256GCM'],
        },
      }
    : undefined,
  callbacks,
});

async function submit() {
  const { response: r } = await submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: response.authorizationResponsePayload,
    jarm: response.jarm ? { responseJwt: response.jarm.responseJwt } : undefined,
    callbacks,
  });
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: r.status, body };
}

const first = await submit();
const out = { client_id: request.client_id, response_mode: request.response_mode, ...first };
if (input.replay) out.replay = await submit();
process.stdout.write(JSON.stringify(out));
