//! `symbolon status-list decode`: show a Token Status List token (or a bare
//! `{"bits","lst"}` object) without verifying it, or the status at one index.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use status_list::{DecodeLimits, EncodedStatusList, Status, StatusList, StatusListToken};

use super::input::read_text;

/// `symbolon status-list …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Decode a status list token (JWT) or a `{"bits","lst"}` object: prints the header,
    /// the claims and a summary of the list, or with `--idx` the status at that index.
    /// Nothing is verified.
    Decode(DecodeArgs),
}

/// `symbolon status-list decode`.
#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// File with the token or JSON object; `-` or absent for stdin.
    file: Option<PathBuf>,
    /// Print only the status at this index.
    #[arg(long)]
    idx: Option<usize>,
}

/// Runs `status-list …`.
pub(crate) fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Decode(args) => {
            let text = read_text(args.file.as_deref())?;
            outln!(
                "{}",
                serde_json::to_string_pretty(&decode(&text, args.idx)?)?
            )?;
            Ok(())
        }
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Valid => "VALID",
        Status::Invalid => "INVALID",
        Status::Suspended => "SUSPENDED",
        Status::Other(_) => "APPLICATION_SPECIFIC",
    }
}

fn decode(text: &str, idx: Option<usize>) -> anyhow::Result<Value> {
    let limits = DecodeLimits::default();
    let (mut out, list): (serde_json::Map<String, Value>, StatusList) = if text.starts_with('{') {
        let encoded =
            EncodedStatusList::from_json(text.as_bytes()).context("not a status list object")?;
        let list = encoded.decode(&limits).context("cannot decode `lst`")?;
        (serde_json::Map::new(), list)
    } else {
        let token = StatusListToken::parse(text).context("not a status list token")?;
        let claims = token
            .claims_unverified()
            .context("invalid status list token claims")?;
        let list = claims
            .status_list
            .decode(&limits)
            .context("cannot decode `status_list.lst`")?;
        let mut m = serde_json::Map::new();
        m.insert(
            "header".into(),
            Value::Object(token.header().members().clone()),
        );
        let mut c = serde_json::Map::new();
        c.insert("sub".into(), claims.sub.clone().into());
        c.insert("iat".into(), claims.iat.into());
        if let Some(exp) = claims.exp {
            c.insert("exp".into(), exp.into());
        }
        if let Some(ttl) = claims.ttl {
            c.insert("ttl".into(), ttl.into());
        }
        if let Some(iss) = &claims.iss {
            c.insert("iss".into(), iss.clone().into());
        }
        c.insert("status_list".into(), claims.status_list.to_value());
        m.insert("claims".into(), Value::Object(c));
        (m, list)
    };
    if let Some(i) = idx {
        let status = list
            .status(i)
            .with_context(|| format!("index {i} is outside the list"))?;
        return Ok(json!({"idx": i, "status": status.value(), "name": status_name(status)}));
    }
    let mut counts: BTreeMap<u8, usize> = BTreeMap::new();
    for v in list.iter() {
        *counts.entry(v).or_default() += 1;
    }
    let counts: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(v, n)| (format!("{v} ({})", status_name(Status::from(v))), n.into()))
        .collect();
    let non_valid: Vec<usize> = list
        .iter()
        .enumerate()
        .filter(|(_, v)| *v != 0)
        .map(|(i, _)| i)
        .take(100)
        .collect();
    out.insert(
        "list".into(),
        json!({"bits": list.bits().get(), "len": list.len(), "counts": counts, "first_non_valid_indices": non_valid}),
    );
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The draft's 1-bit example: statuses 1,0,0,1,1,1,0,1,1,1,0,0,0,1,0,1.
    const LST: &str = r#"{"bits":1,"lst":"eNrbuRgAAhcBXQ"}"#;

    #[test]
    fn decodes_the_draft_example_object() {
        let v = decode(LST, None).unwrap();
        assert_eq!(v["list"]["len"], 16);
        assert_eq!(v["list"]["counts"]["1 (INVALID)"], 9);
        assert_eq!(v["list"]["first_non_valid_indices"][0], 0);
        assert_eq!(
            decode(LST, Some(3)).unwrap(),
            json!({"idx": 3, "status": 1, "name": "INVALID"})
        );
        assert_eq!(decode(LST, Some(1)).unwrap()["name"], "VALID");
    }

    #[test]
    fn decodes_a_signed_token() {
        let signer = jose::SoftwareSigner::generate(jose::Algorithm::Es256).unwrap();
        let encoded = EncodedStatusList::from_json(LST.as_bytes()).unwrap();
        let token = status_list::StatusListTokenBuilder::new(
            "https://issuer.example/status/1",
            encoded,
            1_700_000_000,
        )
        .ttl(300)
        .sign(&signer)
        .unwrap();
        let v = decode(&token, None).unwrap();
        assert_eq!(v["header"]["typ"], "statuslist+jwt");
        assert_eq!(v["claims"]["sub"], "https://issuer.example/status/1");
        assert_eq!(v["claims"]["ttl"], 300);
        assert_eq!(decode(&token, Some(0)).unwrap()["status"], 1);
    }

    #[test]
    fn rejects_out_of_range_index_and_garbage() {
        assert!(
            decode(LST, Some(16))
                .unwrap_err()
                .to_string()
                .contains("outside the list")
        );
        assert!(decode("not a token", None).is_err());
        assert!(decode(r#"{"bits":3,"lst":"eNrbuRgAAhcBXQ"}"#, None).is_err());
    }
}
