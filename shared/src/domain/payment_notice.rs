//! Payment notices in: what a payment provider tells us happened to a charge (paid, refunded, charged back), with
//! the Standard Webhooks signatures they arrive under and the `cobranca` generic payload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::charge::PaymentMethod;
use crate::domain::ids::ChargeId;
use crate::domain::money::Money;
use crate::domain::payment::EntryKind;

/// A provider's word that money moved for a charge: a payment, or a refund or chargeback of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentNotice {
    /// The provider's delivery id: the same event redelivered carries the same id.
    pub event_id: String,
    pub provider: String,
    pub charge_id: Option<ChargeId>,
    pub raw_charge_ref: String,
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
    pub method: PaymentMethod,
    /// The provider's id of this movement (for a refund, the refund's own id).
    pub provider_payment_id: String,
    #[serde(default)]
    pub kind: EntryKind,
    /// For a refund or chargeback: the provider id of the payment it reverses.
    #[serde(default)]
    pub reverses: Option<String>,
    /// Set when the notice came through a merchant's own request, so unmatched ones are attributed.
    #[serde(default)]
    pub merchant_id: Option<crate::domain::ids::MerchantId>,
}

/// An event of our generic protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CobrancaEvent {
    /// Money moved: `payment.confirmed` (a card's capture included), `payment.refunded`, `payment.chargeback`.
    Money(PaymentNotice),
    /// A status without money (`payment.authorized`, `payment.pending`, `payment.refused`): acknowledged and
    /// logged, never applied, so a late "pending" cannot move a paid charge back.
    Status { kind: String, charge_ref: String },
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
    #[serde(alias = "refunded_at", alias = "disputed_at")]
    paid_at: String,
    method: String,
    provider_payment_id: String,
    #[serde(default)]
    refund_id: Option<String>,
    #[serde(default)]
    chargeback_id: Option<String>,
}

/// Parses our generic `cobranca` protocol:
/// `{"type":"payment.confirmed","data":{"charge_id","amount":"150.00","paid_at","method","provider_payment_id"}}`;
/// `payment.refunded` adds `refund_id` (and gives `refunded_at`), `payment.chargeback` adds `chargeback_id`
/// (`disputed_at`); `payment.authorized`, `payment.pending` and `payment.refused` carry no money.
pub fn parse_cobranca(event_id: &str, body: &[u8]) -> Result<CobrancaEvent, PayloadError> {
    let env: CobrancaEnvelope = serde_json::from_slice(body).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    let kind = match env.kind.as_str() {
        "payment.confirmed" => EntryKind::Payment,
        "payment.refunded" => EntryKind::Refund,
        "payment.chargeback" => EntryKind::Chargeback,
        "payment.authorized" | "payment.pending" | "payment.refused" => {
            let charge_ref = env.data.get("charge_id").and_then(|c| c.as_str()).unwrap_or_default().chars().take(100).collect();
            return Ok(CobrancaEvent::Status { kind: env.kind, charge_ref });
        }
        _ => return Err(PayloadError::UnsupportedType(env.kind)),
    };
    let d: CobrancaPaymentData = serde_json::from_value(env.data).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    let field = |field, message: String| PayloadError::Field { field, message };
    let amount = match &d.amount {
        serde_json::Value::String(s) => Money::parse(s).map_err(|e| field("data.amount", e.to_string()))?,
        _ => return Err(field("data.amount", "envie como texto, ex. \"150.00\" / send as a string".into())),
    };
    let paid_at = DateTime::parse_from_rfc3339(&d.paid_at).map_err(|e| field("data.paid_at", e.to_string()))?.with_timezone(&Utc);
    let method = PaymentMethod::parse(&d.method).ok_or_else(|| field("data.method", d.method.clone()))?;
    let valid_id = |id: &str| !id.is_empty() && id.len() <= 200;
    if !valid_id(&d.provider_payment_id) {
        return Err(field("data.provider_payment_id", "1..200 chars".into()));
    }
    let (movement_id, reverses) = match kind {
        EntryKind::Payment => (d.provider_payment_id, None),
        EntryKind::Refund => {
            (d.refund_id.filter(|r| valid_id(r)).ok_or_else(|| field("data.refund_id", "1..200 chars".into()))?, Some(d.provider_payment_id))
        }
        EntryKind::Chargeback => {
            (d.chargeback_id.filter(|r| valid_id(r)).ok_or_else(|| field("data.chargeback_id", "1..200 chars".into()))?, Some(d.provider_payment_id))
        }
    };
    Ok(CobrancaEvent::Money(PaymentNotice {
        event_id: event_id.to_string(),
        provider: "cobranca".into(),
        charge_id: ChargeId::parse(&d.charge_id).ok(),
        raw_charge_ref: d.charge_id.chars().take(100).collect(),
        amount,
        paid_at,
        method,
        provider_payment_id: movement_id,
        kind,
        reverses,
        merchant_id: None,
    }))
}

/// Parses the BCB Pix API webhook a PSP sends for received Pix:
/// `{"pix":[{"endToEndId","txid","valor":"110.00","horario":"2020-09-10T13:03:33.902Z","infoPagador",
/// "devolucoes":[{"id","rtrId","valor","horario":{"solicitacao","liquidacao"},"status"}]}]}`. Each Pix becomes a
/// notice keyed by its endToEndId (unique per payment in the SPI), so a redelivered webhook is recognised; each
/// devolução with status DEVOLVIDO becomes a refund notice of that Pix, keyed by its rtrId. Devoluções still
/// EM_PROCESSAMENTO or NAO_REALIZADO moved no money and are left for the webhook that reports them settled.
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
        devolucoes: Vec<Devolucao>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Devolucao {
        id: String,
        #[serde(default)]
        rtr_id: Option<String>,
        valor: String,
        #[serde(default)]
        horario: Option<DevolucaoHorario>,
        status: String,
    }
    #[derive(Deserialize)]
    struct DevolucaoHorario {
        #[serde(default)]
        solicitacao: Option<String>,
        #[serde(default)]
        liquidacao: Option<String>,
    }
    let env: Envelope = serde_json::from_slice(body).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    let field = |field, message: String| PayloadError::Field { field, message };
    let instant = |f: &'static str, s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| field(f, e.to_string()));
    let mut notices = Vec::new();
    for p in env.pix {
        // E + ISPB (8) + yyyyMMddHHmm + 11 alphanumerics: 32 characters.
        if p.end_to_end_id.len() != 32 || !p.end_to_end_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(field("pix.endToEndId", "32 caracteres alfanuméricos / 32 alphanumeric characters".into()));
        }
        let txid = p.txid.unwrap_or_default();
        let charge_id = crate::domain::pay::setup::charge_of_txid(&txid);
        let paid_at = instant("pix.horario", &p.horario)?;
        notices.push(PaymentNotice {
            event_id: format!("pix:{}", p.end_to_end_id),
            provider: "pix".into(),
            charge_id: charge_id.clone(),
            raw_charge_ref: txid.chars().take(35).collect(),
            amount: Money::parse(&p.valor).map_err(|e| field("pix.valor", e.to_string()))?,
            paid_at,
            method: PaymentMethod::Pix,
            provider_payment_id: p.end_to_end_id.clone(),
            kind: EntryKind::Payment,
            reverses: None,
            merchant_id: None,
        });
        for d in p.devolucoes {
            if d.status != "DEVOLVIDO" {
                tracing::info!(end_to_end_id = %p.end_to_end_id, refund = %d.id, status = %d.status, "pix refund not settled yet");
                continue;
            }
            if d.id.is_empty() || d.id.len() > 35 || !d.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(field("pix.devolucoes.id", "1..35 caracteres alfanuméricos / 1..35 alphanumeric characters".into()));
            }
            let when = d.horario.as_ref().and_then(|h| h.liquidacao.clone().or_else(|| h.solicitacao.clone()));
            let refund_id = d.rtr_id.filter(|r| !r.is_empty()).unwrap_or_else(|| format!("{}:{}", p.end_to_end_id, d.id));
            notices.push(PaymentNotice {
                event_id: format!("pix:refund:{refund_id}"),
                provider: "pix".into(),
                charge_id: charge_id.clone(),
                raw_charge_ref: txid.chars().take(35).collect(),
                amount: Money::parse(&d.valor).map_err(|e| field("pix.devolucoes.valor", e.to_string()))?,
                paid_at: match when {
                    Some(w) => instant("pix.devolucoes.horario", &w)?,
                    None => paid_at,
                },
                method: PaymentMethod::Pix,
                provider_payment_id: refund_id,
                kind: EntryKind::Refund,
                reverses: Some(p.end_to_end_id.clone()),
                merchant_id: None,
            });
        }
    }
    Ok(notices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::standard_webhooks::*;
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
        assert!(matches!(
            parse_bcb_pix(br#"{"pix":[{"endToEndId":"E1","valor":"1.00","horario":"2020-09-09T20:16:00Z"}]}"#),
            Err(PayloadError::Field { field: "pix.endToEndId", .. })
        ));
        assert!(matches!(
            parse_bcb_pix(br#"{"pix":[{"endToEndId":"E12345678202009091221kkkkkkkkkkk","valor":"1,00","horario":"2020-09-09T20:16:00Z"}]}"#),
            Err(PayloadError::Field { field: "pix.valor", .. })
        ));
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
    fn timestamps_at_the_ends_of_i64_are_stale() {
        // Caught by fuzz/webhook_signature (seed timestamp-i64-min): `now - ts` overflowed (a panic with overflow checks; wrapped in release,
        // where for ts = now + i64::MIN the difference's abs() stayed negative and passed the staleness check).
        let s = vec![WebhookSecret::parse(SECRET).unwrap()];
        for ts in [i64::MIN, i64::MIN + 1, TS + i64::MIN, i64::MAX] {
            assert_eq!(verify(&s, Some(ID), Some(&ts.to_string()), Some(SIG), BODY, at(TS)), Err(SignatureError::Stale), "{ts}");
        }
    }

    #[test]
    fn parses_the_cobranca_payment_payload() {
        let body = br#"{"type":"payment.confirmed","data":{"charge_id":"chg_01abc","amount":"150.00","paid_at":"2026-12-06T10:00:00-03:00","method":"pix","provider_payment_id":"E123"}}"#;
        let CobrancaEvent::Money(n) = parse_cobranca("msg_1", body).unwrap() else { panic!("money") };
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
