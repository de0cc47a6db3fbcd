//! What the command-line wallet prints: credential cards, the consent screen, and the
//! JSON forms of both for scripts.

use serde_json::{Value, json};
use wallet::HeldCredential;
use wallet::presentation::Consent;

use super::store::Record;

fn label(record: &Record, name: &str) -> String {
    record
        .display
        .claims
        .iter()
        .find(|c| c.path.len() == 1 && c.path.first().is_some_and(|p| p == name))
        .map_or_else(|| name.to_owned(), |c| c.label.clone())
}

fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A NumericDate as an RFC 3339 UTC time for people; the raw number when it is before the
/// epoch or beyond what the system time can hold (a credential may say anything).
fn date(t: Option<i64>) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    u64::try_from(t)
        .ok()
        .and_then(|secs| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs)))
        .map_or_else(
            || format!("{t} (unix time)"),
            |time| humantime::format_rfc3339_seconds(time).to_string(),
        )
}

/// A readable card.
pub(crate) fn card(record: &Record, held: &HeldCredential, status: Option<&str>) -> String {
    let title = record
        .display
        .name
        .clone()
        .unwrap_or_else(|| held.vct.clone());
    let issuer = record.display.issuer_name.clone().map_or_else(
        || record.issuer.clone(),
        |n| format!("{n} ({})", record.issuer),
    );
    let mut lines = vec![
        format!("┌─ {title}  [{}]", record.id),
        format!("│ issuer   {issuer}"),
        format!("│ type     {}", held.vct),
        format!("│ issued   {}", date(held.issued_at)),
        format!("│ expires  {}", date(held.expires_at)),
    ];
    if let Some(s) = status {
        lines.push(format!("│ status   {s}"));
    }
    lines.push("│".into());
    for (name, value) in held.subject_claims() {
        lines.push(format!(
            "│ {:<16} {}",
            label(record, name),
            show_value(value)
        ));
    }
    lines.push("└─".into());
    lines.join("\n")
}

/// The JSON form of a card.
pub(crate) fn card_json(record: &Record, held: &HeldCredential, status: Option<&str>) -> Value {
    let claims: serde_json::Map<String, Value> = held
        .subject_claims()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "id": record.id,
        "name": record.display.name,
        "issuer": record.issuer,
        "vct": held.vct,
        "configuration_id": record.configuration_id,
        "issued_at": held.issued_at,
        "expires_at": held.expires_at,
        "status": status,
        "claims": claims,
    })
}

/// The consent screen: who asks, and per candidate every claim, recommended ones starred.
/// Who asks, as the engine verified it.
pub(crate) struct VerifierView {
    /// The full client identifier.
    pub(crate) client_id: String,
    /// The signing certificate's subject (signed requests).
    pub(crate) certificate_subject: Option<String>,
    /// Whether the request object was signed (and verified).
    pub(crate) signed: bool,
}

/// The verifier of a consent step.
pub(crate) fn verifier_view(view: &wallet_client::ConsentView<'_>) -> VerifierView {
    VerifierView {
        client_id: view.verifier.client_id.clone(),
        certificate_subject: view.verifier.name.clone(),
        signed: view
            .trust
            .and_then(|t| t.framework.as_deref())
            .is_some_and(|f| f == "x509"),
    }
}

pub(crate) fn consent(v: &VerifierView, consent: &Consent, records: &[Record]) -> String {
    let mut lines = vec![format!("Verifier {}", v.client_id)];
    if let Some(subject) = &v.certificate_subject {
        lines.push(format!("  certificate  {subject}"));
    }
    lines.push(format!(
        "  request      {}",
        if v.signed {
            "signed, verified"
        } else {
            "unsigned (redirect_uri)"
        }
    ));
    if !v.signed {
        // No certificate, so no anchor vouches for it: the holder should know.
        lines.push(
            "  warning      nothing proves who this verifier is: the request is unsigned, and the claims go to the address it names"
                .into(),
        );
    }
    for q in &consent.queries {
        lines.push(format!("asks ({}):", q.query_id));
        for c in &q.candidates {
            let name = records
                .get(c.credential)
                .map(|r| format!("{} [{}]", r.display.name.clone().unwrap_or_default(), r.id))
                .unwrap_or_default();
            lines.push(format!("  from {name}"));
            for claim in &c.claims {
                let mark = if claim.recommended {
                    "★"
                } else if claim.container {
                    "◐"
                } else {
                    " "
                };
                lines.push(format!(
                    "    {mark} {:<16} {}",
                    claim.name,
                    show_value(&claim.value)
                ));
            }
        }
        for (i, reasons) in &q.rejected {
            let id = records.get(*i).map(|r| r.id.as_str()).unwrap_or_default();
            lines.push(format!("  not {id}: {}", reasons.join("; ")));
        }
    }
    if !consent.unmet.is_empty() {
        lines.push(format!("cannot answer: {}", consent.unmet.join("; ")));
    }
    lines.push("★ = requested by the verifier (recommended)".into());
    if consent
        .queries
        .iter()
        .flat_map(|q| &q.candidates)
        .flat_map(|c| &c.claims)
        .any(|c| c.container)
    {
        lines.push(
            "◐ = holds a ★ claim: revealed only as far as that claim needs (its other selectively disclosable members stay hidden)"
                .into(),
        );
    }
    lines.join("\n")
}
