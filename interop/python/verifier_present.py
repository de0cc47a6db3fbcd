"""Presentation of an SD-JWT VC with the Python `sd-jwt` reference implementation, for
Symbolon's verifier interop tests.

Input (JSON on stdin):
  credential   the issued SD-JWT (compact)
  holder_jwk   the holder's private JWK (the credential's cnf key)
  nonce, aud   the request's nonce and full client_id (KB-JWT claims)
  disclose     top-level claim names to disclose
Output (JSON on stdout): {"presentation": "<SD-JWT+KB>"}
"""

import json
import sys

from jwcrypto.jwk import JWK
from sd_jwt.holder import SDJWTHolder


def main() -> None:
    req = json.load(sys.stdin)
    holder = SDJWTHolder(req["credential"], serialization_format="compact")
    holder.create_presentation(
        {name: True for name in req["disclose"]},
        nonce=req["nonce"],
        aud=req["aud"],
        holder_key=JWK.from_json(json.dumps(req["holder_jwk"])),
        sign_alg="ES256",
    )
    json.dump({"presentation": holder.sd_jwt_presentation}, sys.stdout)


if __name__ == "__main__":
    main()
