//! Money at the door and after it: late-fee terms the law or the arithmetic cannot honour are refused with a 422
//! naming the field and the limit, on every path that takes them; a charge stored before these bounds existed
//! with terms that overflow is an error for that one charge (report, view, page, message), never a panic.

mod support;

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, Utc};
use cobranca::domain::calendar;
use cobranca::domain::charge::{Charge, ChargeStatus, Description, DueDate, PaymentMethod};
use cobranca::domain::customer::{Customer, PersonName};
use cobranca::domain::document::Document;
use cobranca::domain::ids::{ChargeId, CustomerId, MerchantId};
use cobranca::domain::merchant::Merchant;
use cobranca::domain::money::Money;
use cobranca::domain::notification::MessageContext;
use cobranca::domain::pay::late_fees::{Fine, Interest, LateFees};
use cobranca::http::api::ApiRequest;
use cobranca::http::pages::PayerPages;
use cobranca::ports::store::*;
use cobranca::service::checkout::Checkout;
use cobranca::service::reports::portfolio;
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use support::{due_in, App};

/// A consumer: CPF.
fn person() -> Value {
    json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"})
}

/// A business: CNPJ.
fn company() -> Value {
    json!({"name": "Padaria Pão Quente Ltda", "document": "11.222.333/0001-81", "email": "financeiro@example.com"})
}

async fn post_charge(app: &App, payer: Value, amount: &str, late_fees: Value) -> (u16, Value) {
    let body = json!({"customer": payer, "amount": amount, "due_date": due_in(10), "description": "Mensalidade", "payment_methods": ["pix"], "late_fees": late_fees});
    app.call("POST", "/v1/charges", body, &[]).await
}

fn refusal(status: u16, body: &Value) -> (u16, &str, &str) {
    (status, body["error"]["code"].as_str().unwrap_or(""), body["error"]["field"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn an_interest_that_would_overflow_the_arithmetic_is_refused() {
    let app = App::new().await;
    for (late_fees, field) in [
        (json!({"interest": {"kind": "fixed_per_day", "value": "79228162514264337593543950335"}}), "late_fees.interest"),
        (json!({"interest": {"kind": "percent_per_day", "value": "79228162514264337593543950335"}}), "late_fees"),
        (json!({"fine": {"kind": "fixed", "value": "79228162514264337593543950335"}}), "late_fees.fine"),
        (json!({"abatement": "79228162514264337593543950335"}), "late_fees.abatement"),
    ] {
        for payer in [person(), company()] {
            let (status, body) = post_charge(&app, payer, "100.00", late_fees.clone()).await;
            assert_eq!(refusal(status, &body), (422, "invalid_field", field), "{late_fees}: {body}");
        }
    }
    let (status, body) = app.call("GET", "/v1/reports/aging", Value::Null, &[]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_cpf_payer_gets_the_consumer_ceilings_whatever_the_merchant_says() {
    let app = App::new().await;
    // The reproduction: 50 % fine, 100 % a day, "consumer_cap": false, for a CPF.
    let illegal = json!({"fine": {"kind": "percent", "value": "50"}, "interest": {"kind": "percent_per_day", "value": "100"}, "consumer_cap": false});
    let (status, body) = post_charge(&app, person(), "100.00", illegal).await;
    assert_eq!(refusal(status, &body), (422, "invalid_field", "late_fees.consumer_cap"), "{body}");

    for (late_fees, field, limit) in [
        (json!({"fine": {"kind": "percent", "value": "50"}}), "late_fees.fine", "2%"),
        (json!({"fine": {"kind": "percent", "value": "2.01"}}), "late_fees.fine", "2%"),
        // 2 % of 100.00 is 2.00.
        (json!({"fine": {"kind": "fixed", "value": "2.01"}}), "late_fees.fine", "2%"),
        (json!({"interest": {"kind": "percent_per_day", "value": "100"}}), "late_fees.interest", "1%"),
        (json!({"interest": {"kind": "percent_per_month", "value": "1.01"}}), "late_fees.interest", "1%"),
        // 0.034 % a day is 1.02 % a month.
        (json!({"interest": {"kind": "percent_per_day", "value": "0.034"}}), "late_fees.interest", "1%"),
        // R$ 0,04 a day on R$ 100,00 is 1.2 % a month.
        (json!({"interest": {"kind": "fixed_per_day", "value": "0.04"}}), "late_fees.interest", "1%"),
    ] {
        let (status, body) = post_charge(&app, person(), "100.00", late_fees.clone()).await;
        assert_eq!(refusal(status, &body), (422, "invalid_field", field), "{late_fees}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(limit) && message.contains("CDC art. 52"), "{message}");
    }

    // Up to the ceilings is fine, and so is a daily rate that is at most 1 % a month.
    for late_fees in [
        json!({"fine": {"kind": "percent", "value": "2"}, "interest": {"kind": "percent_per_month", "value": "1"}}),
        json!({"fine": {"kind": "fixed", "value": "2.00"}, "interest": {"kind": "percent_per_day", "value": "0.033"}}),
        json!({"interest": {"kind": "fixed_per_day", "value": "0.03"}, "consumer_cap": true}),
    ] {
        let (status, body) = post_charge(&app, person(), "100.00", late_fees.clone()).await;
        assert_eq!(status, 201, "{late_fees}: {body}");
    }
}

#[tokio::test]
async fn a_cnpj_payer_may_be_charged_up_to_the_business_ceilings() {
    let app = App::new().await;
    let business = |fine: &str, interest: &str| json!({"fine": {"kind": "percent", "value": fine}, "interest": {"kind": "percent_per_month", "value": interest}, "consumer_cap": false});
    let (status, body) = post_charge(&app, company(), "100.00", business("10", "2")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["late_fees"]["consumer_cap"], false);
    let (status, body) = post_charge(&app, company(), "100.00", business("10.01", "2")).await;
    assert_eq!(refusal(status, &body), (422, "invalid_field", "late_fees.fine"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("10%"), "{body}");
    let (status, body) = post_charge(&app, company(), "100.00", business("10", "2.5")).await;
    assert_eq!(refusal(status, &body), (422, "invalid_field", "late_fees.interest"), "{body}");
    // Without opting out, a CNPJ payer is treated as a consumer too: refused, not capped.
    let (status, body) = post_charge(&app, company(), "100.00", json!({"fine": {"kind": "percent", "value": "10"}})).await;
    assert_eq!(refusal(status, &body), (422, "invalid_field", "late_fees.fine"), "{body}");
}

#[tokio::test]
async fn every_path_that_takes_late_fees_applies_the_ceilings() {
    let app = App::new().await;
    let (status, maria) = app.call("POST", "/v1/customers", person(), &[]).await;
    assert_eq!(status, 201, "{maria}");
    let illegal = json!({"fine": {"kind": "percent", "value": "50"}});

    // Installment plan (carnê).
    let (status, body) = app
        .call(
            "POST",
            "/v1/installment-plans",
            json!({"customer_id": maria["id"], "amount": "300.00", "installments": 3, "first_due_date": due_in(10),
            "description": "Carnê", "payment_methods": ["pix"], "late_fees": illegal}),
            &[],
        )
        .await;
    assert_eq!(refusal(status, &body), (422, "invalid_field", "late_fees.fine"), "{body}");

    // Subscription.
    let (status, body) = app
        .call(
            "POST",
            "/v1/subscriptions",
            json!({"customer_id": maria["id"], "amount": "50.00", "cycle": "monthly", "first_due_date": due_in(10),
            "description": "Plano", "payment_methods": ["pix"], "late_fees": {"consumer_cap": false}}),
            &[],
        )
        .await;
    assert_eq!(refusal(status, &body), (422, "invalid_field", "late_fees.consumer_cap"), "{body}");

    // Renegotiation of an open charge into a plan with illegal terms.
    let (status, c) = app
        .call(
            "POST",
            "/v1/charges",
            json!({"customer_id": maria["id"], "amount": "100.00", "due_date": due_in(10), "description": "x", "payment_methods": ["pix"],
            "late_fees": {"fine": {"kind": "fixed", "value": "2.00"}}}),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let (status, body) = app
        .call(
            "POST",
            "/v1/renegotiations",
            json!({"customer_id": maria["id"], "charge_ids": [c["id"]], "installments": 2, "first_due_date": due_in(20),
            "payment_methods": ["pix"], "late_fees": illegal}),
            &[],
        )
        .await;
    assert_eq!(refusal(status, &body), (422, "invalid_field", "late_fees.fine"), "{body}");

    // PATCH: a lower amount would make the fixed R$ 2,00 fine more than 2 % of the debt.
    let (status, body) = app.call("PATCH", &format!("/v1/charges/{}", c["id"].as_str().unwrap()), json!({"amount": "50.00"}), &[]).await;
    assert_eq!(refusal(status, &body), (422, "invalid_field", "late_fees.fine"), "{body}");
    let (status, body) = app.call("PATCH", &format!("/v1/charges/{}", c["id"].as_str().unwrap()), json!({"amount": "100.01"}), &[]).await;
    assert_eq!(status, 200, "{body}");
}

/// Puts terms on a stored charge as a version without the bounds could have stored them.
async fn store_terms(app: &App, id: &str, late_fees: LateFees) -> Charge {
    let id = ChargeId::parse(id).unwrap();
    let mut c = app.store.get_charge(&app.merchant_id, &id).await.unwrap().unwrap();
    let expected = c.version;
    c.late_fees = late_fees;
    c.version += 1;
    app.store.update_charge(&c, expected).await.unwrap();
    c
}

#[tokio::test]
async fn a_stored_charge_whose_terms_overflow_is_an_error_for_that_charge_only() {
    let app = App::new().await;
    let (status, ok) = post_charge(&app, person(), "100.00", json!({"fine": {"kind": "percent", "value": "2"}})).await;
    assert_eq!(status, 201, "{ok}");
    let (status, bad) = post_charge(&app, person(), "100.00", json!({})).await;
    assert_eq!(status, 201, "{bad}");
    let bad_id = bad["id"].as_str().unwrap();
    let huge = Decimal::MAX;
    store_terms(&app, bad_id, LateFees { interest: Some(Interest::FixedPerDay(huge)), fine: Some(Fine::Percent(huge)), ..LateFees::default() }).await;

    // Years late: the report answers, names the charge it cannot price and totals the others.
    let later = Utc::now() + Duration::days(3 * 365);
    for path in ["/v1/reports/aging", "/v1/reports/receivables"] {
        let (status, report) = app.call_at("GET", path, Value::Null, later).await;
        assert_eq!(status, 200, "{path}: {report}");
        assert_eq!(report["unpriced_charges"], json!([bad_id]), "{path}: {report}");
    }
    let (_, aging) = app.call_at("GET", "/v1/reports/aging", Value::Null, later).await;
    assert_eq!(aging["overdue"]["charges"], 1, "{aging}");
    assert_eq!(aging["overdue"]["balance_due"], "102.00", "the fine only (no interest was set): {aging}");

    // The charge itself: a clear 409, on the API and on the payer's page.
    let (status, body) = app.call_at("GET", &format!("/v1/charges/{bad_id}"), Value::Null, later).await;
    assert_eq!(refusal(status, &body), (409, "charge_unpriceable", "late_fees"), "{body}");
    let (status, _) = app.call_at("GET", &format!("/v1/charges/{}", ok["id"].as_str().unwrap()), Value::Null, later).await;
    assert_eq!(status, 200);
    let token = bad["payment_url"].as_str().unwrap().rsplit('/').next().unwrap();
    let pages = PayerPages {
        checkout: Checkout { store: app.store.as_ref(), queue: &app.queue, events: &app.events, providers: &app.providers },
        public_base_url: "https://pay.test",
    };
    let page = ApiRequest { method: "GET".into(), path: format!("/pay/{token}"), headers: HashMap::new(), body: vec![], client_cert: None };
    assert_eq!(pages.handle(&page, later).await.status, 409);

    // The régua: the first reminder after the due date is not sent and says why; nothing panics.
    let (_, schedule) = app.call("GET", &format!("/v1/charges/{bad_id}/schedule"), Value::Null, &[]).await;
    let first_late =
        schedule["schedule"].as_array().unwrap().iter().find(|r| r["step"] == "after_due").expect("the default régua writes after the due date");
    let at: chrono::DateTime<Utc> = first_late["at"].as_str().unwrap().parse().unwrap();
    app.tick_and_deliver(at + Duration::minutes(1)).await;
    let (_, schedule) = app.call("GET", &format!("/v1/charges/{bad_id}/schedule"), Value::Null, &[]).await;
    let reminder = schedule["schedule"].as_array().unwrap().iter().find(|r| r["id"] == first_late["id"]).unwrap();
    assert_ne!(reminder["state"], "sent", "{schedule}");
    assert!(reminder["reason"].as_str().unwrap_or("").contains("cannot be computed"), "{schedule}");
}

fn round_cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Half away from zero, in whole centavos, of `num / den` (both positive): the oracle the pricing must match.
fn div_round(num: i128, den: i128) -> i128 {
    (2 * num + den) / (2 * den)
}

#[derive(Debug, Clone)]
struct Extreme {
    cents: i64,
    consumer: bool,
    /// Fine in hundredths of a percent, up to the ceiling.
    fine: i64,
    /// Interest in hundredths of a percent a month, up to the ceiling.
    interest: i64,
    days_late: i64,
}

fn extreme() -> impl Strategy<Value = Extreme> {
    let cents = prop_oneof![Just(9_999_999_999i64), Just(1i64), 1i64..=9_999_999_999];
    (cents, any::<bool>(), 0i64..=10_000, 0i64..=7_300).prop_map(|(cents, consumer, r, days_late)| {
        let (fine_cap, interest_cap) = if consumer { (200, 100) } else { (1_000, 200) };
        // Mostly the ceilings themselves, the worst case.
        let pick = |cap: i64| if r % 3 == 0 { r % (cap + 1) } else { cap };
        Extreme { cents, consumer, fine: pick(fine_cap), interest: pick(interest_cap), days_late }
    })
}

fn charge_of(e: &Extreme, due: NaiveDate) -> Charge {
    let now = Utc::now();
    let late_fees = LateFees {
        fine: Some(Fine::Percent(Decimal::new(e.fine, 2))),
        interest: Some(Interest::PercentPerMonth(Decimal::new(e.interest, 2))),
        consumer_cap: e.consumer,
        ..LateFees::default()
    };
    let payer = if e.consumer { Document::parse("52998224725").unwrap() } else { Document::parse("11222333000181").unwrap() };
    let amount = Money::from_cents(e.cents).unwrap();
    late_fees.admit(amount, due, &payer).expect("the generator makes admissible terms");
    Charge {
        id: ChargeId::parse("chg_extreme").unwrap(),
        late_fees,
        status: ChargeStatus::Overdue,
        ..Charge::new_pending(
            MerchantId::parse("mer_prop").unwrap(),
            CustomerId::parse("cus_prop").unwrap(),
            amount,
            DueDate::from_stored(due),
            Description::parse("x").unwrap(),
            vec![PaymentMethod::Pix],
            now,
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The largest charge with the highest admitted fine and interest, paid up to 20 years late: priced exactly
    /// to the cent (checked against integer arithmetic), totalled by the reports and rendered in messages.
    #[test]
    fn extreme_but_admitted_terms_price_exactly_in_reports_and_messages(e in extreme()) {
        let due = NaiveDate::from_ymd_opt(2027, 3, 10).unwrap();
        let c = charge_of(&e, due);
        let effective = calendar::effective_due_date(due);
        let day = effective + Duration::days(e.days_late);
        let priced = c.amount_due(day).expect("admitted terms always price");

        let cents = i128::from(e.cents);
        let (fine, interest) = if e.days_late > 0 {
            // percent / 100 of the debt; the rates are in hundredths of a percent.
            (div_round(cents * i128::from(e.fine), 10_000), div_round(cents * i128::from(e.interest) * i128::from(e.days_late), 10_000 * 30))
        } else {
            (0, 0)
        };
        prop_assert_eq!(priced.fine, Decimal::new(fine as i64, 2));
        prop_assert_eq!(priced.interest, Decimal::new(interest as i64, 2));
        prop_assert_eq!(priced.total, Decimal::new((cents + fine + interest) as i64, 2));

        // Reports: a thousand of them still add up exactly, in every bucket they land in.
        let book = vec![c.clone(); 1000];
        let aging = portfolio::aging(&book, day);
        prop_assert!(aging.unpriced_charges.is_empty());
        let whole = aging.not_yet_due.balance_due + aging.overdue.balance_due;
        prop_assert_eq!(whole, priced.total * Decimal::from(1000));
        let receivables = portfolio::receivables(&book, due, due, day);
        prop_assert_eq!(receivables.totals.balance_due, whole);

        // Messages: the amount the payer reads is the balance, formatted.
        let merchant = Merchant { id: c.merchant_id.clone(), name: "Loja".into(), document: Document::parse("11222333000181").unwrap(), created_at: Utc::now(), mode: cobranca::domain::merchant::Mode::Test };
        let customer = Customer {
            id: c.customer_id.clone(), merchant_id: c.merchant_id.clone(), name: PersonName::parse("Maria Silva").unwrap(),
            document: Document::parse("52998224725").unwrap(), email: None, phone: None, address: None, opt_out: Default::default(), erased_at: None, created_at: Utc::now(),
        };
        let at = calendar::local_instant(day, chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap());
        let ctx = MessageContext::new(&merchant, &customer, &c, "https://pay.example/x", at).expect("renders");
        prop_assert_eq!(ctx.amount, cobranca::domain::money::brl(round_cents(priced.total)));
    }
}
