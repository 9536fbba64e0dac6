//! The payer's right to erasure (LGPD art. 18, VI): the person goes, the financial records stay.

mod support;

use chrono::Utc;
use serde_json::{json, Value};
use support::{due_in, App};

#[tokio::test]
async fn erasing_a_customer_anonymises_the_person_and_keeps_the_money_trail() {
    let app = App::new().await;
    let (_, customer) = app
        .call("POST", "/v1/customers", json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com","phone":"+5511999998888",
            "address":{"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"}}), &[])
        .await;
    let customer_id = customer["id"].as_str().unwrap().to_string();
    let (_, charge) = app.call("POST", "/v1/charges", json!({"customer_id": customer_id, "amount":"150.00","due_date":due_in(10),"description":"Mensalidade","payment_methods":["pix"]}), &[]).await;
    let charge_id = charge["id"].as_str().unwrap().to_string();

    // While a charge is open the debt is still being collected: erasure waits.
    let (status, refused) = app.call("DELETE", &format!("/v1/customers/{customer_id}/personal-data"), Value::Null, &[]).await;
    assert_eq!((status, &refused["error"]["code"]), (409, &json!("open_charges")));

    let paid = json!({"type":"payment.confirmed","data":{"charge_id": charge_id,"amount":"150.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E-LGPD-1"}});
    assert_eq!(app.webhook("msg_lgpd_1", &paid).await.0, 200);

    let (status, erased) = app.call("DELETE", &format!("/v1/customers/{customer_id}/personal-data"), Value::Null, &[]).await;
    assert_eq!(status, 200, "{erased}");
    let (_, shown) = app.call("GET", &format!("/v1/customers/{customer_id}"), Value::Null, &[]).await;
    for text in ["Maria", "maria@example.com", "99999-8888", "999998888", "Paulista", "01310"] {
        assert!(!shown.to_string().contains(text), "{text} still in {shown}");
    }
    assert_eq!(shown["name"], "Titular removido (LGPD)");
    assert!(shown["erased_at"].is_string());
    // Erasing again is harmless and keeps the first date.
    let (status, again) = app.call("DELETE", &format!("/v1/customers/{customer_id}/personal-data"), Value::Null, &[]).await;
    assert_eq!((status, &again["erased_at"]), (200, &shown["erased_at"]));

    // The charge and its ledger are financial records: still there, still adding up.
    let (status, kept) = app.call("GET", &format!("/v1/charges/{charge_id}"), Value::Null, &[]).await;
    assert_eq!((status, &kept["status"]), (200, &json!("paid")));
    let (_, ledger) = app.call("GET", &format!("/v1/charges/{charge_id}/ledger"), Value::Null, &[]).await;
    assert_eq!(ledger["received"], "150.00");

    // No new charge for a person who is gone, and no message reaches them.
    let (status, err) = app.call("POST", "/v1/charges", json!({"customer_id": customer_id, "amount":"10.00","due_date":due_in(10),"description":"Outra","payment_methods":["pix"]}), &[]).await;
    assert_eq!((status, &err["error"]["code"]), (422, &json!("customer_erased")));
    let (status, _) = app.call("DELETE", "/v1/customers/cus_doesnotexist/personal-data", Value::Null, &[]).await;
    assert_eq!(status, 404);
}
