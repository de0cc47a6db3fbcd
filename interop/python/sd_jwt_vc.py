"""SD-JWT VC interop with the Python `sd-jwt` reference implementation, for the sd-jwt
crate's tests: issue a credential, present one with a Key Binding JWT, or verify one.

Input (JSON on stdin), by "op":
  issue    issuer_jwk (private), holder_jwk (public), claims with markers ("!sd:NAME"
           members and {"!sd": VALUE} array elements are selectively disclosable), kid?
                                               -> {"credential": "<JWT>~<D>~...~"}
  present  credential, holder_jwk (private), disclose (the reference implementation's
           selection, e.g. {"given_name": true, "address": {"locality": true}}), aud, nonce
                                               -> {"presentation": "<SD-JWT+KB>"}
  verify   sd_jwt, issuer_jwk (public), aud?, nonce? (with them the KB-JWT is checked)
           -> {"ok": true, "claims": {...}} or {"ok": false, "error": "..."}
"""

import json
import sys

from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier


def jwk(value):
    return JWK.from_json(json.dumps(value))


def marked(value):
    """The claims with the library's SDObj markers: a member named "!sd:NAME" becomes the
    selectively disclosable member NAME, an array element {"!sd": VALUE} a selectively
    disclosable element."""
    if isinstance(value, list):
        return [marked(v) for v in value]
    if isinstance(value, dict):
        if list(value.keys()) == ["!sd"]:
            return SDObj(marked(value["!sd"]))
        out = {}
        for key, inner in value.items():
            if key.startswith("!sd:"):
                out[SDObj(key[4:])] = marked(inner)
            else:
                out[key] = marked(inner)
        return out
    return value


def issue(req):
    header = {"typ": "dc+sd-jwt"}
    if req.get("kid"):
        header["kid"] = req["kid"]
    issuer = SDJWTIssuer(
        marked(req["claims"]),
        jwk(req["issuer_jwk"]),
        holder_key=jwk(req["holder_jwk"]),
        sign_alg="ES256",
        extra_header_parameters=header,
    )
    return {"credential": issuer.sd_jwt_issuance}


def present(req):
    holder = SDJWTHolder(req["credential"], serialization_format="compact")
    holder.create_presentation(
        req["disclose"],
        nonce=req["nonce"],
        aud=req["aud"],
        holder_key=jwk(req["holder_jwk"]),
        sign_alg="ES256",
    )
    return {"presentation": holder.sd_jwt_presentation}


def verify(req):
    key = jwk(req["issuer_jwk"])
    try:
        verifier = SDJWTVerifier(
            req["sd_jwt"],
            lambda _iss, _header: key,
            expected_aud=req.get("aud"),
            expected_nonce=req.get("nonce"),
        )
        return {"ok": True, "claims": verifier.get_verified_payload()}
    except Exception as e:  # every refusal is reported, whatever its class
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}


def main():
    req = json.load(sys.stdin)
    ops = {"issue": issue, "present": present, "verify": verify}
    if req.get("op") not in ops:
        sys.exit(f"unknown op {req.get('op')}")
    json.dump(ops[req["op"]](req), sys.stdout)


if __name__ == "__main__":
    main()
