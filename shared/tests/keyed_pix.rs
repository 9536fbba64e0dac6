//! Pix on every kind of charge: one made under an Idempotency-Key, a carnê installment and a subscription
//! charge (all three have ids derived from a key) each show a valid copia-e-cola and its QR code, and a Pix
//! webhook naming such a charge's txid settles it.

mod support;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};
use support::{due_in, App};

fn payer() -> Value {
    json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"})
}

/// CRC16-CCITT-FALSE written here, not taken from the crate under test.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The top-level TLV fields of a BR Code, read independently of `cobranca::domain::pay::pix`.
fn tlv(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let id = rest[..2].to_string();
        let len: usize = rest[2..4].parse().unwrap();
        out.push((id, rest[4..4 + len].to_string()));
        rest = &rest[4 + len..];
    }
    out
}

/// A copia-e-cola a bank app accepts: CRC right, txid (62-05) at most 25 characters [A-Za-z0-9], and the
/// charge's own txid; our parser reads it back too.
fn assert_valid_copia_e_cola(charge: &Value) {
    let code = charge["pix"]["copy_paste"].as_str().unwrap_or_else(|| panic!("no copia-e-cola: {}", charge["pix"]));
    let (body, crc) = code.split_at(code.len() - 4);
    assert!(body.ends_with("6304"));
    assert_eq!(format!("{:04X}", crc16(body.as_bytes())), crc, "CRC of {code}");
    let fields = tlv(code);
    let additional = &fields.iter().find(|(id, _)| id == "62").expect("field 62").1;
    let txid = tlv(additional).into_iter().find(|(id, _)| id == "05").expect("field 62-05").1;
    assert!(txid.len() <= 25 && txid.bytes().all(|b| b.is_ascii_alphanumeric()), "txid {txid}");
    assert_eq!(txid, charge["pix"]["txid"].as_str().unwrap());
    let parsed = cobranca::domain::pay::pix::parse_brcode(code).unwrap();
    assert_eq!(parsed.txid(), Some(txid.as_str()));
}

/// The QR code the payer's page links to is served, as SVG.
async fn assert_qr_code_served(app: &App, charge: &Value) {
    let url = charge["pix"]["qr_code_url"].as_str().unwrap();
    let page = app.page("GET", url.strip_prefix("https://pay.test").unwrap(), "").await;
    assert_eq!((page.status, page.content_type), (200, "image/svg+xml"), "{url}");
    assert!(String::from_utf8(page.body).unwrap().contains("<svg"));
}

async fn keyed_charge(app: &App, key: &str) -> Value {
    let body = json!({"customer": payer(), "amount": "150.00", "due_date": due_in(10), "description": "Mensalidade", "payment_methods": ["pix"], "max_installments": 1});
    let (status, charge) = app.call("POST", "/v1/charges", body, &[("idempotency-key", key)]).await;
    assert_eq!(status, 201, "{charge}");
    assert!(charge["id"].as_str().unwrap().starts_with("chg_k"), "a keyed charge has a derived id");
    charge
}

#[tokio::test]
async fn a_charge_made_under_an_idempotency_key_has_its_pix() {
    let app = App::new().await;
    let charge = keyed_charge(&app, "order-1").await;
    assert_valid_copia_e_cola(&charge);
    assert_qr_code_served(&app, &charge).await;
}

#[tokio::test]
async fn every_installment_of_a_carne_has_its_pix() {
    let app = App::new().await;
    let (_, customer) = app.call("POST", "/v1/customers", payer(), &[]).await;
    let first_due = (Utc::now() + Duration::days(20)).date_naive().to_string();
    let body = json!({"customer_id": customer["id"], "amount": "300.00", "installments": 3, "first_due_date": first_due, "description": "Curso", "payment_methods": ["pix"]});
    let (status, plan) = app.call("POST", "/v1/installment-plans", body, &[]).await;
    assert_eq!(status, 201, "{plan}");
    for part in plan["installments"].as_array().unwrap() {
        let (status, charge) = app.call("GET", &format!("/v1/charges/{}", part["charge_id"].as_str().unwrap()), Value::Null, &[]).await;
        assert_eq!(status, 200);
        assert!(charge["id"].as_str().unwrap().starts_with("chg_k"));
        assert_valid_copia_e_cola(&charge);
        assert_qr_code_served(&app, &charge).await;
    }
}

#[tokio::test]
async fn a_subscription_charge_has_its_pix() {
    let app = App::new().await;
    let (_, customer) = app.call("POST", "/v1/customers", payer(), &[]).await;
    let today = Utc::now().date_naive();
    let first_due = today + Duration::days(5);
    let body = json!({"customer_id": customer["id"], "amount": "99.90", "cycle": "monthly", "first_due_date": first_due.to_string(), "description": "Plano Pro", "payment_methods": ["pix"]});
    let (status, sub) = app.call("POST", "/v1/subscriptions", body, &[]).await;
    assert_eq!(status, 201, "{sub}");
    let noon = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(15, 0, 0).unwrap());
    app.tick_and_deliver(noon(today)).await;
    let (_, sub) = app.call("GET", &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()), Value::Null, &[]).await;
    let made = sub["charges"].as_array().unwrap();
    assert_eq!(made.len(), 1, "{sub}");
    let id = made[0].as_str().or(made[0]["id"].as_str()).or(made[0]["charge_id"].as_str()).unwrap();
    let (_, charge) = app.call("GET", &format!("/v1/charges/{id}"), Value::Null, &[]).await;
    assert!(charge["id"].as_str().unwrap().starts_with("chg_k"));
    assert_valid_copia_e_cola(&charge);
    assert_qr_code_served(&app, &charge).await;
}

#[tokio::test]
async fn a_pix_webhook_for_a_keyed_charge_settles_it() {
    let app = App::new().await;
    let charge = keyed_charge(&app, "order-2").await;
    let pix = json!({"pix": [{"endToEndId": "E00000000202611221000abcdef12345", "txid": charge["pix"]["txid"], "valor": "150.00", "horario": Utc::now().to_rfc3339()}]});
    let (status, body) = app.pix_webhook(&pix, "pix-secret").await;
    assert_eq!((status, &body["results"][0]["result"]), (200, &json!("applied")), "{body}");
    let (_, after) = app.call("GET", &format!("/v1/charges/{}", charge["id"].as_str().unwrap()), Value::Null, &[]).await;
    assert_eq!(after["status"], "paid");
}
