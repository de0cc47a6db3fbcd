//! `symbolon sd-jwt …`: the SD-JWT VC developer tools. `issue` signs a credential from a
//! claims file, `present` discloses chosen claims with a Key Binding JWT, `verify` checks a
//! credential or presentation against a known Issuer key, `decode` takes one apart without
//! verifying anything.
//!
//! Everything is read from JWK, JSON and text files (or stdin) and printed to stdout; a
//! refusal is an error (exit 1) whose message names the rule broken. Whether a Key Binding
//! JWT is checked follows the options given, never what the presentation happens to carry:
//! a KB-JWT that cannot be checked (no `--aud`/`--nonce`) is refused, not skipped.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Subcommand};
use jose::jwt::{Clock, SystemClock};
use jose::{Algorithm, CompactJws, PrivateJwk, PublicJwk, Signer, SoftwareSigner, VerifyingKey};
use sd_jwt::vc::{self, NON_DISCLOSABLE, VcVerifier};
use sd_jwt::{
    ClaimPath, Frame, KbExpectation, KbInput, KeyBinding, KeyResolver, Limits, SdJwt, SystemSalts,
    Verified, VerifyOptions,
};
use serde_json::{Map, Value, json};

use super::input::read_text;

/// `symbolon sd-jwt`.
#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// Print one line of JSON for scripts (`issue` and `present`: an object with the
    /// compact serialization) instead of the readable form.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The SD-JWT subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Issue an SD-JWT VC (`typ` dc+sd-jwt) over the claims of a JSON file, bound to a
    /// holder key; prints the compact serialization.
    Issue(IssueArgs),
    /// Present an issued SD-JWT VC: disclose the chosen claims and append a Key Binding JWT.
    Present(PresentArgs),
    /// Verify an SD-JWT VC or a presentation with the Issuer's public JWK; prints the
    /// verified claims and the Key Binding JWT claims.
    Verify(VerifyArgs),
    /// Show the header, payload, Disclosures and rebuilt claims WITHOUT verifying anything.
    Decode(DecodeArgs),
}

/// `symbolon sd-jwt issue`.
#[derive(Debug, ClapArgs)]
pub(crate) struct IssueArgs {
    /// The Issuer's private JWK (e.g. from `symbolon jwk generate`).
    #[arg(long, value_name = "FILE")]
    issuer_key: PathBuf,
    /// The Holder's public JWK, put into `cnf.jwk`.
    #[arg(long, value_name = "FILE")]
    holder_jwk: PathBuf,
    /// A JSON object with the credential's claims (`vct` and `cnf` come from the options).
    #[arg(long, value_name = "FILE")]
    claims: PathBuf,
    /// The credential type (`vct`).
    #[arg(long)]
    vct: String,
    /// The Issuer identifier (`iss`).
    #[arg(long)]
    iss: Option<String>,
    /// Claims to make selectively disclosable: dotted paths, comma-separated
    /// (`given_name,address,address.locality,nationalities[*]`).
    #[arg(
        long,
        value_name = "PATH,…",
        value_delimiter = ',',
        conflicts_with = "sd_all"
    )]
    sd: Vec<String>,
    /// Make every claim of the claims file selectively disclosable, recursively (object
    /// members and array elements at every depth), except those SD-JWT VC forbids.
    #[arg(long)]
    sd_all: bool,
}

/// `symbolon sd-jwt present`.
#[derive(Debug, ClapArgs)]
pub(crate) struct PresentArgs {
    /// The Holder's private JWK (its public key must be the credential's `cnf.jwk`).
    #[arg(long, value_name = "FILE")]
    holder_key: PathBuf,
    /// Claims to disclose, dotted paths, comma-separated; a claim brings its parents'
    /// Disclosures and everything inside it.
    #[arg(
        long,
        value_name = "PATH,…",
        value_delimiter = ',',
        required_unless_present = "disclose_all",
        conflicts_with = "disclose_all"
    )]
    disclose: Vec<String>,
    /// Disclose every claim.
    #[arg(long)]
    disclose_all: bool,
    /// The Verifier the presentation is for (`aud` of the Key Binding JWT).
    #[arg(long)]
    aud: String,
    /// The Verifier's nonce (`nonce` of the Key Binding JWT).
    #[arg(long)]
    nonce: String,
    /// File with the issued SD-JWT VC; `-` or absent for stdin.
    file: Option<PathBuf>,
}

/// `symbolon sd-jwt verify`.
#[derive(Debug, ClapArgs)]
pub(crate) struct VerifyArgs {
    /// The Issuer's public JWK.
    #[arg(long, value_name = "FILE")]
    issuer_jwk: PathBuf,
    /// The expected `aud` of the Key Binding JWT.
    #[arg(long, requires = "nonce")]
    aud: Option<String>,
    /// The expected `nonce` of the Key Binding JWT.
    #[arg(long, requires = "aud")]
    nonce: Option<String>,
    /// Refuse a presentation without a Key Binding JWT.
    #[arg(long, requires = "aud")]
    require_kb: bool,
    /// Oldest accepted Key Binding JWT `iat`, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    kb_max_age: u64,
    /// Apply only RFC 9901 (any `typ`, no SD-JWT VC claim rules).
    #[arg(long)]
    plain: bool,
    /// Also accept the legacy SD-JWT VC `typ` `vc+sd-jwt`.
    #[arg(long, conflicts_with = "plain")]
    allow_legacy_typ: bool,
    /// File with the SD-JWT; `-` or absent for stdin.
    file: Option<PathBuf>,
}

/// `symbolon sd-jwt decode`.
#[derive(Debug, ClapArgs)]
pub(crate) struct DecodeArgs {
    /// File with the SD-JWT; `-` or absent for stdin.
    file: Option<PathBuf>,
}

/// Runs `sd-jwt …`.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let clock = SystemClock;
    match args.command {
        Command::Issue(a) => {
            let (compact, disclosable) = issue(&a, clock.now())?;
            print_token(args.json, "sd_jwt", &compact, "disclosable", disclosable)
        }
        Command::Present(a) => {
            let text = read_text(a.file.as_deref())?;
            let (compact, disclosed) = present(&a, &text, clock.now())?;
            print_token(args.json, "presentation", &compact, "disclosed", disclosed)
        }
        Command::Verify(a) => {
            let text = read_text(a.file.as_deref())?;
            print_value(args.json, &verify(&a, &text, &clock)?)
        }
        Command::Decode(a) => {
            let text = read_text(a.file.as_deref())?;
            let (out, problem) = decode(&text)?;
            print_value(args.json, &out)?;
            problem.map_or(Ok(()), Err)
        }
    }
}

/// The compact serialization alone (readable, and what a pipe wants), or with `--json` an
/// object that also lists the paths.
fn print_token(
    json: bool,
    name: &str,
    compact: &str,
    paths_name: &str,
    paths: Vec<String>,
) -> anyhow::Result<()> {
    if json {
        let mut out = Map::new();
        out.insert(name.into(), compact.into());
        out.insert(paths_name.into(), paths.into());
        outln!("{}", Value::Object(out))?;
    } else {
        outln!("{compact}")?;
    }
    Ok(())
}

fn print_value(json: bool, value: &Value) -> anyhow::Result<()> {
    if json {
        outln!("{value}")?;
    } else {
        outln!("{}", serde_json::to_string_pretty(value)?)?;
    }
    Ok(())
}

/// An error of the SD-JWT core as one message: its `Display` already carries the inner
/// reasons, so the source chain is not repeated.
fn refused(what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{what}: {e}")
}

fn read_private_jwk(path: &Path) -> anyhow::Result<SoftwareSigner> {
    let text = read_text(Some(path))?;
    let jwk = PrivateJwk::from_json(text.as_bytes())
        .with_context(|| format!("{} is not a private JWK", path.display()))?;
    let signer = SoftwareSigner::from_private_jwk(&jwk)
        .with_context(|| format!("{} holds an unusable key", path.display()))?;
    Ok(signer)
}

fn read_public_jwk(path: &Path) -> anyhow::Result<PublicJwk> {
    let text = read_text(Some(path))?;
    PublicJwk::from_json(text.as_bytes()).with_context(|| {
        format!(
            "{} is not a public JWK (a private key is refused here)",
            path.display()
        )
    })
}

fn parse_paths(paths: &[String]) -> anyhow::Result<Vec<ClaimPath>> {
    paths
        .iter()
        .map(|p| ClaimPath::parse(p).with_context(|| format!("invalid claim path `{p}`")))
        .collect()
}

/// Every member and array element below `at`, parents before children.
fn all_paths(value: &Value, at: &ClaimPath, out: &mut Vec<ClaimPath>) {
    match value {
        Value::Object(o) => {
            for (name, v) in o {
                let p = at.clone().join(sd_jwt::PathElement::Name(name.clone()));
                out.push(p.clone());
                all_paths(v, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let p = at.clone().join(sd_jwt::PathElement::Index(i));
                out.push(p.clone());
                all_paths(v, &p, out);
            }
        }
        _ => {}
    }
}

fn issue(args: &IssueArgs, now: i64) -> anyhow::Result<(String, Vec<String>)> {
    let signer = read_private_jwk(&args.issuer_key)?;
    let holder = read_public_jwk(&args.holder_jwk)?;
    let text = read_text(Some(&args.claims))?;
    let mut claims = jose::json::parse_object(text.as_bytes())
        .with_context(|| format!("{} is not a JSON object", args.claims.display()))?;
    let mut set_by_options = vec!["vct", "cnf"];
    if args.iss.is_some() {
        set_by_options.push("iss");
    }
    if let Some(name) = set_by_options.iter().find(|n| claims.contains_key(**n)) {
        bail!(
            "the claims file sets `{name}`, which comes from the command's options (--vct, --holder-jwk, --iss)"
        );
    }
    let paths = if args.sd_all {
        let mut out = Vec::new();
        for (name, value) in &claims {
            if NON_DISCLOSABLE.contains(&name.as_str()) {
                continue;
            }
            let p = ClaimPath::claim(name.clone());
            out.push(p.clone());
            all_paths(value, &p, &mut out);
        }
        out
    } else {
        parse_paths(&args.sd)?
    };
    claims.insert("vct".into(), args.vct.clone().into());
    if let Some(iss) = &args.iss {
        claims.insert("iss".into(), iss.clone().into());
    }
    claims.entry("iat").or_insert_with(|| now.into());
    claims.insert("cnf".into(), json!({ "jwk": holder.bare().to_value() }));
    let listed = paths.iter().map(ToString::to_string).collect();
    let issued = vc::issue(
        claims,
        &Frame::from_paths(paths),
        &signer,
        &SystemSalts::new(),
        None,
    )
    .map_err(|e| refused("cannot issue the credential", e))?;
    Ok((issued.into_string(), listed))
}

fn present(args: &PresentArgs, text: &str, now: i64) -> anyhow::Result<(String, Vec<String>)> {
    let signer = read_private_jwk(&args.holder_key)?;
    let sd = SdJwt::parse_issued(text, &Limits::DEFAULT)
        .map_err(|e| refused("not an issued SD-JWT", e))?;
    let cnf = sd
        .unverified_claims()
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .context("the credential has no `cnf.jwk`: it cannot be presented with key binding")?;
    let bound = PublicJwk::from_value(cnf).context("the credential's `cnf.jwk` is invalid")?;
    if !bound.same_key(signer.public_jwk()) {
        bail!("the holder key is not the credential's `cnf.jwk`");
    }
    let mut presenter = sd
        .presenter()
        .map_err(|e| refused("the credential's Disclosures are invalid", e))?;
    if args.disclose_all {
        presenter.select_all();
    } else {
        for path in parse_paths(&args.disclose)? {
            presenter
                .select_subtree(&path)
                .map_err(|e| refused("cannot disclose", e))?;
        }
    }
    let input = KbInput::new(args.aud.clone(), args.nonce.clone(), now);
    let compact = presenter
        .with_key_binding(&input, &signer)
        .map_err(|e| refused("cannot sign the Key Binding JWT", e))?;
    // What the Verifier will see: the paths the presented Disclosures rebuild.
    let shown = SdJwt::parse(&compact, &Limits::DEFAULT)
        .map_err(|e| refused("the presentation does not parse back", e))?;
    let disclosed = shown
        .presenter()
        .map_err(|e| refused("the presentation does not rebuild", e))?
        .disclosable()
        .map(ToString::to_string)
        .collect();
    Ok((compact, disclosed))
}

/// The Key Binding policy the options ask for.
fn key_binding<'a>(
    args: &'a VerifyArgs,
    has_kb: bool,
    algorithms: &'a [Algorithm],
) -> anyhow::Result<KeyBinding<'a>> {
    let expectation = match (&args.aud, &args.nonce) {
        (Some(aud), Some(nonce)) => {
            Some(KbExpectation::new(aud, nonce, algorithms).with_max_age(args.kb_max_age))
        }
        _ => None,
    };
    Ok(match expectation {
        Some(e) if args.require_kb => KeyBinding::Required(e),
        Some(e) => KeyBinding::Optional(e),
        None if has_kb => {
            bail!("the presentation carries a Key Binding JWT; pass --aud and --nonce to check it")
        }
        None => KeyBinding::Forbidden,
    })
}

fn kb_json(verified: &Verified) -> Value {
    verified.key_binding().map_or(Value::Null, |kb| {
        json!({
            "header": Value::Object(kb.header().members().clone()),
            "claims": Value::Object(kb.claims().clone()),
        })
    })
}

fn verify(args: &VerifyArgs, text: &str, clock: &dyn Clock) -> anyhow::Result<Value> {
    let jwk = read_public_jwk(&args.issuer_jwk)?;
    let algorithm = [jwk.signing_algorithm()];
    let key = VerifyingKey::from_jwk(&jwk)
        .with_context(|| format!("{} holds an unusable key", args.issuer_jwk.display()))?;
    let has_kb = !text.ends_with('~');
    let kb_algorithms = Algorithm::ALL;
    let policy = key_binding(args, has_kb, &kb_algorithms)?;
    let verified = if args.plain {
        let options = VerifyOptions::new(&algorithm, policy, clock);
        sd_jwt::verify(text, &key, &options).map_err(|e| refused("invalid SD-JWT", e))?
    } else {
        let mut verifier = VcVerifier::new(KeyResolver::new().with_key(key), &algorithm);
        if args.allow_legacy_typ {
            verifier = verifier.with_legacy_typ();
        }
        verifier
            .verify(text, policy, clock)
            .map_err(|e| refused("invalid SD-JWT VC", e))?
            .into_sd_jwt()
    };
    let disclosed: Vec<String> = verified
        .disclosed()
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(json!({
        "claims": Value::Object(verified.claims().clone()),
        "disclosed": disclosed,
        "kb": kb_json(&verified),
    }))
}

/// The parts of an SD-JWT, and (separately) why its claims cannot be rebuilt, if so: the
/// parts are still worth showing when the Disclosures do not fit the payload.
fn decode(text: &str) -> anyhow::Result<(Value, Option<anyhow::Error>)> {
    let sd =
        SdJwt::parse(text, &Limits::DEFAULT).map_err(|e| refused("cannot parse the SD-JWT", e))?;
    let disclosures: Vec<Value> = sd
        .disclosures()
        .iter()
        .map(|d| {
            let mut m = Map::new();
            m.insert("digest".into(), d.digest().into());
            m.insert("salt".into(), d.salt().into());
            if let Some(name) = d.name() {
                m.insert("name".into(), name.into());
            }
            m.insert("value".into(), d.value().clone());
            Value::Object(m)
        })
        .collect();
    let kb = match sd.kb_jwt() {
        None => Value::Null,
        Some(kb) => {
            let jws = CompactJws::parse(kb).context("the Key Binding JWT does not parse")?;
            let claims = jws
                .claims_unverified()
                .context("the Key Binding JWT payload is not a JSON object")?;
            json!({
                "header": Value::Object(jws.header().members().clone()),
                "payload": Value::Object(claims),
            })
        }
    };
    let (claims, problem) = match sd.presenter() {
        Ok(p) => (Value::Object(p.all_claims().clone()), None),
        Err(e) => (
            Value::Null,
            Some(refused("the claims cannot be rebuilt", e)),
        ),
    };
    let out = json!({
        "verified": false,
        "header": Value::Object(sd.issuer_header().members().clone()),
        "payload": Value::Object(sd.unverified_claims().clone()),
        "disclosures": disclosures,
        "claims": claims,
        "kb": kb,
    });
    Ok((out, problem))
}
