//! One list of charge fields (#18): every charge term `POST /v1/charges` accepts is accepted, and honoured, by
//! carnês, renegotiations and subscriptions — their charges carry it. A term added for single charges only, or
//! dropped on the way to a series' charges, fails here.

mod support;

use std::collections::BTreeSet;

use cobranca::domain::charge::{Charge, PaymentMethod};
use cobranca::domain::ids::ChargeId;
use cobranca::domain::pay::installments::FeeMode;
use cobranca::domain::pay::late_fees::LateFees;
use cobranca::ports::store::*;
use cobranca::service::TermFields;
use serde_json::{json, Map, Value};
use support::{due_in, App};

/// A charge term: the body fields that set it (beside `payment_methods: ["pix"]`) and whether a charge carries it.
struct Term {
    name: &'static str,
    fields: Value,
    carried: fn(&Charge, &str) -> bool,
}

/// One sample per term, with a check a charge made without it fails (`second_pix` is a wallet no default picks).
fn terms(second_pix: &str) -> Vec<Term> {
    vec![
        Term {
            name: "payment_methods",
            fields: json!({"payment_methods": ["pix", "credit_card"]}),
            carried: |c, _| c.payment_methods == [PaymentMethod::Pix, PaymentMethod::CreditCard],
        },
        Term {
            name: "max_installments",
            fields: json!({"payment_methods": ["pix", "credit_card"], "max_installments": 3}),
            carried: |c, _| c.max_installments == 3,
        },
        Term {
            name: "late_fees",
            fields: json!({"late_fees": {"fine": {"kind": "percent", "value": "2"}}}),
            carried: |c, _| c.late_fees != LateFees::default(),
        },
        Term {
            name: "ruler",
            fields: json!({"ruler": {"send_time": "10:00", "steps": [{"step": "before_due", "days": 3, "channels": ["email"]}]}}),
            carried: |c, _| c.ruler.is_some(),
        },
        Term {
            name: "wallet_ids",
            fields: json!({"wallet_ids": [second_pix]}),
            carried: |c, wallet| c.wallet_ids.iter().map(|w| w.as_str()).eq([wallet]),
        },
        Term {
            name: "fee_mode",
            fields: json!({"payment_methods": ["pix", "credit_card"], "fee_mode": "payer_pays"}),
            carried: |c, _| c.setup.card.as_ref().is_some_and(|card| card.fee_mode == FeeMode::PayerPays),
        },
        Term {
            name: "external_reference",
            fields: json!({"external_reference": "pedido-42"}),
            carried: |c, _| c.external_reference.as_deref() == Some("pedido-42"),
        },
    ]
}

fn with(base: Value, term: &Value) -> Value {
    let mut body: Map<String, Value> = base.as_object().unwrap().clone();
    body.insert("payment_methods".into(), json!(["pix"]));
    body.extend(term.as_object().unwrap().clone());
    Value::Object(body)
}

async fn charge(app: &App, id: &Value) -> Charge {
    let id = ChargeId::parse(id.as_str().unwrap_or_else(|| panic!("no charge id: {id}"))).unwrap();
    app.store.get_charge(&app.merchant_id, &id).await.unwrap().expect("the charge is stored")
}

/// The charges a single charge, a carnê, a renegotiation and a subscription make with `term`'s fields.
async fn charges_made_with(app: &App, customer: &str, term: &Value) -> Vec<(&'static str, Charge)> {
    let mut made = Vec::new();
    let single = |amount: &str| with(json!({"customer_id": customer, "amount": amount, "due_date": due_in(5), "description": "Mensalidade"}), term);
    let (status, c) = app.call("POST", "/v1/charges", single("100.00"), &[]).await;
    assert_eq!(status, 201, "single charge with {term}: {c}");
    made.push(("single charge", charge(app, &c["id"]).await));

    let (status, plan) = app
        .call(
            "POST",
            "/v1/installment-plans",
            with(json!({"customer_id": customer, "amount": "200.00", "installments": 2, "first_due_date": due_in(5), "description": "Curso"}), term),
            &[],
        )
        .await;
    assert_eq!(status, 201, "carnê with {term}: {plan}");
    for part in plan["installments"].as_array().unwrap() {
        made.push(("carnê installment", charge(app, &part["charge_id"]).await));
    }

    // The debt renegotiated is a plain charge; the terms are the renegotiation's.
    let (_, debt) = app
        .call(
            "POST",
            "/v1/charges",
            json!({"customer_id": customer, "amount": "80.00", "due_date": due_in(3), "description": "Dívida", "payment_methods": ["pix"]}),
            &[],
        )
        .await;
    let (status, plan) = app
        .call(
            "POST",
            "/v1/renegotiations",
            with(json!({"customer_id": customer, "charge_ids": [debt["id"]], "installments": 2, "first_due_date": due_in(5)}), term),
            &[],
        )
        .await;
    assert_eq!(status, 201, "renegotiation with {term}: {plan}");
    for part in plan["installments"].as_array().unwrap() {
        made.push(("renegotiation installment", charge(app, &part["charge_id"]).await));
    }

    let (status, sub) = app
        .call(
            "POST",
            "/v1/subscriptions",
            with(
                json!({"customer_id": customer, "amount": "50.00", "cycle": "monthly", "first_due_date": due_in(5), "description": "Assinatura"}),
                term,
            ),
            &[],
        )
        .await;
    assert_eq!(status, 201, "subscription with {term}: {sub}");
    let cycles = sub["charges"].as_array().unwrap();
    assert_eq!(cycles.len(), 1, "the first cycle falls due within the lead time: {sub}");
    made.push(("subscription cycle", charge(app, &cycles[0]["charge_id"]).await));
    made
}

#[tokio::test]
async fn every_charge_term_reaches_the_charges_of_carnes_renegotiations_and_subscriptions() {
    let app = App::new().await;
    let (_, customer) =
        app.call("POST", "/v1/customers", json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"}), &[]).await;
    let customer = customer["id"].as_str().unwrap().to_string();
    let (status, wallet) = app
        .call("POST", "/v1/wallets", json!({"name": "Pix 2", "provider": "sandbox", "method": "pix", "settings": {"key": "financeiro@loja.com.br", "city": "São Paulo", "dynamic": true}}), &[])
        .await;
    assert_eq!(status, 201, "{wallet}");
    let second_pix = wallet["id"].as_str().unwrap().to_string();
    let terms = terms(&second_pix);

    // The samples cover the one list, and the one list is every field a charge takes beyond its own amount,
    // dates, description and payer (as the API documents them).
    let sampled: BTreeSet<&str> = terms.iter().map(|t| t.name).collect();
    assert_eq!(sampled, TermFields::NAMES.iter().copied().collect(), "a charge term without a sample here");
    let (_, doc) = app.call("GET", "/v1/openapi.json", Value::Null, &[]).await;
    let charge_fields: BTreeSet<&str> =
        doc["components"]["schemas"]["ChargeInput"]["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let own: BTreeSet<&str> = ["customer_id", "customer", "amount", "due_date", "description", "expires_at"].into();
    assert_eq!(charge_fields.difference(&own).copied().collect::<BTreeSet<_>>(), sampled, "a charge field that is not a charge term of the one list");

    // Without any term, no charge passes any check: the checks see the term, not a default.
    for (origin, c) in charges_made_with(&app, &customer, &json!({})).await {
        for term in &terms {
            assert!(!(term.carried)(&c, &second_pix), "{origin} without {} already passes its check", term.name);
        }
    }
    for term in &terms {
        for (origin, c) in charges_made_with(&app, &customer, &term.fields).await {
            assert!((term.carried)(&c, &second_pix), "{origin} dropped {}: {:?}", term.name, term.fields);
        }
    }
}
