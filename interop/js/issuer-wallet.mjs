// Interop: the wallet client of @openid4vc/openid4vci + @openid4vc/oauth2 runs the
// pre-authorized code flow with Attestation-Based Client Authentication against a Symbolon
// issuer, and the credential it receives is verified with @sd-jwt/sd-jwt-vc (signature with
// the key from the issuer's JWT VC Issuer Metadata, and status through the status list).
//
// The library is used as any wallet would use it, through its public API and callbacks
// only: no wrapped `fetch`, no extra headers. Client authentication (the attestation and
// its PoP) is the library's own `clientAuthentication` callback, which it calls at the
// token endpoint; at the credential and notification endpoints it sends the access token
// (Bearer, or DPoP with its own proofs and `DPoP-Nonce` retries when given a `dpop` signer).
//
// Driven by crates/issuer/tests/interop.rs. Input (environment):
//   OFFER_URI      the openid-credential-offer:// URI from the admin API
//   TX_CODE        the transaction code, when the offer has one
//   ATTESTER_JWK   private JWK of an attester the issuer trusts (a test key)
//   CLIENT_ID      the wallet's client_id (attestation `sub`)
//   DPOP           `auto` (default): use DPoP when the AS metadata offers it
//                  (`dpop_signing_alg_values_supported`); `never`: do not, even then
// Output: one JSON line on stdout {credential, claims, status: {uri, idx}, notification,
// token_type, dpop}. Any failure exits non-zero with the reason on stderr.

import * as nodeCrypto from 'node:crypto';
import {
  clientAuthenticationClientAttestationJwt, createClientAttestationJwt, setGlobalConfig,
} from '@openid4vc/oauth2';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';

// Loopback http issuer identifiers in the test.
setGlobalConfig({ allowInsecureUrls: true });

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const OFFER_URI = need('OFFER_URI');
const CLIENT_ID = need('CLIENT_ID');
const ATTESTER_JWK = JSON.parse(need('ATTESTER_JWK'));
const TX_CODE = process.env.TX_CODE || undefined;
const DPOP = process.env.DPOP || 'auto';
if (!['auto', 'never'].includes(DPOP)) throw new Error('DPOP must be auto or never');

const pub = ({ d, ...rest }) => rest;
const b64u = (s) => Buffer.from(s).toString('base64url');
const newKey = () => nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const instanceJwk = newKey(); // client instance key (attestation cnf, PoPs)
const holderJwk = newKey();   // holder key (proof, credential cnf)
const dpopJwk = newKey();     // DPoP key (token binding), when DPoP is used
const privateByX = new Map([instanceJwk, holderJwk, dpopJwk, ATTESTER_JWK].map((k) => [k.x, nodeCrypto.createPrivateKey({ key: k, format: 'jwk' })]));
const sign = (key, input) => nodeCrypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
const verifyWith = (jwk, input, signature) => nodeCrypto.verify('sha256', Buffer.from(input),
  { key: nodeCrypto.createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));

const baseCallbacks = {
  hash: (data, alg) => nodeCrypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  generateRandom: (n) => nodeCrypto.randomBytes(n),
  signJwt: async (signer, { header, payload }) => {
    let key;
    if (signer.method === 'jwk') key = privateByX.get(signer.publicJwk.x);
    else if (signer.method === 'custom' && signer.kid === 'test-attester') key = privateByX.get(ATTESTER_JWK.x);
    if (!key) throw new Error('no key for signer ' + JSON.stringify(signer));
    const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(payload));
    return { jwt: input + '.' + sign(key, input), signerJwk: signer.publicJwk };
  },
  verifyJwt: async () => ({ verified: false }),
};

// The attester: a client attestation for the instance key, with Symbolon's environment
// claims (what the issuer's policy checks).
const now = Math.floor(Date.now() / 1000);
const clientAttestationJwt = await createClientAttestationJwt({
  issuer: 'https://attester.example',
  clientId: CLIENT_ID,
  issuedAt: new Date((now - 5) * 1000),
  expiresAt: new Date((now + 3600) * 1000),
  confirmation: { jwk: pub(instanceJwk) },
  signer: { method: 'custom', alg: 'ES256', kid: 'test-attester' },
  additionalPayload: {
    environment: { evidence: 'kubernetes', key_protection: 'pkcs11', namespace: 'cvm-wallets', service_account: 'wallet-sa' },
    wallet_name: 'oid4vc-ts interop wallet',
  },
  callbacks: baseCallbacks,
});

const clientAuthentication = clientAuthenticationClientAttestationJwt({ clientAttestationJwt, callbacks: baseCallbacks });
const callbacks = { ...baseCallbacks, clientAuthentication };

const client = new Openid4vciClient({ callbacks });
const offer = await client.resolveCredentialOffer(OFFER_URI);
const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
const configurationId = offer.credential_configuration_ids[0];

// DPoP as a wallet decides it: offered by the authorization server, with an algorithm we have.
const dpopAlgs = issuerMetadata.authorizationServers?.[0]?.dpop_signing_alg_values_supported ?? [];
const useDpop = DPOP === 'auto' && dpopAlgs.includes('ES256');
const dpopSigner = { method: 'jwk', alg: 'ES256', publicJwk: pub(dpopJwk) };

const tokenResult = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
  credentialOffer: offer, issuerMetadata, txCode: TX_CODE,
  dpop: useDpop ? { signer: dpopSigner } : undefined,
});
const { accessTokenResponse } = tokenResult;
if (accessTokenResponse.token_type !== (useDpop ? 'DPoP' : 'Bearer')) {
  throw new Error('token_type ' + accessTokenResponse.token_type);
}
if ('c_nonce' in accessTokenResponse) throw new Error('OpenID4VCI 1.0 token responses carry no c_nonce');
const { c_nonce } = await client.requestNonce({ issuerMetadata });
const { jwt: proof } = await client.createCredentialRequestJwtProof({
  issuerMetadata, credentialConfigurationId: configurationId, nonce: c_nonce, issuedAt: new Date(),
  signer: { method: 'jwk', alg: 'ES256', publicJwk: pub(holderJwk) },
});
// The library carries the latest DPoP nonce from response to request (`dpop.nonce`).
const { credentialResponse, dpop: credentialDpop } = await client.retrieveCredentials({
  issuerMetadata, accessToken: accessTokenResponse.access_token, credentialConfigurationId: configurationId,
  proofs: { jwt: [proof] },
  dpop: useDpop ? { signer: dpopSigner, nonce: tokenResult.dpop?.nonce } : undefined,
});
const credential = credentialResponse.credentials[0].credential;

// Verify with @sd-jwt/sd-jwt-vc: the issuer key comes from the JWT VC Issuer Metadata
// (path insertion), chosen by the header's kid; the status list is fetched and checked too.
const issuerUrl = new URL(offer.credential_issuer);
const jwtVcIssuer = await (await fetch(`${issuerUrl.origin}/.well-known/jwt-vc-issuer${issuerUrl.pathname === '/' ? '' : issuerUrl.pathname}`)).json();
if (jwtVcIssuer.issuer !== offer.credential_issuer) throw new Error('JWT VC Issuer Metadata names another issuer');
const verifier = async (data, signature) => {
  const header = JSON.parse(Buffer.from(data.split('.')[0], 'base64url'));
  const jwk = jwtVcIssuer.jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error('unknown kid ' + header.kid);
  return verifyWith(jwk, data, signature);
};
const statusChecked = [];
const sdjwt = new SDJwtVcInstance({
  hasher: digest, verifier,
  statusValidator: async (status) => { statusChecked.push(status); if (status !== 0) throw new Error('status ' + status); },
});
const verified = await sdjwt.verify(credential);
const claims = await sdjwt.getClaims(credential);
if (verified.header.typ !== 'dc+sd-jwt') throw new Error('typ ' + verified.header.typ);
if (claims.cnf.jwk.x !== holderJwk.x || claims.cnf.jwk.y !== holderJwk.y || claims.cnf.jwk.crv !== holderJwk.crv) {
  throw new Error('cnf is not the holder key');
}
if (statusChecked.length !== 1 || statusChecked[0] !== 0) throw new Error('status list was not checked');

// Decode the status list token on its own too.
const statusJwt = await (await fetch(claims.status.status_list.uri, { headers: { Accept: 'application/statuslist+jwt' } })).text();
const list = getListFromStatusListJWT(statusJwt);
const statusNow = list.getStatus(claims.status.status_list.idx);

await client.sendNotification({
  issuerMetadata, accessToken: accessTokenResponse.access_token,
  notification: { notificationId: credentialResponse.notification_id, event: 'credential_accepted' },
  dpop: useDpop ? { signer: dpopSigner, nonce: credentialDpop?.nonce } : undefined,
});

console.log(JSON.stringify({
  credential,
  claims,
  status: { ...claims.status.status_list, value: statusNow },
  notification: credentialResponse.notification_id,
  token_type: accessTokenResponse.token_type,
  dpop: useDpop,
}));
