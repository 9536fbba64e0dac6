//! Correios letter with the boleto through a print-and-post provider: Lob's Letters API, `POST {api}/v1/letters`
//! with HTTP basic auth (the secret API key as user name, no password), an `Idempotency-Key` header (the reminder
//! id: a retried send never prints a second letter) and a JSON body: `to` (the payer, an inline international
//! address with `address_country: "BR"`: street and number in line 1, complement and district in line 2, city,
//! UF as state, the CEP as zip), `from` (the deployment's return address: Lob requires a US one unless a custom
//! envelope is used), `file` (the letter as HTML), `color: false`, `use_type: "operational"`, `mail_type`,
//! `address_placement: "insert_blank_page"` (a blank address page, so the HTML needs no address window), and
//! `metadata` with the charge and reminder ids. No documented Brazilian print-and-post API (one taking a letter
//! file and an address and answering with tracking events) could be found; the adapter sits behind
//! `NotificationSender` like the others, so one can replace Lob without touching the rest.
//!
//! The letter (`letter_html`): the merchant's name and CPF/CNPJ at the top (CDC art. 42-A), the payer's name and
//! address, the message text (HTML-escaped), and the boleto slip: bank, amount ("R$ 1.234,56"), due date
//! (dd/mm/aaaa), the formatted linha digitável and the barcode as ITF-25 SVG (`pay::boleto::itf25_svg`, the
//! renderer the payer's page uses, at FEBRABAN's print size). Without a postal address or a boleto the message is
//! refused (permanent): the letter channel exists to carry the boleto.
//!
//! Answers: 200 with the letter object (`id` "ltr_…" is the provider message id). Errors come as
//! `{"error": {"message", "status_code", "code"}}`: 422 (validation, e.g. `invalid`), 404, 413 and other 4xx are
//! permanent; 401 / 403 are permanent too (an operator must fix the key or the account); 429, 5xx, network errors
//! and timeouts are retried (the idempotency key makes the retry safe).
//!
//! Status callbacks: Lob webhooks post events `{"id": "evt_…", "event_type": {"id": "letter.delivered", …},
//! "reference_id": "ltr_…", "body": {the letter}, "date_created"}`, signed: `Lob-Signature` is the hex
//! HMAC-SHA256, keyed with the webhook's secret, of `{Lob-Signature-Timestamp}.{raw body}`; deliveries older or
//! newer than five minutes are refused (replays). `letter.mailed` and the tracking scans (`in_transit`,
//! `in_local_area`, `processed_for_delivery`, `international_exit`, `re-routed`) → sent; `letter.delivered` →
//! delivered; `letter.returned_to_sender`, `letter.rejected`, `letter.failed` → failed. Certified letters'
//! `letter.certified.*` events read the same.

/// What it declares about itself, for the registry of channels.
#[cfg(feature = "aws")]
pub mod connector;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::domain::notification::{date_br, BoletoSlip, Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};
use crate::domain::pay::boleto::{itf25_svg, Barcode, Linha};
use crate::domain::tracking::{CallbackError, MessageStatus, StatusUpdate};

/// The provider name in `StatusUpdate::provider`.
pub const PROVIDER: &str = "lob";
/// How far a callback's timestamp may be from our clock, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A return address in Lob's inline address form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnAddress {
    pub name: String,
    pub address_line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    pub address_city: String,
    pub address_state: String,
    pub address_zip: String,
    /// "US".
    pub address_country: String,
}

#[derive(Clone)]
pub struct LobConfig {
    /// `https://api.lob.com`.
    pub api_url: String,
    /// The secret API key (`live_…`, or `test_…` for test letters that are never printed).
    pub api_key: String,
    pub return_address: ReturnAddress,
    /// `usps_first_class` (the only class Lob sends abroad).
    pub mail_type: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for LobConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LobConfig")
            .field("api_url", &self.api_url)
            .field("api_key", &"***")
            .field("return_address", &self.return_address)
            .field("mail_type", &self.mail_type)
            .finish()
    }
}

pub struct LobLetters {
    config: LobConfig,
    http: reqwest::Client,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The message text without its footer, and the sender identity (the footer's first line: "Loja · CNPJ …").
fn split_footer(m: &OutgoingMessage) -> (String, String) {
    let text = m.text.trim_end();
    let (main, footer) = match text.rfind("\n--\n") {
        Some(at) => (&text[..at], &text[at + 4..]),
        None => (text, ""),
    };
    let identity = footer
        .lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .or_else(|| m.template_params.get(4).cloned())
        .unwrap_or_default();
    (main.trim().to_string(), identity)
}

/// The boleto's printable parts: checked before anything is sent.
struct Slip {
    line: String,
    barcode_svg: String,
}

fn slip(b: &BoletoSlip) -> Result<Slip, SendError> {
    let barcode = Barcode::parse(&b.barcode).map_err(|e| SendError::Permanent(format!("letter: boleto barcode: {e}")))?;
    let linha = Linha::parse(&b.digitable_line).map_err(|e| SendError::Permanent(format!("letter: boleto digitable line: {e}")))?;
    if linha.to_barcode().as_str() != barcode.as_str() {
        return Err(SendError::Permanent("letter: the boleto's digitable line and barcode disagree".into()));
    }
    Ok(Slip { line: linha.formatted(), barcode_svg: itf25_svg(&barcode) })
}

/// The letter as HTML (see the module documentation).
pub fn letter_html(m: &OutgoingMessage) -> Result<String, SendError> {
    let address = m.postal_address.as_ref().ok_or_else(|| SendError::Permanent("letter: the payer has no postal address".into()))?;
    let boleto = m.boleto.as_ref().ok_or_else(|| SendError::Permanent("letter: the charge has no boleto to print".into()))?;
    let printed = slip(boleto)?;
    let (text, identity) = split_footer(m);
    let paragraphs: String = text.split("\n\n").map(|p| format!("<p>{}</p>", escape(p.trim()).replace('\n', "<br>"))).collect();
    let complement = address.complement.as_deref().map(|c| format!(", {}", escape(c))).unwrap_or_default();
    Ok(format!(
        "<!doctype html><html lang=\"pt-BR\"><head><meta charset=\"utf-8\"><style>\
         body{{font-family:Helvetica,Arial,sans-serif;font-size:11pt;margin:0.75in}}\
         .sender{{font-size:10pt;border-bottom:1px solid #000;padding-bottom:6pt}}\
         .payer{{margin:18pt 0}}\
         .slip{{border:1px dashed #000;padding:10pt;margin-top:24pt;page-break-inside:avoid}}\
         .slip td{{padding:2pt 8pt 2pt 0;vertical-align:top}}\
         .line{{font-family:'Courier New',monospace;font-size:12pt;font-weight:bold}}\
         </style></head><body>\
         <div class=\"sender\"><strong>{identity}</strong></div>\
         <div class=\"payer\">{name}<br>{street}, {number}{complement}<br>{district}<br>{city}/{state}<br>CEP {cep}</div>\
         <div class=\"message\">{paragraphs}</div>\
         <div class=\"slip\"><table>\
         <tr><td>Beneficiário</td><td>{identity}</td></tr>\
         <tr><td>Pagador</td><td>{name}</td></tr>\
         <tr><td>Banco</td><td>{bank}</td></tr>\
         <tr><td>Valor</td><td><strong>{amount}</strong></td></tr>\
         <tr><td>Vencimento</td><td><strong>{due}</strong></td></tr>\
         </table>\
         <p class=\"line\">{line}</p>\
         <div class=\"barcode\">{barcode}</div></div>\
         </body></html>",
        identity = escape(&identity),
        name = escape(&m.payer_name),
        street = escape(&address.street),
        number = escape(&address.number),
        district = escape(&address.district),
        city = escape(&address.city),
        state = escape(&address.state),
        cep = address.cep.formatted(),
        bank = escape(&boleto.bank),
        amount = boleto.amount.to_brl(),
        due = date_br(boleto.due_date),
        line = printed.line,
        barcode = printed.barcode_svg,
    ))
}

impl LobLetters {
    pub fn new(config: LobConfig) -> Self {
        let http = reqwest::Client::builder().timeout(config.timeout).build().expect("HTTP client");
        Self { config, http }
    }

    /// The request body for one letter (public for the tests and the docs).
    pub fn body(&self, m: &OutgoingMessage) -> Result<Value, SendError> {
        let html = letter_html(m)?;
        let a = m.postal_address.as_ref().expect("letter_html checked the address");
        let line2 = match &a.complement {
            Some(c) if !c.trim().is_empty() => format!("{c} - {}", a.district),
            _ => a.district.clone(),
        };
        Ok(json!({
            "description": format!("cobranca {} {}", m.charge_id.as_str(), m.reminder_id),
            "to": {
                "name": m.payer_name,
                "address_line1": format!("{}, {}", a.street, a.number),
                "address_line2": line2,
                "address_city": a.city,
                "address_state": a.state,
                "address_zip": a.cep.formatted(),
                "address_country": "BR",
            },
            "from": self.config.return_address,
            "file": html,
            "color": false,
            "use_type": "operational",
            "mail_type": self.config.mail_type,
            "address_placement": "insert_blank_page",
            "metadata": {"charge_id": m.charge_id.as_str(), "reminder_id": m.reminder_id},
        }))
    }
}

#[async_trait]
impl NotificationSender for LobLetters {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        if m.channel != Channel::Letter {
            return Err(SendError::Permanent(format!("the letter adapter cannot send {}", m.channel.as_str())));
        }
        let body = self.body(m)?;
        let url = format!("{}/v1/letters", self.config.api_url.trim_end_matches('/'));
        let response = self
            .http
            .post(url)
            .basic_auth(&self.config.api_key, Some(""))
            .header("Idempotency-Key", &m.reminder_id)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::Transient(if e.is_timeout() { "lob: timeout".into() } else { format!("lob: network: {e}") }))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return answer["id"]
                .as_str()
                .map(SendReceipt::new)
                .ok_or_else(|| SendError::Transient(format!("lob: 2xx without a letter id: {answer}")));
        }
        let error = &answer["error"];
        let detail = format!("lob {status}: {} {}", error["code"].as_str().unwrap_or("error"), error["message"].as_str().unwrap_or(""));
        tracing::warn!(status, code = error["code"].as_str(), "lob letter failed");
        match status {
            429 | 500..=599 => Err(SendError::Transient(detail)),
            401 | 403 => Err(SendError::Permanent(format!("{detail} (check the Lob API key and account)"))),
            _ => Err(SendError::Permanent(detail)),
        }
    }
}

/// The `Lob-Signature` a body gets at a timestamp (used by the tests; Lob computes the same).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A Lob webhook event as status updates (none for events that change nothing), once `lob-signature` and
/// `lob-signature-timestamp` (header names in lower case) check out against `secret` at `now`. The timestamp is
/// read in milliseconds or seconds since the epoch, whichever it is.
pub fn parse_status_callback(
    headers: &HashMap<String, String>,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Vec<StatusUpdate>, CallbackError> {
    let unauthorized = |why: &str| CallbackError::Unauthorized(format!("lob: {why}"));
    let (Some(signature), Some(timestamp)) = (headers.get("lob-signature"), headers.get("lob-signature-timestamp")) else {
        return Err(unauthorized("missing Lob-Signature or Lob-Signature-Timestamp"));
    };
    if secret.is_empty() {
        return Err(unauthorized("no webhook secret configured"));
    }
    let ts: i64 = timestamp.trim().parse().map_err(|_| unauthorized("unreadable Lob-Signature-Timestamp"))?;
    let seconds = if ts > 100_000_000_000 { ts / 1000 } else { ts };
    if (now.timestamp() - seconds).abs() > TOLERANCE_SECONDS {
        return Err(unauthorized("timestamp outside the five-minute tolerance"));
    }
    let given = hex::decode(signature.trim()).map_err(|_| unauthorized("Lob-Signature is not hex"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| unauthorized("signature does not match"))?;

    let event: Value = serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("lob: {e}")))?;
    let kind = event["event_type"]["id"].as_str().ok_or_else(|| CallbackError::Malformed("lob: event_type.id missing".into()))?;
    let Some(tail) = kind.strip_prefix("letter.") else { return Ok(vec![]) };
    let tail = tail.strip_prefix("certified.").unwrap_or(tail);
    let status = match tail {
        "mailed" | "in_transit" | "in_local_area" | "processed_for_delivery" | "international_exit" | "re-routed" | "pickup_available" => {
            MessageStatus::Sent
        }
        "delivered" => MessageStatus::Delivered,
        "returned_to_sender" | "rejected" | "failed" => MessageStatus::Failed,
        _ => return Ok(vec![]),
    };
    let id =
        event["body"]["id"].as_str().or(event["reference_id"].as_str()).ok_or_else(|| CallbackError::Malformed("lob: letter id missing".into()))?;
    let at = event["date_created"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| CallbackError::Malformed("lob: date_created missing".into()))?;
    let detail = (status == MessageStatus::Failed).then(|| format!("lob: {kind}"));
    Ok(vec![StatusUpdate { provider: PROVIDER.into(), provider_message_id: id.to_string(), status, at, detail, suppress_recipient: false }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::address::{Address, Cep};
    use crate::domain::ids::{ChargeId, MerchantId};
    use crate::domain::money::Money;
    use chrono::{NaiveDate, TimeZone};
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // A Banco do Brasil boleto with valid check digits (pay::boleto's test vector).
    const LINHA: &str = "00190000090285254700500000123174899990000012345";

    fn lob(server: &MockServer) -> LobLetters {
        LobLetters::new(LobConfig {
            api_url: server.uri(),
            api_key: "test_0dc8d51e0acffcb1880e0f19c79b2f5b0cc".into(),
            return_address: ReturnAddress {
                name: "COBRANCA MAIL".into(),
                address_line1: "210 KING ST STE 6100".into(),
                address_line2: None,
                address_city: "SAN FRANCISCO".into(),
                address_state: "CA".into(),
                address_zip: "94107".into(),
                address_country: "US".into(),
            },
            mail_type: "usps_first_class".into(),
            timeout: Duration::from_secs(2),
        })
    }

    fn message() -> OutgoingMessage {
        let linha = Linha::parse(LINHA).unwrap();
        OutgoingMessage {
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            reminder_id: "before_due_20d.0.letter".into(),
            step: "before_due".into(),
            channel: Channel::Letter,
            recipient: "Maria Silva".into(),
            subject: "Lembrete de vencimento".into(),
            text: "Olá, Maria!\n\nSua cobrança <Mensalidade> de R$ 1.234,56 vence em 10/12/2026.\nO boleto segue abaixo.\n--\nLoja Exemplo Ltda · CNPJ 11.222.333/0001-81\nMensagem enviada por Loja Exemplo Ltda por meio do cobranca.".into(),
            template_params: vec!["Maria".into(), "R$ 1.234,56".into(), "10/12/2026".into(), "https://pay.example.com/pay/t".into(), "Loja Exemplo Ltda".into()],
            payer_name: "Maria Silva".into(),
            postal_address: Some(Address {
                street: "Av. Paulista".into(),
                number: "1000".into(),
                complement: Some("apto 12".into()),
                district: "Bela Vista".into(),
                city: "São Paulo".into(),
                state: "SP".into(),
                cep: Cep::parse("01310-100").unwrap(),
            }),
            boleto: Some(BoletoSlip {
                digitable_line: LINHA.into(),
                barcode: linha.to_barcode().as_str().into(),
                bank: "Banco do Brasil (001)".into(),
                amount: Money::parse("1234.56").unwrap(),
                due_date: NaiveDate::from_ymd_opt(2026, 12, 10).unwrap(),
            }),
        }
    }

    #[test]
    fn the_letter_names_the_sender_escapes_the_text_and_prints_the_boleto() {
        let html = letter_html(&message()).unwrap();
        assert!(html.contains("<strong>Loja Exemplo Ltda · CNPJ 11.222.333/0001-81</strong>"), "{html}");
        assert!(html.contains("Av. Paulista, 1000, apto 12<br>Bela Vista<br>São Paulo/SP<br>CEP 01310-100"));
        assert!(html.contains("&lt;Mensalidade&gt;") && !html.contains("<Mensalidade>"));
        assert!(!html.contains("Mensagem enviada por"), "the footer prints once, as the sender");
        assert!(html.contains("R$ 1.234,56") && html.contains("10/12/2026") && html.contains("Banco do Brasil (001)"));
        assert!(html.contains(&Linha::parse(LINHA).unwrap().formatted()));
        assert!(html.contains("<svg") && html.contains("height=\"13mm\""));
    }

    #[test]
    fn without_an_address_or_a_boleto_nothing_is_sent() {
        let mut m = message();
        m.postal_address = None;
        assert!(matches!(letter_html(&m), Err(SendError::Permanent(e)) if e.contains("address")));
        let mut m = message();
        m.boleto = None;
        assert!(matches!(letter_html(&m), Err(SendError::Permanent(e)) if e.contains("boleto")));
        let mut m = message();
        m.boleto.as_mut().unwrap().barcode = "0".repeat(44);
        assert!(matches!(letter_html(&m), Err(SendError::Permanent(_))));
    }

    #[tokio::test]
    async fn posts_the_letter_with_basic_auth_idempotency_key_and_brazilian_address() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/letters"))
            // base64("test_0dc8d51e0acffcb1880e0f19c79b2f5b0cc:")
            .and(header("authorization", "Basic dGVzdF8wZGM4ZDUxZTBhY2ZmY2IxODgwZTBmMTljNzliMmY1YjBjYzo="))
            .and(header("idempotency-key", "before_due_20d.0.letter"))
            .and(header("content-type", "application/json"))
            .and(body_partial_json(json!({
                "to": {"name": "Maria Silva", "address_line1": "Av. Paulista, 1000", "address_line2": "apto 12 - Bela Vista", "address_city": "São Paulo",
                       "address_state": "SP", "address_zip": "01310-100", "address_country": "BR"},
                "from": {"name": "COBRANCA MAIL", "address_line1": "210 KING ST STE 6100", "address_city": "SAN FRANCISCO", "address_state": "CA", "address_zip": "94107", "address_country": "US"},
                "color": false, "use_type": "operational", "mail_type": "usps_first_class", "address_placement": "insert_blank_page",
                "metadata": {"charge_id": "chg_1", "reminder_id": "before_due_20d.0.letter"}
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "ltr_4868c3b754655f90", "description": "cobranca chg_1 before_due_20d.0.letter", "metadata": {"charge_id": "chg_1", "reminder_id": "before_due_20d.0.letter"},
                "color": false, "double_sided": true, "address_placement": "insert_blank_page", "mail_type": "usps_first_class", "carrier": "USPS",
                "tracking_number": null, "tracking_events": [], "expected_delivery_date": "2026-11-25", "object": "letter"
            })))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(lob(&server).send(&message()).await.unwrap().provider_message_id, "ltr_4868c3b754655f90");
        let sent: Value = serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
        assert_eq!(sent["file"].as_str().unwrap(), letter_html(&message()).unwrap());
    }

    fn lob_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_json(json!({"error": {"message": message, "status_code": status, "code": code}}))
    }

    #[tokio::test]
    async fn maps_lobs_errors_to_retry_or_give_up() {
        let cases = [
            (lob_error(422, "invalid", "address_zip is required or must be a valid zip code"), false),
            (lob_error(401, "unauthorized", "Your API key is not valid. Please sign up on lob.com to get a valid api key."), false),
            (lob_error(403, "forbidden", "Forbidden error with your API key or account"), false),
            (lob_error(404, "not_found", "to address not found"), false),
            (lob_error(429, "rate_limit_exceeded", "Rate limit exceeded. Please wait 5 seconds and try your request again."), true),
            (lob_error(500, "internal_server_error", "An internal server error occurred, please contact support@lob.com"), true),
        ];
        for (response, transient) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST")).respond_with(response).mount(&server).await;
            let got = lob(&server).send(&message()).await;
            assert_eq!(matches!(got, Err(SendError::Transient(_))), transient, "{got:?}");
            assert!(got.is_err());
        }
    }

    const SECRET: &str = "lob_webhook_secret_for_tests";

    fn signed(body: &[u8], timestamp: &str) -> HashMap<String, String> {
        HashMap::from([("lob-signature".to_string(), sign(SECRET, timestamp, body)), ("lob-signature-timestamp".to_string(), timestamp.to_string())])
    }

    fn event_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 14, 3, 11).unwrap()
    }

    #[test]
    fn reads_signed_tracking_events() {
        let delivered = include_bytes!("../../../../tests/fixtures/providers/lob_letter_delivered.json");
        let ms = (event_at().timestamp() * 1000 + 250).to_string();
        let updates = parse_status_callback(&signed(delivered, &ms), delivered, SECRET, event_at()).unwrap();
        assert_eq!(updates.len(), 1);
        assert_eq!((updates[0].provider_message_id.as_str(), updates[0].status), ("ltr_4868c3b754655f90", MessageStatus::Delivered));
        assert_eq!(updates[0].at.to_rfc3339(), "2026-11-27T14:03:10.712+00:00");
        for (kind, status) in [
            ("letter.mailed", Some(MessageStatus::Sent)),
            ("letter.in_transit", Some(MessageStatus::Sent)),
            ("letter.returned_to_sender", Some(MessageStatus::Failed)),
            ("letter.certified.delivered", Some(MessageStatus::Delivered)),
            ("letter.rendered_pdf", None),
            ("postcard.delivered", None),
        ] {
            let body = String::from_utf8_lossy(delivered).replace("\"letter.delivered\"", &format!("\"{kind}\""));
            let seconds = event_at().timestamp().to_string();
            let got = parse_status_callback(&signed(body.as_bytes(), &seconds), body.as_bytes(), SECRET, event_at()).unwrap();
            assert_eq!(got.first().map(|u| u.status), status, "{kind}");
        }
    }

    #[test]
    fn refuses_forged_stale_or_unsigned_events() {
        let delivered = include_bytes!("../../../../tests/fixtures/providers/lob_letter_delivered.json");
        let ts = event_at().timestamp().to_string();
        let headers = signed(delivered, &ts);
        let forged = String::from_utf8_lossy(delivered).replace("ltr_4868c3b754655f90", "ltr_0000000000000000");
        assert!(matches!(parse_status_callback(&headers, forged.as_bytes(), SECRET, event_at()), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(parse_status_callback(&headers, delivered, "another secret", event_at()), Err(CallbackError::Unauthorized(_))));
        let late = event_at() + chrono::Duration::minutes(6);
        assert!(matches!(parse_status_callback(&headers, delivered, SECRET, late), Err(CallbackError::Unauthorized(m)) if m.contains("tolerance")));
        assert!(matches!(parse_status_callback(&HashMap::new(), delivered, SECRET, event_at()), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(parse_status_callback(&headers, delivered, "", event_at()), Err(CallbackError::Unauthorized(_))));
    }
}
