//! The walking skeleton, end to end, as a client sees it: HTTP to the local API Gateway, real function
//! binaries, DynamoDB/SQS/EventBridge on LocalStack.

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::Sao_Paulo;
use cobranca_e2e::spawn_app;
use serde_json::{json, Value};

fn today_sp() -> NaiveDate {
    Utc::now().with_timezone(&Sao_Paulo).date_naive()
}

fn sp_noon(d: NaiveDate) -> String {
    Sao_Paulo.from_local_datetime(&d.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap())).unwrap().to_rfc3339()
}

fn steps(outbox: &[Value]) -> Vec<&str> {
    outbox.iter().map(|e| e["step"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_charge_travels_the_whole_chain_and_stops_when_paid() {
    let Some(app) = spawn_app() else { return };

    let (status, customer) = app
        .post("/v1/customers", &json!({"name":"Maria Silva","document":"529.982.247-25","email":"maria@example.com","phone":"+5511987654321","address":{"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"}}))
        .await;
    assert_eq!(status, 201, "{customer}");
    assert!(customer["id"].as_str().unwrap().starts_with("cus_"));

    let due = today_sp() + Duration::days(20);
    let (status, charge) = app
        .post("/v1/charges", &json!({"customer_id": customer["id"], "amount":"150.00", "due_date": due.to_string(), "description":"Mensalidade", "payment_methods":["pix","boleto","credit_card"], "max_installments":12}))
        .await;
    assert_eq!(status, 201, "{charge}");
    let id = charge["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("chg_"));
    assert_eq!((charge["status"].as_str(), charge["amount"].as_str()), (Some("pending"), Some("150.00")));
    assert_eq!(charge["due_date"], due.to_string());
    assert!(charge["payment_url"].as_str().unwrap().starts_with(&format!("{}/pay/", app.url)), "{charge}");

    let (status, fetched) = app.get(&format!("/v1/charges/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["id"], charge["id"]);

    // Tick at the planned "5 days before" instant: the reminder reaches the outbox.
    let before = charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").expect("before_due planned").clone();
    let tick = app.tick(before["scheduled_at"].as_str().unwrap()).await;
    assert!(tick["reminders_sent"].as_u64().unwrap() >= 1, "{tick}");
    let outbox = app.outbox_for(&id).await;
    let reminder = outbox.iter().find(|e| e["step"] == "before_due").unwrap_or_else(|| panic!("no before_due in {outbox:?}"));
    assert_eq!((reminder["channel"].as_str(), reminder["recipient"].as_str()), (Some("email"), Some("maria@example.com")));
    assert!(reminder["text"].as_str().unwrap().contains("R$ 150,00"));
    // Any runner on the shared queue may deliver it; the link's token is what must be there.
    let link_path = &charge["payment_url"].as_str().unwrap()[app.url.len()..];
    assert!(reminder["text"].as_str().unwrap().contains(link_path), "{reminder}");

    // The provider confirms the payment with a signed webhook.
    let payment = json!({"type":"payment.confirmed","data":{"charge_id": id, "amount":"150.00", "paid_at": Utc::now().to_rfc3339(), "method":"pix", "provider_payment_id":"E00000000202612061000abcdef"}});
    let webhook_id = format!("msg_{}", ulid::Ulid::new());
    let (status, body) = app.signed_webhook(&webhook_id, &payment, Utc::now().timestamp()).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("applied")), "{body}");
    let (_, paid) = app.get(&format!("/v1/charges/{id}")).await;
    assert_eq!(paid["status"], "paid");
    assert!(paid["paid_at"].is_string());

    // What follows the payment runs off the webhook's path (register-payment: régua stopped, receipt queued,
    // the boleto written off); the receipt is delivered by the queue consumer. A tick of "now" waits for every
    // queue to drain.
    app.tick(&Utc::now().to_rfc3339()).await;
    let (_, paid) = app.get(&format!("/v1/charges/{id}")).await;
    let outbox = app.outbox_for(&id).await;
    assert!(steps(&outbox).contains(&"on_paid"), "{outbox:?}");

    // The same webhook again: nothing changes.
    let (status, body) = app.signed_webhook(&webhook_id, &payment, Utc::now().timestamp()).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("duplicate")), "{body}");
    app.tick(&Utc::now().to_rfc3339()).await;
    assert_eq!(app.outbox_for(&id).await.len(), outbox.len());
    let (_, still) = app.get(&format!("/v1/charges/{id}")).await;
    assert_eq!((still["status"].as_str(), still["version"].as_u64()), (Some("paid"), paid["version"].as_u64()));

    // Ticks after the due date find nothing more to send for this charge.
    app.tick(&sp_noon(due + Duration::days(1))).await;
    app.tick(&sp_noon(due + Duration::days(9))).await;
    let after = app.outbox_for(&id).await;
    assert_eq!(steps(&after), steps(&outbox), "nothing after payment");
    assert!(!steps(&after).contains(&"after_due"));
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_lose_nothing() {
    let Some(app) = spawn_app() else { return };
    let due = (today_sp() + Duration::days(10)).to_string();

    let (status, err) = app.post_raw("/v1/charges", "{oops", &[("authorization", &format!("Bearer {}", app.api_key))]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("malformed_json")));

    let (status, err) = app.post_raw("/v1/charges", "{}", &[("authorization", "Bearer ck_not_a_key")]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (401, Some("unauthorized")));

    let (status, err) = app
        .post("/v1/charges", &json!({"customer":{"name":"Maria","document":"529.982.247-26"},"amount":"10.00","due_date":due,"description":"x","payment_methods":["pix"]}))
        .await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("customer.document")), "{err}");

    let (status, err) = app
        .post("/v1/charges", &json!({"customer":{"name":"Maria","document":"52998224725"},"amount":"10.001","due_date":due,"description":"x","payment_methods":["pix"]}))
        .await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("amount")));

    // A stale signature is refused; an unknown charge is kept as unmatched (202), never a 500.
    let body = json!({"type":"payment.confirmed","data":{"charge_id":"chg_unknown0001","amount":"10.00","paid_at":Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E1"}});
    let (status, _) = app.signed_webhook("msg_stale", &body, Utc::now().timestamp() - 3600).await;
    assert_eq!(status, 401);
    let (status, r) = app.signed_webhook(&format!("msg_{}", ulid::Ulid::new()), &body, Utc::now().timestamp()).await;
    assert_eq!((status, r["result"].as_str()), (202, Some("unmatched")));

    let (status, _) = app.get("/v1/nothing-here").await;
    assert_eq!(status, 404);
}
