//! Issue #17, as an adversarial integrator would try it: each probe that failed open on the money path, sent
//! over HTTP to the spawned local stack (LocalStack's DynamoDB, the real functions). Every answer is a deliberate
//! 2xx or 4xx — never a 5xx — nothing illegal or unpayable is accepted, and nothing is lost. The in-process
//! suites (`shared/tests/money_bounds.rs`, `keyed_pix.rs`, `card_attempts.rs`, `live_mode.rs`, `personal_data.rs`,
//! `tenant_isolation.rs`, `payments.rs`, …) cover the same defects with more cases; this one shows them closed
//! through the deployed shape.

use chrono::{Duration, Utc};
use cobranca_e2e::{spawn_app, TestApp};
use serde_json::{json, Value};

fn due_in(days: i64) -> String {
    (Utc::now().with_timezone(&chrono_tz::America::Sao_Paulo).date_naive() + Duration::days(days)).to_string()
}

fn customer() -> Value {
    json!({"name":"Maria Silva","document":"52998224725","email":"maria.adversarial@example.com","phone":"+5511987654321"})
}

/// POST with extra headers (an Idempotency-Key).
async fn post_with(app: &TestApp, path: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("authorization", format!("Bearer {}", app.api_key))];
    all.extend(headers.iter().map(|(k, v)| (*k, v.to_string())));
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_raw(path, &body.to_string(), &borrowed).await
}

fn assert_refused(status: u16, body: &Value, field_prefix: &str) {
    assert!((400..500).contains(&status), "expected a 4xx naming {field_prefix}, got {status}: {body}");
    let field = body["error"]["field"].as_str().unwrap_or_default();
    assert!(field.starts_with(field_prefix), "expected the field {field_prefix}…, got {body}");
}

#[tokio::test]
async fn a_keyed_charge_has_a_working_pix_code_and_qr() {
    let Some(app) = spawn_app() else { return };
    let body = json!({"customer": customer(), "amount":"150.00", "due_date": due_in(10), "description":"Mensalidade", "payment_methods":["pix"]});
    let key = format!("order-{}", ulid::Ulid::new());
    let (status, charge) = post_with(&app, "/v1/charges", &body, &[("idempotency-key", &key)]).await;
    assert_eq!(status, 201, "{charge}");
    assert!(charge["id"].as_str().unwrap().starts_with("chg_k"), "{charge}");
    let code = charge["pix"]["copy_paste"].as_str().unwrap_or_else(|| panic!("a keyed charge has its Pix code: {charge}"));
    assert!(code.starts_with("000201"), "{code}");
    let svg = app.client.get(format!("{}/pix.svg", charge["payment_url"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(svg.status(), 200);
    assert!(svg.text().await.unwrap().contains("<svg"));
}

#[tokio::test]
async fn terms_no_payer_may_be_held_to_are_refused_not_capped() {
    let Some(app) = spawn_app() else { return };
    let with_fees = |late_fees: Value, customer: Value| json!({"customer": customer, "amount":"100.00", "due_date": due_in(10), "description":"Mensalidade", "payment_methods":["pix"], "late_fees": late_fees});
    // Decimal's maximum as a daily interest: refused at the door (it overflowed the reports before).
    let (status, body) = app.post("/v1/charges", &with_fees(json!({"interest":{"kind":"fixed_per_day","value":"79228162514264337593543950335"}}), customer())).await;
    assert_refused(status, &body, "late_fees.interest");
    // A consumer (CPF) payer: 50 % fine, 100 % a day, the consumer cap waived — each refused (CDC art. 52 §1).
    let (status, body) = app.post("/v1/charges", &with_fees(json!({"fine":{"kind":"percent","value":"50"},"interest":{"kind":"percent_per_month","value":"1"},"consumer_cap":false}), customer())).await;
    assert_refused(status, &body, "late_fees");
    let (status, body) = app.post("/v1/charges", &with_fees(json!({"fine":{"kind":"percent","value":"50"}}), customer())).await;
    assert_refused(status, &body, "late_fees.fine");
    // What the law allows is accepted as asked.
    let (status, body) = app.post("/v1/charges", &with_fees(json!({"fine":{"kind":"percent","value":"2"},"interest":{"kind":"percent_per_month","value":"1"}}), customer())).await;
    assert_eq!(status, 201, "{body}");
    // The merchant's reports still answer.
    let (status, aging) = app.get("/v1/reports/aging").await;
    assert_eq!(status, 200, "{aging}");
}

#[tokio::test]
async fn a_regua_beyond_the_documented_maximum_is_refused_and_the_maximum_is_stored() {
    let Some(app) = spawn_app() else { return };
    let charge = |steps: Value| json!({"customer": customer(), "amount":"100.00", "due_date": due_in(10), "description":"Mensalidade", "payment_methods":["pix"], "ruler": {"send_time":"10:00","steps": steps}});
    // The issue's régua: after the due date 60 times on four channels (240 messages).
    let (status, body) = app.post("/v1/charges", &charge(json!([{"step":"after_due","first_after_days":1,"every_days":1,"max_times":60,"channels":["email","sms","whatsapp","voice"]}]))).await;
    assert_refused(status, &body, "ruler.steps");
    // 90 messages, the maximum: stored whole, with every reminder.
    let (status, body) = app.post("/v1/charges", &charge(json!([{"step":"after_due","first_after_days":1,"every_days":1,"max_times":45,"channels":["email","sms"]}]))).await;
    assert_eq!(status, 201, "{body}");
    let (status, schedule) = app.get(&format!("/v1/charges/{}/schedule", body["id"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{schedule}");
    let planned = schedule["schedule"].as_array().unwrap().iter().filter(|r| r["step"] == "after_due").count();
    assert_eq!(planned, 90, "{schedule}");
}

#[tokio::test]
async fn three_concurrent_card_payments_charge_the_card_once() {
    let Some(app) = spawn_app() else { return };
    let (status, charge) = app.post("/v1/charges", &json!({"customer": customer(), "amount":"100.00", "due_date": due_in(10), "description":"Mensalidade", "payment_methods":["credit_card"]})).await;
    assert_eq!(status, 201, "{charge}");
    let path = format!("/v1/charges/{}/card-payments", charge["id"].as_str().unwrap());
    let card = json!({"card_token":"tok_4551870000000181","brand":"Visa","installments":1});
    let (a, b, c) = tokio::join!(app.post(&path, &card), app.post(&path, &card), app.post(&path, &card));
    let statuses = [a.0, b.0, c.0];
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "exactly one sale: {a:?} {b:?} {c:?}");
    assert!(statuses.iter().all(|s| [201, 409].contains(s)), "the others are told a payment is under way or done: {a:?} {b:?} {c:?}");
    let (_, ledger) = app.get(&format!("/v1/charges/{}/ledger", charge["id"].as_str().unwrap())).await;
    let entries = ledger["data"].as_array().or_else(|| ledger.as_array()).cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "one payment on the ledger: {ledger}");
}

#[tokio::test]
async fn another_merchants_provider_secret_cannot_be_named() {
    let Some(app) = spawn_app() else { return };
    let (status, body) = app.put("/v1/notification-settings", &json!({"providers": {"sms": "cobranca/mer_someoneelse/sms"}})).await;
    assert_refused(status, &body, "providers.sms");
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_refused_and_nothing_is_overwritten() {
    let Some(app) = spawn_app() else { return };
    let key = format!("order-{}", ulid::Ulid::new());
    let body = json!({"customer": customer(), "amount":"150.00", "due_date": due_in(10), "description":"Mensalidade", "payment_methods":["pix"]});
    let (status, first) = post_with(&app, "/v1/charges", &body, &[("idempotency-key", &key)]).await;
    assert_eq!(status, 201, "{first}");
    let (status, replay) = post_with(&app, "/v1/charges", &body, &[("idempotency-key", &key)]).await;
    assert_eq!((status, &replay["id"]), (201, &first["id"]), "{replay}");
    let mut other = body.clone();
    other["amount"] = json!("9999.00");
    other["customer"]["email"] = json!("someone.else@example.com");
    let (status, refused) = post_with(&app, "/v1/charges", &other, &[("idempotency-key", &key)]).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("idempotency_key_reused")), "{refused}");
    let (_, customer) = app.get(&format!("/v1/customers/{}", first["customer_id"].as_str().unwrap())).await;
    assert_eq!(customer["email"], "maria.adversarial@example.com", "{customer}");
}

#[tokio::test]
async fn bodies_no_client_should_send_get_a_4xx_never_a_5xx() {
    let Some(app) = spawn_app() else { return };
    let probes: [(&str, &str); 12] = [
        ("/v1/charges", "{"),
        ("/v1/charges", "[]"),
        ("/v1/charges", r#"{"amount": 1e400}"#),
        ("/v1/charges", r#"{"customer": {"name": "x", "document": "00000000000"}, "amount": "1.00", "due_date": "9999-12-31", "description": "d", "payment_methods": ["pix"]}"#),
        ("/v1/charges", r#"{"customer": {"name": "Maria", "document": "52998224725"}, "amount": "-1.00", "due_date": "2030-01-01", "description": "d", "payment_methods": ["pix"]}"#),
        ("/v1/charges", r#"{"customer": {"name": "Maria", "document": "52998224725"}, "amount": "0.001", "due_date": "2030-01-01", "description": "d", "payment_methods": ["pix"]}"#),
        ("/v1/charges", r#"{"customer": {"name": "Maria", "document": "52998224725"}, "amount": "100000000000.00", "due_date": "2030-01-01", "description": "d", "payment_methods": ["pix"]}"#),
        ("/v1/charges", r#"{"customer": {"name": "Maria", "document": "52998224725"}, "amount": "10.00", "due_date": "2030-01-01", "description": "d", "payment_methods": ["pix"], "late_fees": {"interest": {"kind": "percent_per_month", "value": "-5"}}}"#),
        ("/v1/installment-plans", r#"{"customer": {"name": "Maria", "document": "52998224725"}, "total": "79228162514264337593543950335", "installments": 60, "first_due_date": "2030-01-01", "description": "d", "payment_methods": ["pix"]}"#),
        ("/v1/subscriptions", r#"{"customer": {"name": "Maria", "document": "52998224725"}, "amount": "10.00", "interval": "monthly", "anchor_date": "2030-01-01", "description": "d", "payment_methods": ["pix"], "late_fees": {"fine": {"kind": "percent", "value": "99"}}}"#),
        ("/v1/webhook-endpoints", r#"{"url": "gopher://[::ffff:a9fe:a9fe]/", "event_types": ["*"]}"#),
        ("/v1/renegotiations", r#"{"customer_id": "cus_nobody", "charge_ids": [], "installments": 0}"#),
    ];
    let authorization = format!("Bearer {}", app.api_key);
    let headers = [("authorization", authorization.as_str())];
    for (path, body) in probes {
        let (status, answer) = app.post_raw(path, body, &headers).await;
        assert!((400..500).contains(&status), "{path} {body} → {status} {answer}");
        assert!(answer["error"]["code"].is_string(), "a machine-readable code: {answer}");
    }
}
