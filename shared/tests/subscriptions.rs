//! Subscriptions: charges generated ahead of each due date by the scheduled run, month ends kept, price changes
//! from the next charge, pause/resume/cancel, and a generator that never makes a charge twice.

mod support;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cobranca::domain::recurrence::Subscription;
use cobranca::ports::store::*;
use serde_json::{json, Value};
use support::App;

async fn customer(app: &App) -> String {
    let (_, c) = app
        .call(
            "POST",
            "/v1/customers",
            json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com",
        "address": {"street": "Av. Paulista", "number": "1000", "district": "Bela Vista", "city": "São Paulo", "state": "SP", "cep": "01310-100"}}),
            &[],
        )
        .await;
    c["id"].as_str().unwrap().to_string()
}

fn body(customer: &str, cycle: &str, first_due: &str) -> Value {
    json!({"customer_id": customer, "amount": "99.90", "cycle": cycle, "first_due_date": first_due, "description": "Plano Pro",
        "payment_methods": ["pix", "boleto"]})
}

/// 09:00 in São Paulo on `date`: when the scheduled run is looked at each day.
fn morning(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(12, 0, 0).unwrap())
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// The subscription's charges as the merchant lists them, by due date.
async fn charges_of(app: &App, customer: &str, at: DateTime<Utc>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app.call_at("GET", &format!("/v1/charges?customer_id={customer}&limit=100{cursor}"), Value::Null, at).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return out,
        }
    }
}

async fn stored(app: &App, id: &str) -> Subscription {
    app.store.get_subscription(&app.merchant_id, &cobranca::domain::ids::SubscriptionId::parse(id).unwrap()).await.unwrap().unwrap()
}

#[tokio::test]
async fn two_years_of_monthly_charges_from_the_31st_each_made_ten_days_ahead_once() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let start = morning(d(2027, 1, 5));
    let mut b = body(&customer, "monthly", "2027-01-31");
    b["max_charges"] = json!(24);
    let (status, sub) = app.call_at("POST", "/v1/subscriptions", b, start).await;
    assert_eq!(status, 201, "{sub}");
    let id = sub["id"].as_str().unwrap().to_string();
    assert_eq!((&sub["status"], &sub["next_due_date"], &sub["next_generation_date"]), (&json!("active"), &json!("2027-01-31"), &json!("2027-01-21")));
    assert!(sub["charges"].as_array().unwrap().is_empty(), "the first charge is not due for generation yet");

    // Every morning for two years, twice (a retried run): each cycle's charge made once, on its day.
    let mut day = d(2027, 1, 5);
    while day <= d(2029, 1, 31) {
        app.tick_and_deliver(morning(day)).await;
        if day.format("%d").to_string() == "15" {
            app.tick_and_deliver(morning(day)).await;
        }
        day = day.succ_opt().unwrap();
    }
    let charges = charges_of(&app, &customer, morning(d(2029, 2, 1))).await;
    assert_eq!(charges.len(), 24, "max_charges");
    let dues: Vec<String> = charges.iter().map(|c| c["due_date"].as_str().unwrap().to_string()).collect();
    let expected: Vec<String> = [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
        "2027-05-31",
        "2027-06-30",
        "2027-07-31",
        "2027-08-31",
        "2027-09-30",
        "2027-10-31",
        "2027-11-30",
        "2027-12-31",
        "2028-01-31",
        "2028-02-29",
        "2028-03-31",
        "2028-04-30",
        "2028-05-31",
        "2028-06-30",
        "2028-07-31",
        "2028-08-31",
        "2028-09-30",
        "2028-10-31",
        "2028-11-30",
        "2028-12-31",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(dues, expected, "the 31st, or the last day of shorter months, leap February included");
    for (n, c) in charges.iter().enumerate() {
        assert_eq!(c["amount"], json!("99.90"));
        assert_eq!(c["origin"], json!({"kind": "subscription", "subscription_id": id, "cycle": n}));
        let due = NaiveDate::parse_from_str(c["due_date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let created: DateTime<Utc> = c["created_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(cobranca::domain::calendar::local_date(created), due - Duration::days(10), "made lead_days before it falls due");
    }
    let (_, sub) = app.call_at("GET", &format!("/v1/subscriptions/{id}"), Value::Null, morning(d(2029, 2, 1))).await;
    assert_eq!((&sub["status"], &sub["charges_generated"], &sub["next_due_date"]), (&json!("completed"), &json!(24), &Value::Null));
    assert_eq!(sub["charges"].as_array().unwrap().len(), 12, "the latest twelve shown");
    assert_eq!(sub["charges"][0]["due_date"], json!("2028-12-31"));
}

#[tokio::test]
async fn a_price_change_applies_from_the_next_charge_not_yet_made() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let start = morning(d(2027, 3, 1));
    let (_, sub) = app.call_at("POST", "/v1/subscriptions", body(&customer, "monthly", "2027-03-10"), start).await;
    let id = sub["id"].as_str().unwrap();
    assert_eq!(sub["charges"].as_array().unwrap().len(), 1, "the first charge falls due within the lead time: made at once");
    // Late March: April's charge is not made yet (it is on 31 March).
    let (status, changed) = app.call_at("PATCH", &format!("/v1/subscriptions/{id}"), json!({"amount": "119.90"}), morning(d(2027, 3, 20))).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["amount"], json!("119.90"));
    for day in [d(2027, 3, 31), d(2027, 4, 30)] {
        app.tick_and_deliver(morning(day)).await;
    }
    let amounts: Vec<Value> = charges_of(&app, &customer, morning(d(2027, 5, 1))).await.iter().map(|c| c["amount"].clone()).collect();
    assert_eq!(amounts, [json!("99.90"), json!("119.90"), json!("119.90")]);
    assert_eq!(changed["prices"], json!([{"from_cycle": 0, "amount": "99.90"}, {"from_cycle": 1, "amount": "119.90"}]));
}

#[tokio::test]
async fn paused_cycles_are_not_billed_resume_goes_on_and_cancel_stops_everything() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let (_, sub) = app
        .call_at(
            "POST",
            "/v1/subscriptions",
            json!({"customer_id": customer, "amount": "30.00", "cycle": "weekly", "first_due_date": "2027-06-07",
        "description": "Cesta semanal", "payment_methods": ["pix"], "lead_days": 2}),
            morning(d(2027, 6, 1)),
        )
        .await;
    let id = sub["id"].as_str().unwrap().to_string();
    app.tick_and_deliver(morning(d(2027, 6, 5))).await;
    assert_eq!(charges_of(&app, &customer, morning(d(2027, 6, 5))).await.len(), 1);

    let (status, paused) = app.call_at("POST", &format!("/v1/subscriptions/{id}/pause"), Value::Null, morning(d(2027, 6, 8))).await;
    assert_eq!((status, &paused["status"], &paused["next_generation_date"]), (200, &json!("paused"), &Value::Null));
    for day in 8..=30 {
        app.tick_and_deliver(morning(d(2027, 6, day))).await;
    }
    assert_eq!(charges_of(&app, &customer, morning(d(2027, 6, 30))).await.len(), 1, "nothing made while paused");

    // Resumed on 1 July: the weeks missed are not billed; the next is 5 July.
    let (status, resumed) = app.call_at("POST", &format!("/v1/subscriptions/{id}/resume"), Value::Null, morning(d(2027, 7, 1))).await;
    assert_eq!((status, &resumed["status"], &resumed["next_due_date"]), (200, &json!("active"), &json!("2027-07-05")));
    app.tick_and_deliver(morning(d(2027, 7, 3))).await;
    let charges = charges_of(&app, &customer, morning(d(2027, 7, 3))).await;
    assert_eq!(charges.iter().map(|c| c["due_date"].clone()).collect::<Vec<_>>(), [json!("2027-06-07"), json!("2027-07-05")]);

    // Cancelled with its open charges: their régua stops, and no more are made.
    let (status, cancelled) =
        app.call_at("POST", &format!("/v1/subscriptions/{id}/cancel"), json!({"cancel_open_charges": true}), morning(d(2027, 7, 4))).await;
    assert_eq!((status, &cancelled["status"]), (200, &json!("cancelled")));
    for c in charges_of(&app, &customer, morning(d(2027, 7, 4))).await {
        assert_eq!(c["status"], json!("cancelled"), "{c}");
        let (_, schedule) =
            app.call_at("GET", &format!("/v1/charges/{}/schedule", c["id"].as_str().unwrap()), Value::Null, morning(d(2027, 7, 4))).await;
        assert!(schedule["schedule"].as_array().unwrap().iter().all(|r| r["state"] != json!("planned")), "no reminder left planned: {schedule}");
    }
    for day in 5..=31 {
        app.tick_and_deliver(morning(d(2027, 7, day))).await;
    }
    assert_eq!(charges_of(&app, &customer, morning(d(2027, 7, 31))).await.len(), 2);
    let (status, e) = app.call_at("POST", &format!("/v1/subscriptions/{id}/resume"), Value::Null, morning(d(2027, 8, 1))).await;
    assert_eq!((status, &e["error"]["code"]), (409, &json!("subscription_cancelled")));
}

#[tokio::test]
async fn a_run_that_died_before_recording_its_charge_makes_no_second_one() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let (_, sub) = app.call_at("POST", "/v1/subscriptions", body(&customer, "monthly", "2027-09-30"), morning(d(2027, 9, 1))).await;
    let id = sub["id"].as_str().unwrap();
    app.tick_and_deliver(morning(d(2027, 9, 20))).await;
    assert_eq!(charges_of(&app, &customer, morning(d(2027, 9, 20))).await.len(), 1);

    // As if the run had crashed after making the charge, before moving the subscription on.
    let mut lost = stored(&app, id).await;
    assert_eq!(lost.next_cycle, 1);
    let version = lost.version;
    lost.next_cycle = 0;
    lost.version += 1;
    app.store.put_subscription(&lost, Some(version)).await.unwrap();

    let report = app.tick_and_deliver(morning(d(2027, 9, 21))).await;
    assert_eq!(report["subscriptions"]["subscriptions_read"], json!(1), "{report}");
    assert_eq!(charges_of(&app, &customer, morning(d(2027, 9, 21))).await.len(), 1, "the same charge, found made");
    assert_eq!(stored(&app, id).await.next_cycle, 1);
    let report = app.tick_and_deliver(morning(d(2027, 9, 22))).await;
    assert_eq!(report["subscriptions"]["subscriptions_read"], json!(0), "nothing due until October's charge");
}

#[tokio::test]
async fn a_charge_the_charge_path_refuses_pauses_the_subscription_with_the_reason() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let (_, sub) = app
        .call_at(
            "POST",
            "/v1/subscriptions",
            json!({"customer_id": customer, "amount": "50.00", "cycle": "monthly", "first_due_date": "2027-10-20",
        "description": "Mensalidade", "payment_methods": ["pix"], "lead_days": 0}),
            morning(d(2027, 10, 1)),
        )
        .await;
    let id = sub["id"].as_str().unwrap();
    // The customer asks for erasure (no open charge yet): the subscription can no longer bill them.
    let (status, _) = app.call_at("DELETE", &format!("/v1/customers/{customer}/personal-data"), Value::Null, morning(d(2027, 10, 2))).await;
    assert_eq!(status, 200);
    let report = app.tick_and_deliver(morning(d(2027, 10, 20))).await;
    assert_eq!(report["subscriptions"]["subscriptions_paused"], json!(1), "{report}");
    let (_, sub) = app.call_at("GET", &format!("/v1/subscriptions/{id}"), Value::Null, morning(d(2027, 10, 20))).await;
    assert_eq!(sub["status"], json!("paused"));
    assert!(sub["paused_reason"].as_str().unwrap().starts_with("customer_erased"), "{sub}");
    assert!(charges_of(&app, &customer, morning(d(2027, 10, 20))).await.is_empty());
}

#[tokio::test]
async fn bad_subscriptions_are_refused_with_the_field_at_fault() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let now = morning(d(2027, 1, 5));
    let (_, no_address) =
        app.call("POST", "/v1/customers", json!({"name": "João", "document": "111.444.777-35", "email": "joao@example.com"}), &[]).await;
    let cases = [
        (json!({"cycle": "fortnightly"}), "cycle"),
        (json!({"first_due_date": "2026-12-01"}), "first_due_date"),
        (json!({"amount": "0.00"}), "amount"),
        (json!({"end_date": "2027-06-30", "max_charges": 3}), "end_date"),
        (json!({"end_date": "2027-01-01"}), "end_date"),
        (json!({"max_charges": 0}), "max_charges"),
        (json!({"lead_days": 61}), "lead_days"),
        (json!({"payment_methods": ["cheque"]}), "payment_methods"),
        (json!({"customer_id": "cus_nobody"}), "customer_id"),
        (json!({"customer_id": no_address["id"]}), "customer_id"),
        (json!({"trial_days": 7}), "trial_days"),
    ];
    for (change, field) in cases {
        let mut b = body(&customer, "monthly", "2027-01-31");
        for (k, v) in change.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (status, e) = app.call_at("POST", "/v1/subscriptions", b, now).await;
        assert_eq!((status, e["error"]["field"].as_str()), (422, Some(field)), "{change}: {e}");
    }
    let (_, listed) = app.call_at("GET", "/v1/subscriptions", Value::Null, now).await;
    assert!(listed["data"].as_array().unwrap().is_empty(), "nothing stored");
}

#[tokio::test]
async fn the_same_idempotency_key_makes_one_subscription_and_one_first_charge() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let key = [("idempotency-key", "sub-2027-01")];
    let b = body(&customer, "quarterly", "2027-01-10");
    let (s1, first) = app.call("POST", "/v1/subscriptions", b.clone(), &key).await;
    let (s2, again) = app.call("POST", "/v1/subscriptions", b, &key).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(first["id"], again["id"]);
    let (_, listed) = app.call("GET", "/v1/subscriptions?limit=10", Value::Null, &[]).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["cycle"], json!("quarterly"));
}

#[tokio::test]
async fn a_run_looks_at_a_bounded_number_of_subscriptions_and_the_next_goes_on() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let n = cobranca::http::api::MAX_SUBSCRIPTIONS_PER_RUN + 3;
    for _ in 0..n {
        let (status, e) = app
            .call_at(
                "POST",
                "/v1/subscriptions",
                json!({"customer_id": customer, "amount": "10.00", "cycle": "monthly",
            "first_due_date": "2027-05-20", "description": "Plano", "payment_methods": ["pix"], "lead_days": 5}),
                morning(d(2027, 5, 1)),
            )
            .await;
        assert_eq!(status, 201, "{e}");
    }
    let first = app.api().generate_subscription_charges(morning(d(2027, 5, 15))).await.unwrap();
    assert_eq!((first.charges_generated, first.more), (cobranca::http::api::MAX_SUBSCRIPTIONS_PER_RUN, true));
    let second = app.api().generate_subscription_charges(morning(d(2027, 5, 15))).await.unwrap();
    assert_eq!((second.charges_generated, second.more), (3, false));
    let third = app.api().generate_subscription_charges(morning(d(2027, 5, 15))).await.unwrap();
    assert_eq!(third.subscriptions_read, 0);
}
