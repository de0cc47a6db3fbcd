//! PEM certificate files (the attester's own `x5c` chain, the Kubernetes API server's CA):
//! every `CERTIFICATE` block, in order, as DER. Other block types are skipped (a chain file
//! may carry a comment or a key the attester must not read); a malformed block is an error.

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Why a PEM file holds no usable certificates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// A `BEGIN CERTIFICATE` line without its `END` line.
    #[error("certificate block {index} has no END line")]
    Unterminated {
        /// Zero-based index of the block.
        index: usize,
    },
    /// A block's body is not base64.
    #[error("certificate block {index} is not base64")]
    NotBase64 {
        /// Zero-based index of the block.
        index: usize,
    },
    /// No certificate at all.
    #[error("no CERTIFICATE block found")]
    Empty,
}

/// The DER certificates of a PEM text, in file order.
pub fn certificates(pem: &str) -> Result<Vec<Vec<u8>>, PemError> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let index = out.len();
        let after = rest.get(start + BEGIN.len()..).unwrap_or_default();
        let end = after.find(END).ok_or(PemError::Unterminated { index })?;
        let body: String = after
            .get(..end)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = jose::b64::decode_std(body.as_bytes())
            .filter(|d| !d.is_empty())
            .ok_or(PemError::NotBase64 { index })?;
        out.push(der);
        rest = after.get(end + END.len()..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(PemError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(der: &[u8]) -> String {
        format!("{BEGIN}\n{}\n{END}\n", jose::b64::encode_std(der))
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
    }

    #[test]
    fn rejects_empty_unterminated_and_non_base64_files() {
        assert_eq!(certificates("nothing here"), Err(PemError::Empty));
        assert_eq!(
            certificates(&format!("{BEGIN}\nAAAA\n")),
            Err(PemError::Unterminated { index: 0 })
        );
        assert_eq!(
            certificates(&format!("{BEGIN}\n!!!!\n{END}\n")),
            Err(PemError::NotBase64 { index: 0 })
        );
    }
}
