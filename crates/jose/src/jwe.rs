//! JWE (filled in below).
