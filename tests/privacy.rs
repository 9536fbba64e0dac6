//! Personal data (CPF/CNPJ, e-mail, phone, name, address) never reaches the logs: a whole charge life runs on the
//! local stack with the functions logging at the production level, and the captured logs are searched.

use chrono::{Duration, Utc};
use cobranca_e2e::{spawn_app_logging_to, TestApp};
use serde_json::{json, Value};

const NAME: &str = "Joaquina Privacidade";
const CPF: &str = "111.444.777-35";
const EMAIL: &str = "joaquina.privacidade@example.com";
const PHONE: &str = "+55 11 98765-4321";
const STREET: &str = "Rua do Segredo";

fn due_in(days: i64) -> String {
    (Utc::now().with_timezone(&chrono_tz::America::Sao_Paulo).date_naive() + Duration::days(days)).to_string()
}

async fn life_of_a_charge(app: &TestApp) {
    let customer = json!({"name": NAME, "document": CPF, "email": EMAIL, "phone": PHONE,
        "address": {"street": STREET, "number": "42", "district": "Centro", "city": "Campinas", "state": "SP", "cep": "13010-000"}});
    let (status, c) = app.post("/v1/customers", &customer).await;
    assert_eq!(status, 201, "{c}");
    let (status, charge) = app
        .post("/v1/charges", &json!({"customer_id": c["id"], "amount": "99.90", "due_date": due_in(9), "description": "Mensalidade", "payment_methods": ["pix", "boleto"]}))
        .await;
    assert_eq!(status, 201, "{charge}");
    // Bad input echoing personal data back: answered to the client, never logged.
    let (status, _) = app.post("/v1/customers", &json!({"name": NAME, "document": "111.444.777-00", "email": EMAIL})).await;
    assert_eq!(status, 422);
    let (status, _) = app.post("/v1/customers", &json!({"name": NAME, "document": CPF, "email": "joaquina.privacidade@"})).await;
    assert_eq!(status, 422);
    // The payer opens the page; the régua sends the "5 days before"; the payment arrives.
    let page = app.client.get(charge["payment_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let before: String =
        charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap()["scheduled_at"].as_str().unwrap().to_string();
    app.tick(&before).await;
    let paid = json!({"type": "payment.confirmed", "data": {"charge_id": charge["id"], "amount": "99.90", "paid_at": Utc::now().to_rfc3339(), "method": "pix", "provider_payment_id": format!("E2E-PRIV-{}", charge["id"].as_str().unwrap())}});
    let (status, _) = app.signed_webhook(&format!("msg_priv_{}", charge["id"].as_str().unwrap()), &paid, Utc::now().timestamp()).await;
    assert_eq!(status, 200);
    let (_, after): (u16, Value) = app.get(&format!("/v1/charges/{}", charge["id"].as_str().unwrap())).await;
    assert_eq!(after["status"], "paid");
}

#[tokio::test]
async fn personal_data_never_reaches_the_logs() {
    let log = std::env::temp_dir().join(format!("cobranca-privacy-{}.log", ulid::Ulid::new()));
    let Some(app) = spawn_app_logging_to(&log) else { return };
    life_of_a_charge(&app).await;
    drop(app); // SIGTERM: the runner and the functions flush and exit
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().count() > 5, "the run logged too little to prove anything:\n{text}");
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    for needle in [CPF.to_string(), digits(CPF), EMAIL.to_string(), PHONE.to_string(), digits(PHONE), "Joaquina".to_string(), STREET.to_string()] {
        let hit = text.lines().find(|l| l.contains(&needle));
        assert!(hit.is_none(), "personal data {needle:?} in the logs: {}", hit.unwrap_or_default());
    }
    let _ = std::fs::remove_file(&log);
}
