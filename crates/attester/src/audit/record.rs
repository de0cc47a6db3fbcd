//! One audit record and the hash chain over the records.
//!
//! Every record's `hash` is SHA-256 over a fixed, length-prefixed encoding of its fields
//! followed by the previous record's hash (32 zero bytes for the first record):
//!
//! ```text
//! "symbolon-attester-audit-v1" 0x00
//! u64be(seq) i64be(time) i64be(exp)
//! field(identity) field(evidence) opt(pod) field(client_id) field(ci_thumbprint)
//! field(jti) field(kid)
//! prev_hash (32 bytes)
//!
//! field(s) = u32be(len(s)) ‖ s (UTF-8)
//! opt(s)   = 0x00 (absent) | 0x01 ‖ field(s)
//! ```
//!
//! So a record cannot be edited without changing its hash, and it cannot be deleted,
//! inserted or moved without breaking the next record's link or the run of sequence
//! numbers (which starts at 1 and has no gaps). Only truncation of the newest records is
//! invisible to the chain alone: compare the head with one recorded elsewhere (the log
//! line written at each append, or an earlier `audit verify` output).

use aws_lc_rs::digest;
use client_attestation::EvidenceType;
use serde::Serialize;

/// Domain separation for the record hash.
const DOMAIN: &[u8] = b"symbolon-attester-audit-v1\0";

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// The hash that precedes the first record.
pub const GENESIS: Hash = [0u8; 32];

/// What the attester records about one signature, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When (Unix seconds, from the attester's clock): the attestation's `iat`.
    pub time: i64,
    /// Who asked: the authenticated identity (`system:serviceaccount:<ns>:<sa>`, `dev`).
    pub identity: String,
    /// How it was authenticated.
    #[schema(value_type = crate::routes::openapi::EvidenceKind)]
    pub evidence: EvidenceType,
    /// The pod the caller's token is bound to, when known (`null` otherwise).
    #[schema(required = true)]
    pub pod: Option<String>,
    /// The attestation's `sub`.
    pub client_id: String,
    /// RFC 7638 thumbprint of the attested CI-Key (`cnf.jwk`).
    pub ci_thumbprint: String,
    /// The attestation's `jti`.
    pub jti: String,
    /// The A-Key's `kid`.
    pub kid: String,
    /// The attestation's `exp`.
    pub exp: i64,
}

/// A chained record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// The recorded entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous record's hash (lowercase hex).
    #[serde(serialize_with = "hex_ser")]
    #[schema(value_type = String)]
    pub prev_hash: Hash,
    /// This record's hash (lowercase hex).
    #[serde(serialize_with = "hex_ser")]
    #[schema(value_type = String)]
    pub hash: Hash,
}

fn hex_ser<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(h))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _infallible = write!(out, "{b:02x}");
    }
    out
}

/// Parses 64 lowercase hex digits.
pub fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        let pair = text.get(i * 2..i * 2 + 2)?;
        if !pair
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn field(buf: &mut Vec<u8>, s: &str) {
    // Lengths are bounded far below u32::MAX by the request limits; saturate anyway so
    // the encoding stays total.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// The record hash of `entry` at `seq` after `prev`.
pub fn record_hash(seq: i64, entry: &AuditEntry, prev: &Hash) -> Hash {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(DOMAIN);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&entry.time.to_be_bytes());
    buf.extend_from_slice(&entry.exp.to_be_bytes());
    field(&mut buf, &entry.identity);
    field(&mut buf, entry.evidence.as_str());
    match &entry.pod {
        None => buf.push(0),
        Some(p) => {
            buf.push(1);
            field(&mut buf, p);
        }
    }
    field(&mut buf, &entry.client_id);
    field(&mut buf, &entry.ci_thumbprint);
    field(&mut buf, &entry.jti);
    field(&mut buf, &entry.kid);
    buf.extend_from_slice(prev);
    let d = digest::digest(&digest::SHA256, &buf);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl AuditRecord {
    /// Chains `entry` after the record `(seq - 1, prev)`.
    pub fn chain(seq: i64, entry: AuditEntry, prev: Hash) -> AuditRecord {
        let hash = record_hash(seq, &entry, &prev);
        AuditRecord {
            seq,
            entry,
            prev_hash: prev,
            hash,
        }
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A sequence number is missing or out of order (a record was deleted, inserted or
    /// renumbered).
    #[error(
        "record {found} follows record {previous}: sequence numbers must run 1, 2, 3, … without gaps"
    )]
    Sequence {
        /// The previous record's number (0 before the first).
        previous: i64,
        /// The number found.
        found: i64,
    },
    /// A record does not point at the hash of the record before it.
    #[error("record {seq} does not link to the hash of record {}", seq - 1)]
    BrokenLink {
        /// The record.
        seq: i64,
    },
    /// A record's content does not match its hash (it was edited).
    #[error("record {seq} does not match its hash: it was altered")]
    Altered {
        /// The record.
        seq: i64,
    },
    /// A stored value is not well-formed (a hash that is not hex, an unknown evidence type).
    #[error("record {seq}: stored {column} is malformed")]
    Malformed {
        /// The record.
        seq: i64,
        /// The column.
        column: &'static str,
    },
    /// The newest record is not the expected head (records were removed from the end, or
    /// the log is not the one the head came from).
    #[error("the log ends at record {found_seq}, expected head {expected_seq}:{expected_hash}")]
    HeadMismatch {
        /// The expected head's sequence number.
        expected_seq: i64,
        /// The expected head's hash (hex).
        expected_hash: String,
        /// The newest record's sequence number.
        found_seq: i64,
    },
}

/// Walks a chain record by record (fed in `seq` order, possibly page by page), optionally
/// checking that a head recorded earlier (`seq:hash`) is still part of it.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    seq: i64,
    hash: Hash,
    anchor: Option<(i64, Hash)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            seq: 0,
            hash: GENESIS,
            anchor: None,
        }
    }
}

impl ChainVerifier {
    /// A verifier at the start of the log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also requires record `seq` to exist with hash `hash` (a head recorded elsewhere:
    /// detects records removed from the end).
    #[must_use]
    pub fn anchored(mut self, seq: i64, hash: Hash) -> Self {
        self.anchor = Some((seq, hash));
        self
    }

    fn anchor_error(&self, found_seq: i64) -> ChainError {
        let (expected_seq, expected) = self.anchor.unwrap_or((0, GENESIS));
        ChainError::HeadMismatch {
            expected_seq,
            expected_hash: hex(&expected),
            found_seq,
        }
    }

    /// Checks the next record.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainError> {
        let expected = self.seq.saturating_add(1);
        if record.seq != expected {
            return Err(ChainError::Sequence {
                previous: self.seq,
                found: record.seq,
            });
        }
        if record.prev_hash != self.hash {
            return Err(ChainError::BrokenLink { seq: record.seq });
        }
        if record_hash(record.seq, &record.entry, &record.prev_hash) != record.hash {
            return Err(ChainError::Altered { seq: record.seq });
        }
        if let Some((seq, hash)) = self.anchor
            && seq == record.seq
            && hash != record.hash
        {
            return Err(self.anchor_error(record.seq));
        }
        self.seq = record.seq;
        self.hash = record.hash;
        Ok(())
    }

    /// Ends the walk: the number of records and the head, or why the anchor is missing.
    pub fn finish(self) -> Result<ChainSummary, ChainError> {
        if let Some((seq, _)) = self.anchor
            && seq > self.seq
        {
            return Err(self.anchor_error(self.seq));
        }
        Ok(ChainSummary {
            records: self.seq,
            head: (self.seq > 0).then_some((self.seq, self.hash)),
        })
    }
}

/// The outcome of a verified walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSummary {
    /// Number of records.
    pub records: i64,
    /// The newest record, `(seq, hash)`; `None` for an empty log.
    pub head: Option<(i64, Hash)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(n: i64) -> AuditEntry {
        AuditEntry {
            time: 1_800_000_000 + n,
            identity: "system:serviceaccount:cvm-wallets:wallet-sa".into(),
            evidence: EvidenceType::Kubernetes,
            pod: (n % 2 == 0).then(|| format!("wallet-{n}")),
            client_id: format!("client-{n}"),
            ci_thumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into(),
            jti: format!("jti-{n}"),
            kid: "kid".into(),
            exp: 1_800_003_600 + n,
        }
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let r = AuditRecord::chain(seq, entry(seq), prev);
                prev = r.hash;
                r
            })
            .collect()
    }

    fn verify_from(
        mut v: ChainVerifier,
        records: &[AuditRecord],
    ) -> Result<ChainSummary, ChainError> {
        for r in records {
            v.push(r)?;
        }
        v.finish()
    }

    fn verify(records: &[AuditRecord]) -> Result<ChainSummary, ChainError> {
        verify_from(ChainVerifier::new(), records)
    }

    #[test]
    fn an_intact_chain_verifies_and_reports_its_head() {
        let records = chain(5);
        let v = verify(&records).unwrap();
        assert_eq!(v.records, 5);
        assert_eq!(v.head, Some((5, records[4].hash)));
        // A head recorded earlier is still in a grown log.
        assert!(verify_from(ChainVerifier::new().anchored(3, records[2].hash), &records).is_ok());
        assert_eq!(verify(&[]).unwrap().head, None);
    }

    #[test]
    fn rejects_an_edited_record() {
        let mut records = chain(4);
        records[2].entry.client_id = "someone-else".into();
        assert_eq!(
            verify(&records).unwrap_err(),
            ChainError::Altered { seq: 3 }
        );
    }

    #[test]
    fn rejects_a_deleted_record() {
        let mut records = chain(4);
        records.remove(1);
        assert_eq!(
            verify(&records).unwrap_err(),
            ChainError::Sequence {
                previous: 1,
                found: 3
            }
        );
    }

    #[test]
    fn rejects_a_deleted_and_renumbered_record() {
        let mut records = chain(4);
        records.remove(1);
        for (i, r) in records.iter_mut().enumerate() {
            r.seq = i64::try_from(i).unwrap() + 1;
        }
        assert_eq!(
            verify(&records).unwrap_err(),
            ChainError::BrokenLink { seq: 2 }
        );
    }

    #[test]
    fn rejects_reordered_records() {
        let mut records = chain(4);
        records.swap(1, 2);
        assert!(matches!(
            verify(&records).unwrap_err(),
            ChainError::Sequence { .. }
        ));
        // Swapping the contents but keeping the numbers breaks the links.
        let mut records = chain(4);
        let (a, b) = (records[1].clone(), records[2].clone());
        records[1] = AuditRecord { seq: 2, ..b };
        records[2] = AuditRecord { seq: 3, ..a };
        assert!(matches!(
            verify(&records).unwrap_err(),
            ChainError::BrokenLink { seq: 2 } | ChainError::Altered { seq: 2 }
        ));
    }

    #[test]
    fn rejects_a_truncated_log_against_a_recorded_head() {
        let records = chain(4);
        let anchored = ChainVerifier::new().anchored(4, records[3].hash);
        assert!(matches!(
            verify_from(anchored.clone(), &records[..3]),
            Err(ChainError::HeadMismatch { found_seq: 3, .. })
        ));
        // A different log (or a rewritten one) does not carry the anchor's hash.
        let other = ChainVerifier::new().anchored(2, records[3].hash);
        assert!(matches!(
            verify_from(other, &records),
            Err(ChainError::HeadMismatch { found_seq: 2, .. })
        ));
    }

    #[test]
    fn hex_round_trips() {
        let h = record_hash(1, &entry(1), &GENESIS);
        assert_eq!(parse_hash(&hex(&h)), Some(h));
        assert_eq!(parse_hash("00"), None);
        assert_eq!(parse_hash(&"G".repeat(64)), None);
        assert_eq!(parse_hash(&"A".repeat(64)), None);
    }

    proptest! {
        #[test]
        fn any_single_field_change_changes_the_hash(
            client_id in "[a-z0-9]{1,20}",
            other in "[a-z0-9]{1,20}",
            pod in proptest::option::of("[a-z0-9-]{1,20}"),
        ) {
            let mut e = entry(1);
            e.client_id = client_id.clone();
            e.pod = pod.clone();
            let h = record_hash(1, &e, &GENESIS);
            let mut changed = e.clone();
            changed.client_id = other.clone();
            prop_assert_eq!(record_hash(1, &changed, &GENESIS) == h, client_id == other);
            // Moving bytes between adjacent fields is never a collision: lengths are encoded.
            let mut shifted = e.clone();
            shifted.client_id = format!("{}{}", e.client_id, e.ci_thumbprint);
            shifted.ci_thumbprint = String::new();
            prop_assert_ne!(record_hash(1, &shifted, &GENESIS), h);
            let mut no_pod = e.clone();
            no_pod.pod = match &pod { Some(_) => None, None => Some(String::new()) };
            prop_assert_ne!(record_hash(1, &no_pod, &GENESIS), h);
        }
    }
}
