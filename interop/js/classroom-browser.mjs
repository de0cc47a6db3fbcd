// Drives the verifier's demo relying party page (the "immersive classroom") in a real
// headless Chromium, for crates/symbolon/tests/classroom_browser.rs.
//
//   node classroom-browser.mjs <page-url>
//
// Protocol with the test, one JSON object per line:
//   1. opens the page, clicks "Enter the classroom", waits until the QR code image has
//      loaded and the same-device link is set, and prints
//      {"authorization_request": "<openid4vp://…>", "qr_width": <px>}
//   2. reads one line from stdin: a URL (the redirect the wallet got back, same-device
//      flow: the page is opened at it and exchanges the response code) or an empty line
//      (cross-device: the page keeps polling);
//   3. waits for the decision and prints
//      {"result": "granted", "claims": {name: value, …}} or
//      {"result": "denied", "reason": "<text>"}
// and exits 0. Any failure is printed to stderr with exit code 1.
//
// Chromium: $CHROMIUM, else /usr/bin/chromium (Debian's package).

import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [pageUrl] = process.argv.slice(2);
if (!pageUrl) {
  console.error("usage: node classroom-browser.mjs <page-url>");
  process.exit(2);
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async () => {
  const { value, done } = await lines.next();
  if (done) throw new Error("stdin closed before the test answered");
  return value.trim();
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Running as root in CI: Chromium refuses its sandbox there.
  args: ["--no-sandbox"],
});

try {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // Failed loads are reported with their URL below; other console errors count.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });

  await page.goto(pageUrl);
  await page.click("#start");
  const link = page.locator("#same-device");
  await page.waitForFunction(() => document.getElementById("same-device").href.startsWith("openid4vp://"));
  const qr = page.locator("#qr");
  await qr.waitFor({ state: "visible" });
  await page.waitForFunction(() => {
    const img = document.getElementById("qr");
    return img.complete && img.naturalWidth > 0;
  });
  const qrWidth = await qr.evaluate((img) => img.naturalWidth);
  console.log(JSON.stringify({ authorization_request: await link.getAttribute("href"), qr_width: qrWidth }));

  const redirect = await nextLine();
  if (redirect) await page.goto(redirect);

  const granted = page.locator("#granted-panel");
  const denied = page.locator("#denied-panel");
  await Promise.race([
    granted.waitFor({ state: "visible", timeout: 60_000 }),
    denied.waitFor({ state: "visible", timeout: 60_000 }),
  ]);
  if (await granted.isVisible()) {
    const claims = await page.evaluate(() => {
      const out = {};
      const items = [...document.querySelectorAll("#claims > *")];
      for (let i = 0; i + 1 < items.length; i += 2) out[items[i].textContent] = items[i + 1].textContent;
      return out;
    });
    console.log(JSON.stringify({ result: "granted", claims, problems }));
  } else {
    console.log(JSON.stringify({ result: "denied", reason: await page.locator("#reason").textContent(), problems }));
  }
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
process.exit(process.exitCode ?? 0);
