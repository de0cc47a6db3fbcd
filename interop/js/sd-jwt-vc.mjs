// SD-JWT VC interop with @sd-jwt/sd-jwt-vc (+ @sd-jwt/crypto-nodejs) for the sd-jwt crate's
// tests: issue a credential, present one with a Key Binding JWT, or verify one.
//
// Input (JSON on stdin), by `op`:
//   issue    issuer_jwk (private), holder_jwk (public), claims, frame (@sd-jwt disclosure
//            frame, e.g. {"_sd":["given_name"],"address":{"_sd":["locality"]}}), kid?
//            -> {"credential": "<JWT>~<D>~…~"}
//   present  credential, holder_jwk (private), frame (presentation frame, e.g.
//            {"given_name":true,"address":{"locality":true}}), aud, nonce
//            -> {"presentation": "<SD-JWT+KB>"}
//   verify   sd_jwt, issuer_jwk (public), aud?, nonce? (with them a KB-JWT is required and
//            checked, including `aud`, which the library leaves to the caller)
//            -> {"ok": true, "claims": {…}, "kb": {…}|null} or {"ok": false, "error": "…"}
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, generateSalt, ES256 } from '@sd-jwt/crypto-nodejs';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const now = () => Math.floor(Date.now() / 1000);

async function issue() {
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
    signer: await ES256.getSigner(input.issuer_jwk),
    signAlg: 'ES256',
  });
  const claims = { ...input.claims, cnf: { jwk: input.holder_jwk } };
  const header = input.kid ? { kid: input.kid } : {};
  return { credential: await sdjwt.issue(claims, input.frame, { header }) };
}

async function present() {
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    kbSigner: await ES256.getSigner(input.holder_jwk),
    kbSignAlg: 'ES256',
  });
  const presentation = await sdjwt.present(input.credential, input.frame, {
    kb: { payload: { iat: now(), aud: input.aud, nonce: input.nonce } },
  });
  return { presentation };
}

async function verify() {
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    verifier: await ES256.getVerifier(input.issuer_jwk),
    // The holder key comes from the credential's cnf.jwk.
    kbVerifier: async (data, signature, payload) => {
      const verify = await ES256.getVerifier(payload.cnf.jwk);
      return verify(data, signature);
    },
  });
  try {
    const options = input.nonce ? { keyBindingNonce: input.nonce } : {};
    const result = await sdjwt.verify(input.sd_jwt, options);
    if (input.nonce && result.kb?.payload?.aud !== input.aud) {
      return { ok: false, error: 'KB-JWT aud does not match' };
    }
    if (result.header?.typ !== 'dc+sd-jwt') {
      return { ok: false, error: `typ is ${result.header?.typ}` };
    }
    return { ok: true, claims: result.payload, kb: result.kb?.payload ?? null };
  } catch (e) {
    return { ok: false, error: String(e?.message ?? e) };
  }
}

const ops = { issue, present, verify };
if (!ops[input.op]) {
  console.error(`unknown op ${input.op}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(await ops[input.op]()));
