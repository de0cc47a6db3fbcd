//! Errors, one enum per stage: the bit-packed list and its JSON form ([`ListError`]), the
//! Status List Token ([`TokenError`]), the referenced token's `status` claim
//! ([`ReferenceError`]), the end-to-end status check ([`CheckError`]) and index allocation
//! ([`AllocError`]). Each variant names the rule that was broken; failures to *produce*
//! something (compressing, signing, drawing randomness) have their own variants so they are
//! never mistaken for "the input is invalid".

/// The status list byte array, its compression or its JSON form was refused.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// `bits` is not 1, 2, 4 or 8 (draft §4.1 step 1).
    #[error("`bits` must be 1, 2, 4 or 8, found {0}")]
    UnsupportedBits(u8),
    /// The index is not inside the list (draft §8.3 step 6: the token MUST be rejected).
    #[error("index {idx} is out of bounds for a status list of {len} entries")]
    IndexOutOfBounds {
        /// The index asked for.
        idx: usize,
        /// The number of entries in the list.
        len: usize,
    },
    /// A status value does not fit into `bits` bits.
    #[error("status value {value} does not fit into {bits} bits")]
    ValueTooLarge {
        /// The value.
        value: u8,
        /// The list's `bits`.
        bits: u8,
    },
    /// The byte array (decompressed, or asked for by a constructor) exceeds the limit.
    #[error("status list byte array exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// `lst` is not a valid ZLIB/DEFLATE stream (bad header, bad block, bad checksum).
    #[error("`lst` is not a valid ZLIB stream: {0}")]
    Decompress(#[source] flate2::DecompressError),
    /// The ZLIB stream ends before its final block and checksum.
    #[error("`lst` ZLIB stream is truncated")]
    Truncated,
    /// Bytes follow the end of the ZLIB stream.
    #[error("`lst` has {0} bytes after the end of the ZLIB stream")]
    TrailingData(usize),
    /// `lst` is not unpadded, canonical base64url.
    #[error("`lst` is not valid base64url")]
    Base64,
    /// The JSON text of a status list is not valid JSON (or repeats a member name).
    #[error("status list is not valid JSON: {0}")]
    Json(#[source] jose::json::JsonError),
    /// The status list is not a JSON object.
    #[error("status list must be a JSON object")]
    NotObject,
    /// A required member (`bits`, `lst`) is absent.
    #[error("status list member `{0}` is required")]
    MissingMember(&'static str),
    /// A member has the wrong JSON type or range (`bits` not an integer 0..=255, `lst` or
    /// `aggregation_uri` not a string).
    #[error("status list member `{0}` is malformed")]
    MalformedMember(&'static str),
    /// Compressing the byte array failed (could not encode; says nothing about any input).
    #[error("compressing the status list failed: {0}")]
    Compress(#[source] std::io::Error),
}

/// A Status List Token could not be built, or was refused on verification.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The JWS is malformed, its `alg` is not allowed, its `crit` is not understood, or its
    /// signature does not verify.
    #[error(transparent)]
    Jws(#[from] jose::Error),
    /// The header `typ` is not exactly `statuslist+jwt` (draft §5.1).
    #[error("header `typ` must be `statuslist+jwt`, found {}", found.as_deref().map_or_else(|| "none".to_owned(), |t| format!("`{t}`")))]
    WrongTyp {
        /// The header's `typ`, if any.
        found: Option<String>,
    },
    /// `sub` differs from the `uri` the referenced token points at (draft §5.1, §8.3 4.a).
    #[error("status list token `sub` `{found}` does not equal the referenced `uri` `{expected}`")]
    SubjectMismatch {
        /// The `uri` from the referenced token.
        expected: String,
        /// The token's `sub`.
        found: String,
    },
    /// A registered claim is missing, has the wrong type, or fails a time check (`iat`
    /// required; `exp` in the past; `iat` in the future; `iat` older than the policy).
    #[error(transparent)]
    Claim(#[from] jose::ClaimError),
    /// `ttl` is present but not a positive integer number of seconds (draft §5.1).
    #[error("`ttl` must be a positive integer number of seconds")]
    InvalidTtl,
    /// The `status_list` claim is malformed or does not decode.
    #[error("`status_list` claim is invalid: {0}")]
    StatusList(#[source] ListError),
    /// A token to be issued would expire at or before its issuance.
    #[error("`exp` ({exp}) must be after `iat` ({iat})")]
    ExpiryNotAfterIssue {
        /// `iat`.
        iat: i64,
        /// `exp`.
        exp: i64,
    },
    /// The signer failed (could not sign; says nothing about any input).
    #[error("signing the status list token failed: {0}")]
    Sign(#[from] jose::SignError),
}

/// The referenced token's `status` claim is absent or malformed (draft §6.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// A member is absent: `status`, `status.status_list`, `…idx` or `…uri`.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// A member has the wrong JSON type (`status`/`status_list` not objects, `uri` not a
    /// string).
    #[error("`{0}` has the wrong JSON type")]
    WrongType(&'static str),
    /// `idx` is not a non-negative integer that fits into this platform's `usize`.
    #[error("`status.status_list.idx` must be a non-negative integer index")]
    InvalidIdx,
    /// `uri` is the empty string, which is no URI.
    #[error("`status.status_list.uri` is empty")]
    EmptyUri,
}

/// The referenced token's status could not be established from a Status List Token.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The referenced token's `status` claim is absent or malformed.
    #[error("referenced token: {0}")]
    Reference(#[from] ReferenceError),
    /// The Status List Token was refused.
    #[error("status list token: {0}")]
    Token(#[from] TokenError),
    /// The verified Status List Token is for another list than the one referenced.
    #[error("status list token `sub` `{found}` does not equal the referenced `uri` `{expected}`")]
    SubjectMismatch {
        /// The `uri` from the referenced token.
        expected: String,
        /// The token's `sub`.
        found: String,
    },
    /// `idx` is outside the list: no statement about the status can be made and the
    /// referenced token MUST be rejected (draft §8.3 step 6).
    #[error("index {idx} is out of bounds for a status list of {len} entries")]
    IndexOutOfBounds {
        /// The referenced index.
        idx: usize,
        /// The number of entries in the list.
        len: usize,
    },
}

/// An index could not be allocated or recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// Every index of the list is already allocated.
    #[error("all {capacity} indices of the status list are allocated")]
    Full {
        /// The list's number of entries.
        capacity: usize,
    },
    /// The index is not inside the list.
    #[error("index {idx} is out of bounds for a status list of {len} entries")]
    IndexOutOfBounds {
        /// The index.
        idx: usize,
        /// The list's number of entries.
        len: usize,
    },
    /// The index was allocated before; handing it out again would be a double allocation
    /// (draft §13.3: MUST be prevented).
    #[error("index {0} is already allocated")]
    AlreadyAllocated(usize),
    /// The allocator's capacity cannot be represented in memory.
    #[error("an allocator for {0} indices cannot be created")]
    CapacityTooLarge(usize),
    /// The random source failed or kept returning unusable values (could not allocate;
    /// says nothing about the list).
    #[error("the random source failed")]
    Random,
}
