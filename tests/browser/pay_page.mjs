// The payer's page in a real browser (Debian's Chromium driven by playwright-core), against a running local stack:
// a phone and a desktop open a charge's link, copy the Pix code (it must equal the API's), pick 6 installments (the
// total must be the API's), the provider confirms the payment and a reload shows the receipt; a second charge is
// paid by card through the page's own form (sandbox tokenization, no inline script under the CSP).
//
//   COBRANCA_URL=… COBRANCA_API_KEY=… COBRANCA_WEBHOOK_SECRET=whsec_… OUT_DIR=… node tests/browser/pay_page.mjs
import { chromium, devices } from "playwright-core";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const base = process.env.COBRANCA_URL;
const key = process.env.COBRANCA_API_KEY;
const secret = process.env.COBRANCA_WEBHOOK_SECRET;
const out = process.env.OUT_DIR ?? "test-output/browser";
mkdirSync(out, { recursive: true });

async function api(method, path, body) {
  const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
  const json = await r.json();
  assert.ok(r.status < 300, `${method} ${path} → ${r.status} ${JSON.stringify(json)}`);
  return json;
}

// Standard Webhooks, signed here with Node's own crypto: HMAC-SHA256 of "id.timestamp.body" with the decoded secret.
async function webhook(payload) {
  const id = `msg_browser_${Date.now()}`;
  const ts = Math.floor(Date.now() / 1000).toString();
  const body = JSON.stringify(payload);
  const sig = createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64")).update(`${id}.${ts}.${body}`).digest("base64");
  const r = await fetch(base + "/v1/webhooks/cobranca", { method: "POST", headers: { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": `v1,${sig}`, "content-type": "application/json" }, body });
  assert.equal(r.status, 200, await r.text());
}

const brl = (s) => "R$ " + Number(s).toFixed(2).replace(".", ",").replace(/\B(?=(\d{3})+(?!\d))/g, ".");
const due = new Date(Date.now() + 20 * 86400e3).toISOString().slice(0, 10);
const payer = { name: "Maria Silva", document: "529.982.247-25", email: "maria@example.com",
  address: { street: "Av. Paulista", number: "1000", district: "Bela Vista", city: "São Paulo", state: "SP", cep: "01310-100" } };
const charge = await api("POST", "/v1/charges", { customer: payer, amount: "1234.56", due_date: due, description: "Plano anual",
  payment_methods: ["pix", "boleto", "credit_card"], max_installments: 12 });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const errors = [];
try {
  for (const [name, options] of [["mobile", devices["Pixel 7"]], ["desktop", { viewport: { width: 1280, height: 900 } }]]) {
    const context = await browser.newContext({ ...options, locale: "pt-BR" });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    const page = await context.newPage();
    page.on("console", (m) => m.type() === "error" && errors.push(`${name}: ${m.text()}`));
    page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
    const response = await page.goto(charge.payment_url);
    assert.equal(response.status(), 200);
    assert.equal(response.headers()["cache-control"], "no-store");
    assert.match(response.headers()["content-security-policy"], /script-src 'self'/);
    assert.equal(await page.locator("#amount-due").textContent(), brl("1234.56"));

    // Copy the Pix code: the clipboard holds exactly the API's BR Code.
    await page.getByRole("button", { name: "Copiar código Pix" }).click();
    await page.getByText("Copiado!").first().waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), charge.pix.copy_paste);
    assert.ok(await page.locator("img.qr").evaluate((img) => img.complete && img.naturalWidth > 0), "QR code image loads");

    // Six installments: the label shows the API's total.
    const six = charge.card.installment_options[5];
    await page.getByRole("radio", { name: new RegExp(`^6x de`) }).check();
    const label = await page.locator("[data-installments='6']").textContent();
    assert.equal(label.trim(), `6x de ${brl(six.installment_amount)} — total ${brl(six.total)}`);

    await page.screenshot({ path: `${out}/open-${name}.png`, fullPage: true });
    await context.close();
  }

  // Accessibility: axe-core (WCAG 2 A/AA rules) finds nothing serious on the open page. axe is injected as an
  // inline script, which our CSP forbids, so this one context bypasses the CSP.
  {
    const context = await browser.newContext({ ...devices["Pixel 7"], locale: "pt-BR", bypassCSP: true });
    const page = await context.newPage();
    await page.goto(charge.payment_url);
    await page.addScriptTag({ path: createRequire(import.meta.url).resolve("axe-core/axe.min.js") });
    const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } }));
    const serious = result.violations.filter((v) => ["serious", "critical"].includes(v.impact));
    assert.ok(result.passes.length > 10, "axe ran its rules");
    assert.deepEqual(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`), [], "accessibility violations");
    await context.close();
  }

  // The provider confirms the payment; a reload shows the receipt.
  await webhook({ type: "payment.confirmed", data: { charge_id: charge.id, amount: "1234.56", paid_at: new Date().toISOString(), method: "pix", provider_payment_id: `E2E${Date.now()}` } });
  const context = await browser.newContext({ ...devices["Pixel 7"], locale: "pt-BR" });
  const page = await context.newPage();
  await page.goto(charge.payment_url);
  await page.getByRole("heading", { name: "Pagamento confirmado" }).waitFor();
  assert.equal((await page.locator("#status").textContent()).trim(), "Paga");
  await page.screenshot({ path: `${out}/paid-mobile.png`, fullPage: true });

  // A second charge, paid by card on the page: the fields go to the (sandbox) acquirer, the token to us.
  const second = await api("POST", "/v1/charges", { customer: payer, amount: "300.00", due_date: due, description: "Curso",
    payment_methods: ["credit_card"], max_installments: 6 });
  await page.goto(second.payment_url);
  await page.getByRole("radio", { name: /^3x de/ }).check();
  await page.getByLabel("Número do cartão").fill("4111 1111 1111 1111");
  await page.getByLabel("Nome impresso no cartão").fill("MARIA SILVA");
  await page.getByLabel("Validade (MM/AA)").fill("12/30");
  await page.getByLabel("CVV").fill("123");
  await page.getByRole("button", { name: "Pagar com cartão" }).click();
  await page.getByRole("heading", { name: "Pagamento confirmado" }).waitFor();
  const after = await api("GET", `/v1/charges/${second.id}`);
  assert.equal(after.status, "paid");
  await page.screenshot({ path: `${out}/card-paid-mobile.png`, fullPage: true });
  await context.close();
} finally {
  await browser.close();
}
assert.deepEqual(errors, [], "no console errors (a CSP violation would show here)");
console.log(JSON.stringify({ ok: true, screenshots: out }));
