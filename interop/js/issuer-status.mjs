// Interop: decodes a Symbolon issuer's Status List Token with @sd-jwt/jwt-status-list, after
// checking its signature with the issuer's published key (by kid) and its header and claims.
//
// Usage: node issuer-status.mjs <status list uri> <index> <jwt-vc-issuer metadata url>
// Prints one JSON line {status, bits, ttl, exp, kid}; exits non-zero on any failure.

import * as nodeCrypto from 'node:crypto';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';

const [uri, idx, metadataUrl] = process.argv.slice(2);
if (!uri || idx === undefined || !metadataUrl) throw new Error('usage: issuer-status.mjs <uri> <idx> <metadata url>');

const response = await fetch(uri, { headers: { Accept: 'application/statuslist+jwt' } });
if (!response.ok) throw new Error('status list fetch: ' + response.status);
if (!response.headers.get('content-type')?.startsWith('application/statuslist+jwt')) throw new Error('content type ' + response.headers.get('content-type'));
const jwt = await response.text();
const [h, p, s] = jwt.split('.');
const header = JSON.parse(Buffer.from(h, 'base64url'));
const payload = JSON.parse(Buffer.from(p, 'base64url'));
if (header.typ !== 'statuslist+jwt') throw new Error('typ ' + header.typ);
if (payload.sub !== uri) throw new Error('sub ' + payload.sub);
const metadata = await (await fetch(metadataUrl)).json();
const jwk = metadata.jwks.keys.find((k) => k.kid === header.kid);
if (!jwk) throw new Error('status list signed by an unpublished key ' + header.kid);
const ok = nodeCrypto.verify('sha256', Buffer.from(`${h}.${p}`),
  { key: nodeCrypto.createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
if (!ok) throw new Error('status list signature does not verify');
const list = getListFromStatusListJWT(jwt);
console.log(JSON.stringify({ status: list.getStatus(Number(idx)), bits: list.getBitsPerStatus(), ttl: payload.ttl, exp: payload.exp, kid: header.kid }));
