//! PEM (RFC 7468) certificate text, the one reader and writer of the project: trust
//! anchors, `x5c` chain files, a Kubernetes API server's CA, a wallet's verifier anchors.
//! [`certificates`] reads every `CERTIFICATE` block, in order, as DER and skips other
//! blocks (a chain file may carry a comment or a key the reader must not use);
//! [`only_certificates`] refuses any other block. A malformed certificate block is an
//! error, never skipped.

use crate::b64;

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";
const CERTIFICATE: &str = "CERTIFICATE";

/// Why PEM text holds no usable certificates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// A `BEGIN CERTIFICATE` line without its `END` line.
    #[error("certificate block {index} has no END line")]
    Unterminated {
        /// Zero-based index of the certificate block.
        index: usize,
    },
    /// A block's body is not base64 (or is empty).
    #[error("certificate block {index} is not base64")]
    NotBase64 {
        /// Zero-based index of the certificate block.
        index: usize,
    },
    /// A `-----BEGIN ` without the dashes that end its label.
    #[error("a BEGIN line after certificate {index} is not terminated")]
    BadBeginLine {
        /// How many certificate blocks came before it.
        index: usize,
    },
    /// A block other than `CERTIFICATE` where only certificates are allowed.
    #[error("a {label} block follows certificate {index}: only CERTIFICATE blocks are allowed")]
    NotACertificate {
        /// How many certificate blocks came before it.
        index: usize,
        /// The block's label (e.g. `PRIVATE KEY`); never its contents.
        label: String,
    },
    /// No certificate at all.
    #[error("no CERTIFICATE block found")]
    Empty,
}

/// The DER certificates of a PEM text, in order; other blocks are skipped.
pub fn certificates(pem: &str) -> Result<Vec<Vec<u8>>, PemError> {
    read(pem, false)
}

/// The DER certificates of a PEM text, in order; any other block is an error.
pub fn only_certificates(pem: &str) -> Result<Vec<Vec<u8>>, PemError> {
    read(pem, true)
}

fn read(pem: &str, strict: bool) -> Result<Vec<Vec<u8>>, PemError> {
    let end_marker = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let index = out.len();
        let after = rest.get(start + BEGIN.len()..).unwrap_or_default();
        let Some((label, body)) = after.split_once(DASHES) else {
            if strict {
                return Err(PemError::BadBeginLine { index });
            }
            break;
        };
        if label != CERTIFICATE {
            if strict {
                return Err(PemError::NotACertificate {
                    index,
                    label: label.chars().take(64).collect(),
                });
            }
            rest = body;
            continue;
        }
        let end = body
            .find(end_marker)
            .ok_or(PemError::Unterminated { index })?;
        let text: String = body
            .get(..end)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = b64::decode_std(text.as_bytes())
            .filter(|d| !d.is_empty())
            .ok_or(PemError::NotBase64 { index })?;
        out.push(der);
        rest = body.get(end + end_marker.len()..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(PemError::Empty);
    }
    Ok(out)
}

/// `der` as one PEM block labelled `label`, base64 in 64-character lines.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = b64::encode_std(der);
    let mut out = format!("{BEGIN}{label}{DASHES}\n");
    for line in body.as_bytes().chunks(64) {
        // Base64 output is ASCII: every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}{DASHES}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(der: &[u8]) -> String {
        encode(CERTIFICATE, der)
    }

    #[test]
    fn reads_every_certificate_in_order_and_skips_other_blocks() {
        let text = format!(
            "chain\n{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{}",
            block(b"first"),
            block(b"second")
        );
        assert_eq!(
            certificates(&text).unwrap(),
            vec![b"first".to_vec(), b"second".to_vec()]
        );
        assert_eq!(
            only_certificates(&text),
            Err(PemError::NotACertificate {
                index: 1,
                label: "PRIVATE KEY".into()
            })
        );
        assert_eq!(
            only_certificates(&format!("{}{}", block(b"a"), block(b"b"))).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
    }

    #[test]
    fn rejects_empty_unterminated_and_non_base64_text() {
        for read in [certificates, only_certificates] {
            assert_eq!(read("nothing here"), Err(PemError::Empty));
            assert_eq!(
                read("-----BEGIN CERTIFICATE-----\nAAAA\n"),
                Err(PemError::Unterminated { index: 0 })
            );
            assert_eq!(
                read("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"),
                Err(PemError::NotBase64 { index: 0 })
            );
            assert_eq!(
                read("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----"),
                Err(PemError::NotBase64 { index: 0 })
            );
        }
        assert_eq!(
            only_certificates("-----BEGIN CERTIFICATE"),
            Err(PemError::BadBeginLine { index: 0 })
        );
    }

    #[test]
    fn encodes_in_64_character_lines_and_round_trips() {
        let der: Vec<u8> = (0..=255).collect();
        let pem = encode(CERTIFICATE, &der);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(certificates(&pem).unwrap(), vec![der]);
    }
}
