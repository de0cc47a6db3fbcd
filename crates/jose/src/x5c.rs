//! x5c (filled in below).
