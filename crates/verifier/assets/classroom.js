// The IMMERSE classroom demo relying party: starts a presentation transaction at the
// verifier's demo API, shows the QR code and the same-device link, waits for the result
// and shows the access decision. Plain browser JavaScript, no build step.
//
// Same-device flow: the wallet redirects back to this page with `#response_code=…`; the
// transaction id kept in sessionStorage (this browser only) and the code are exchanged
// for the result, so only the browser that started the transaction sees it.
"use strict";

const api = "demo/api/transactions";
const $ = (id) => document.getElementById(id);
const show = (id, on) => { $(id).hidden = !on; };
let polling = null;

function reset() {
  ["request-panel", "granted-panel", "denied-panel", "again-panel"].forEach((p) => show(p, false));
  show("start-panel", true);
  if (polling) { clearTimeout(polling); polling = null; }
}

async function start() {
  show("start-panel", false);
  const res = await fetch(api, { method: "POST" });
  if (!res.ok) { return deny("The verifier could not start a request (" + res.status + ")."); }
  const tx = await res.json();
  sessionStorage.setItem("classroom-transaction", tx.transaction_id);
  $("qr").src = api + "/" + encodeURIComponent(tx.transaction_id) + "/qr?format=svg";
  $("same-device").href = tx.authorization_request;
  $("expires").textContent = "(request valid until " + new Date(tx.expires_at * 1000).toLocaleTimeString() + ")";
  show("request-panel", true);
  poll(tx.transaction_id, null);
}

async function poll(id, code) {
  const url = api + "/" + encodeURIComponent(id) + (code ? "?response_code=" + encodeURIComponent(code) : "");
  let body;
  try {
    const res = await fetch(url, { cache: "no-store" });
    body = await res.json();
    if (!res.ok) { return deny(body.error_description || body.error || "The request failed."); }
  } catch (e) {
    polling = setTimeout(() => poll(id, code), 2000);
    return;
  }
  if (body.status === "pending") {
    polling = setTimeout(() => poll(id, code), 1000);
    return;
  }
  show("request-panel", false);
  if (body.status === "success") { return grant(body.claims || {}); }
  if (body.status === "expired") { return deny("The request expired before a wallet answered."); }
  deny(body.error_description || body.error || "The presentation was refused.");
}

function grant(claims) {
  const dl = $("claims");
  dl.replaceChildren();
  for (const [query, credentials] of Object.entries(claims)) {
    for (const c of credentials) {
      for (const [k, v] of Object.entries(c)) {
        if (["iss", "vct", "cnf", "iat", "exp", "nbf", "status"].includes(k)) continue;
        const dt = document.createElement("dt");
        dt.textContent = k;
        const dd = document.createElement("dd");
        dd.textContent = typeof v === "string" ? v : JSON.stringify(v);
        dl.append(dt, dd);
      }
    }
  }
  show("granted-panel", true);
  show("again-panel", true);
}

function deny(reason) {
  show("request-panel", false);
  show("start-panel", false);
  $("reason").textContent = reason;
  show("denied-panel", true);
  show("again-panel", true);
}

$("start").addEventListener("click", () => { start().catch((e) => deny(String(e))); });
$("again").addEventListener("click", reset);

// Back from the wallet on the same device?
const fragment = new URLSearchParams(location.hash.slice(1));
const code = fragment.get("response_code");
const stored = sessionStorage.getItem("classroom-transaction");
if (code && stored) {
  history.replaceState(null, "", location.pathname);
  show("start-panel", false);
  poll(stored, code);
}
