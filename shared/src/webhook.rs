//! Inbound payment webhooks: Standard Webhooks signatures and the `cobranca` generic payload.
//! (https://www.standardwebhooks.com: HMAC-SHA256 over "{id}.{timestamp}.{body}", base64, `v1,` prefix.)

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::charge::PaymentMethod;
use crate::ids::ChargeId;
use crate::money::Money;

/// How far a webhook's timestamp may be from our clock, either way (replay protection).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// One signing secret, as issued: "whsec_" + base64 of the key bytes.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    pub fn parse(s: &str) -> Option<Self> {
        let body = s.trim().strip_prefix("whsec_")?;
        let key = B64.decode(body).ok()?;
        (key.len() >= 16).then_some(Self(key))
    }

    /// Several secrets separated by spaces or commas: during a rotation both the old and the new one verify.
    pub fn parse_list(s: &str) -> Vec<Self> {
        s.split([' ', ',', '\n']).filter(|p| !p.is_empty()).filter_map(Self::parse).collect()
    }

    pub fn generate() -> (Self, String) {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        (Self(key.to_vec()), format!("whsec_{}", B64.encode(key)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for a message (used by our senders and tests).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", B64.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("cabeçalhos de assinatura ausentes / missing webhook-id, webhook-timestamp or webhook-signature")]
    MissingHeaders,
    #[error("timestamp fora da tolerância / timestamp outside the 5-minute tolerance")]
    Stale,
    #[error("assinatura inválida / invalid signature")]
    Invalid,
}

/// Verifies a Standard Webhooks delivery against any of the current secrets. Comparison is constant-time.
pub fn verify(
    secrets: &[WebhookSecret],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let (Some(id), Some(ts), Some(sig)) = (id, timestamp, signature) else {
        return Err(SignatureError::MissingHeaders);
    };
    let ts: i64 = ts.trim().parse().map_err(|_| SignatureError::MissingHeaders)?;
    if (now.timestamp() - ts).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let candidates: Vec<Vec<u8>> = sig
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b| B64.decode(b).ok())
        .collect();
    for secret in secrets {
        for candidate in &candidates {
            if secret.mac(id, ts, body).verify_slice(candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Invalid)
}

/// A provider's word that money arrived for a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotice {
    /// The provider's delivery id: the same event redelivered carries the same id.
    pub event_id: String,
    pub provider: String,
    pub charge_id: Option<ChargeId>,
    pub raw_charge_ref: String,
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
    pub method: PaymentMethod,
    pub provider_payment_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("JSON inválido / malformed JSON: {0}")]
    Malformed(String),
    #[error("tipo de evento não suportado / unsupported event type: {0}")]
    UnsupportedType(String),
    #[error("campo inválido / invalid field {field}: {message}")]
    Field { field: &'static str, message: String },
}

#[derive(Deserialize)]
struct CobrancaEnvelope {
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct CobrancaPaymentData {
    charge_id: String,
    amount: serde_json::Value,
    paid_at: String,
    method: String,
    provider_payment_id: String,
}

/// Parses our generic `cobranca` protocol:
/// `{"type":"payment.confirmed","data":{"charge_id","amount":"150.00","paid_at","method","provider_payment_id"}}`.
pub fn parse_cobranca(event_id: &str, body: &[u8]) -> Result<PaymentNotice, PayloadError> {
    let env: CobrancaEnvelope = serde_json::from_slice(body).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    if env.kind != "payment.confirmed" {
        return Err(PayloadError::UnsupportedType(env.kind));
    }
    let d: CobrancaPaymentData = serde_json::from_value(env.data).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    let field = |field, message: String| PayloadError::Field { field, message };
    let amount = match &d.amount {
        serde_json::Value::String(s) => Money::parse(s).map_err(|e| field("data.amount", e.to_string()))?,
        _ => return Err(field("data.amount", "envie como texto, ex. \"150.00\" / send as a string".into())),
    };
    let paid_at = DateTime::parse_from_rfc3339(&d.paid_at)
        .map_err(|e| field("data.paid_at", e.to_string()))?
        .with_timezone(&Utc);
    let method = PaymentMethod::parse(&d.method).ok_or_else(|| field("data.method", d.method.clone()))?;
    if d.provider_payment_id.is_empty() || d.provider_payment_id.len() > 200 {
        return Err(field("data.provider_payment_id", "1..200 chars".into()));
    }
    Ok(PaymentNotice {
        event_id: event_id.to_string(),
        provider: "cobranca".into(),
        charge_id: ChargeId::parse(&d.charge_id).ok(),
        raw_charge_ref: d.charge_id.chars().take(100).collect(),
        amount,
        paid_at,
        method,
        provider_payment_id: d.provider_payment_id,
    })
}

/// Parses the BCB Pix API webhook a PSP sends for received Pix:
/// `{"pix":[{"endToEndId","txid","valor":"110.00","horario":"2020-09-10T13:03:33.902Z","infoPagador",
/// "devolucoes":[…]}]}`. Each Pix becomes a notice keyed by its endToEndId (unique per payment in the SPI), so a
/// redelivered webhook is recognised. Refunds (`devolucoes`) are not applied yet: they are logged.
pub fn parse_bcb_pix(body: &[u8]) -> Result<Vec<PaymentNotice>, PayloadError> {
    #[derive(Deserialize)]
    struct Envelope {
        pix: Vec<Pix>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Pix {
        end_to_end_id: String,
        #[serde(default)]
        txid: Option<String>,
        valor: String,
        horario: String,
        #[serde(default)]
        devolucoes: Vec<serde_json::Value>,
    }
    let env: Envelope = serde_json::from_slice(body).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    let field = |field, message: String| PayloadError::Field { field, message };
    env.pix
        .into_iter()
        .map(|p| {
            // E + ISPB (8) + yyyyMMddHHmm + 11 alphanumerics: 32 characters.
            if p.end_to_end_id.len() != 32 || !p.end_to_end_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(field("pix.endToEndId", "32 caracteres alfanuméricos / 32 alphanumeric characters".into()));
            }
            if !p.devolucoes.is_empty() {
                tracing::warn!(end_to_end_id = %p.end_to_end_id, refunds = p.devolucoes.len(), "pix refunds received; not applied yet");
            }
            let txid = p.txid.unwrap_or_default();
            Ok(PaymentNotice {
                event_id: format!("pix:{}", p.end_to_end_id),
                provider: "pix".into(),
                charge_id: crate::pay::setup::charge_of_txid(&txid),
                raw_charge_ref: txid.chars().take(35).collect(),
                amount: Money::parse(&p.valor).map_err(|e| field("pix.valor", e.to_string()))?,
                paid_at: DateTime::parse_from_rfc3339(&p.horario).map_err(|e| field("pix.horario", e.to_string()))?.with_timezone(&Utc),
                method: PaymentMethod::Pix,
                provider_payment_id: p.end_to_end_id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reads_the_bcb_pix_webhook() {
        let body = br#"{"pix":[{"endToEndId":"E12345678202009091221abcdef12345","txid":"1JD5X7K2M3N4P5Q6R7S8T9V0W","valor":"110.00","horario":"2020-09-09T20:15:00.358Z","infoPagador":"0123456789"},
                               {"endToEndId":"E12345678202009091221kkkkkkkkkkk","valor":"0.01","horario":"2020-09-09T20:16:00Z"}]}"#;
        let notices = parse_bcb_pix(body).unwrap();
        assert_eq!(notices.len(), 2);
        assert_eq!(notices[0].charge_id.as_ref().map(|c| c.as_str()), Some("chg_01jd5x7k2m3n4p5q6r7s8t9v0w"));
        assert_eq!((notices[0].amount, notices[0].method), (Money::parse("110.00").unwrap(), PaymentMethod::Pix));
        assert_eq!(notices[0].event_id, "pix:E12345678202009091221abcdef12345");
        assert_eq!(notices[1].charge_id, None, "no txid: kept as unmatched");
        assert!(matches!(parse_bcb_pix(br#"{"pix":[{"endToEndId":"E1","valor":"1.00","horario":"2020-09-09T20:16:00Z"}]}"#), Err(PayloadError::Field { field: "pix.endToEndId", .. })));
        assert!(matches!(parse_bcb_pix(br#"{"pix":[{"endToEndId":"E12345678202009091221kkkkkkkkkkk","valor":"1,00","horario":"2020-09-09T20:16:00Z"}]}"#), Err(PayloadError::Field { field: "pix.valor", .. })));
    }

    // The Standard Webhooks reference vector (../shared/reference/brazil-formats.md).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).unwrap()
    }

    #[test]
    fn reproduces_the_standard_webhooks_vector() {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(secret.sign(ID, TS, BODY), SIG);
        assert_eq!(verify(&[secret], Some(ID), Some("1614265330"), Some(SIG), BODY, at(TS)), Ok(()));
    }

    #[test]
    fn accepts_any_of_several_signatures_and_secrets_during_rotation() {
        let (old, _) = WebhookSecret::generate();
        let new = WebhookSecret::parse(SECRET).unwrap();
        let header = format!("v1,bm90IGl0 {SIG}");
        assert_eq!(verify(&[old, new], Some(ID), Some("1614265330"), Some(&header), BODY, at(TS)), Ok(()));
    }

    #[test]
    fn rejects_stale_tampered_or_unsigned_deliveries() {
        let s = || vec![WebhookSecret::parse(SECRET).unwrap()];
        assert_eq!(verify(&s(), Some(ID), Some("1614265330"), Some(SIG), BODY, at(TS + 301)), Err(SignatureError::Stale));
        assert_eq!(verify(&s(), Some(ID), Some("1614265330"), Some(SIG), b"{\"test\": 1}", at(TS)), Err(SignatureError::Invalid));
        assert_eq!(verify(&s(), Some("msg_other"), Some("1614265330"), Some(SIG), BODY, at(TS)), Err(SignatureError::Invalid));
        assert_eq!(verify(&s(), Some(ID), None, Some(SIG), BODY, at(TS)), Err(SignatureError::MissingHeaders));
        let (rotated_out, _) = WebhookSecret::generate();
        assert_eq!(verify(&[rotated_out], Some(ID), Some("1614265330"), Some(SIG), BODY, at(TS)), Err(SignatureError::Invalid));
    }

    #[test]
    fn parses_the_cobranca_payment_payload() {
        let body = br#"{"type":"payment.confirmed","data":{"charge_id":"chg_01abc","amount":"150.00","paid_at":"2026-12-06T10:00:00-03:00","method":"pix","provider_payment_id":"E123"}}"#;
        let n = parse_cobranca("msg_1", body).unwrap();
        assert_eq!(n.charge_id.unwrap().as_str(), "chg_01abc");
        assert_eq!(n.amount, Money::parse("150.00").unwrap());
        assert_eq!(n.paid_at, Utc.with_ymd_and_hms(2026, 12, 6, 13, 0, 0).unwrap());
    }

    #[test]
    fn rejects_float_amounts_and_unknown_methods() {
        let float = br#"{"type":"payment.confirmed","data":{"charge_id":"chg_1","amount":150.0,"paid_at":"2026-12-06T10:00:00Z","method":"pix","provider_payment_id":"E1"}}"#;
        assert!(matches!(parse_cobranca("m", float), Err(PayloadError::Field { field: "data.amount", .. })));
        let method = br#"{"type":"payment.confirmed","data":{"charge_id":"chg_1","amount":"1.00","paid_at":"2026-12-06T10:00:00Z","method":"cash","provider_payment_id":"E1"}}"#;
        assert!(matches!(parse_cobranca("m", method), Err(PayloadError::Field { field: "data.method", .. })));
    }
}
