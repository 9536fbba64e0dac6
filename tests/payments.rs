//! Payment methods through the real functions on LocalStack: the charge's Pix code and boleto, the boleto
//! registered by register-payment off the payment-setup queue, a card paid in installments.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate, Utc};
use chrono_tz::America::Sao_Paulo;
use cobranca::domain::money::Money;
use cobranca::domain::pay::boleto::parse_boleto;
use cobranca::domain::pay::pix::parse_brcode;
use cobranca_e2e::spawn_app;
use serde_json::{json, Value};

fn today_sp() -> NaiveDate {
    Utc::now().with_timezone(&Sao_Paulo).date_naive()
}

#[tokio::test]
async fn a_charge_offers_pix_boleto_and_card_and_the_bank_registers_the_boleto() {
    let Some(app) = spawn_app() else { return };
    let due = today_sp() + Duration::days(15);
    let payer = json!({"name":"Ana Souza","document":"529.982.247-25","email":"ana@example.com",
        "address":{"street":"Rua da Aurora","number":"325","district":"Boa Vista","city":"Recife","state":"PE","cep":"50050-000"}});
    let (status, charge) = app
        .post(
            "/v1/charges",
            &json!({"customer": payer, "amount":"250.00", "due_date": due.to_string(), "description":"Curso de inglês",
            "payment_methods":["pix","boleto","credit_card"], "max_installments": 6,
            "late_fees": {"fine":{"kind":"percent","value":"2"},"interest":{"kind":"percent_per_month","value":"1"}}}),
        )
        .await;
    assert_eq!(status, 201, "{charge}");
    let id = charge["id"].as_str().unwrap().to_string();

    let pix = parse_brcode(charge["pix"]["copy_paste"].as_str().unwrap()).expect("valid BR Code");
    assert_eq!(pix.amount(), Some(Money::parse("250.00").unwrap()));
    let boleto = parse_boleto(charge["boleto"]["digitable_line"].as_str().unwrap(), due).expect("valid linha digitável");
    assert_eq!((boleto.amount, boleto.due_date), (Some(Money::parse("250.00").unwrap()), Some(due)));
    assert_eq!(charge["card"]["installment_options"].as_array().unwrap().len(), 6);

    // register-payment consumes the payment-setup queue; the boleto becomes payable.
    let mut registered = Value::Null;
    for _ in 0..100 {
        let (_, now) = app.get(&format!("/v1/charges/{id}")).await;
        if now["boleto"]["status"] == "registered" {
            registered = now;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    assert_eq!(registered["boleto"]["status"], "registered", "boleto never registered");
    assert_eq!(registered["boleto"]["barcode"], charge["boleto"]["barcode"]);

    // A card in 3 installments settles the charge like any payment.
    let (status, paid) =
        app.post(&format!("/v1/charges/{id}/card-payments"), &json!({"card_token":"tok_4551870000000181","brand":"Visa","installments":3})).await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!((paid["charge_status"].as_str(), paid["total"].as_str()), (Some("paid"), Some("250.00")));

    // Paid by card, the boleto is written off at the bank (a job on the setup queue); let it finish before this
    // runner stops, or its message would sit invisible on the shared queue.
    app.tick(&Utc::now().to_rfc3339()).await;
}
