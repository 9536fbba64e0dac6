//! Installment plans (carnês): a total split into monthly charges, each with its own link and régua.

mod support;

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
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

fn plan_body(customer: &str, amount: &str, installments: u64, first_due: &str) -> Value {
    json!({"customer_id": customer, "amount": amount, "installments": installments, "first_due_date": first_due, "description": "Curso de inglês", "payment_methods": ["pix", "boleto"]})
}

#[tokio::test]
async fn a_total_is_split_to_the_cent_into_monthly_charges_each_with_its_own_link_and_regua() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let now = Utc.with_ymd_and_hms(2028, 1, 10, 12, 0, 0).unwrap();
    let (status, plan) = app.call_at("POST", "/v1/installment-plans", plan_body(&customer, "100.00", 3, "2028-01-31"), now).await;
    assert_eq!(status, 201, "{plan}");
    let parts = plan["installments"].as_array().unwrap();
    let amounts: Vec<&str> = parts.iter().map(|p| p["amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, ["33.34", "33.33", "33.33"], "the first installment carries the leftover cent");
    let dues: Vec<&str> = parts.iter().map(|p| p["due_date"].as_str().unwrap()).collect();
    assert_eq!(dues, ["2028-01-31", "2028-02-29", "2028-03-31"], "the 31st falls on the last day of shorter months");
    assert_eq!((&plan["status"], &plan["amount"]), (&json!("active"), &json!("100.00")));

    let mut links = std::collections::HashSet::new();
    for (n, part) in parts.iter().enumerate() {
        let (_, charge) = app.call_at("GET", &format!("/v1/charges/{}", part["charge_id"].as_str().unwrap()), Value::Null, now).await;
        assert_eq!(charge["amount"], part["amount"]);
        assert_eq!(charge["description"], json!(format!("Curso de inglês — parcela {}/3", n + 1)));
        assert_eq!(charge["origin"], json!({"kind": "installment_plan", "plan_id": plan["id"], "number": n + 1, "of": 3}));
        assert!(!charge["reminders"].as_array().unwrap().is_empty(), "each installment has its own régua");
        assert_eq!(charge["payment_url"], part["payment_url"]);
        links.insert(charge["payment_url"].as_str().unwrap().to_string());
    }
    assert_eq!(links.len(), 3, "one link per installment");
    let (_, listed) = app.call_at("GET", "/v1/installment-plans", Value::Null, now).await;
    assert_eq!((&listed["data"][0]["id"], &listed["data"][0]["installments"]), (&plan["id"], &json!(3)));
}

#[tokio::test]
async fn installments_always_add_up_to_the_total() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let now = Utc.with_ymd_and_hms(2028, 1, 10, 12, 0, 0).unwrap();
    for (total, count) in [("0.05", 4), ("1000.01", 12), ("99.99", 7), ("12345.67", 60), ("10.00", 2)] {
        let (status, plan) = app.call_at("POST", "/v1/installment-plans", plan_body(&customer, total, count, "2028-02-15"), now).await;
        if total == "0.05" {
            assert_eq!(status, 201, "{plan}");
        }
        let parts = plan["installments"].as_array().unwrap();
        assert_eq!(parts.len() as u64, count);
        let sum: Decimal = parts.iter().map(|p| Decimal::from_str(p["amount"].as_str().unwrap()).unwrap()).sum();
        assert_eq!(sum, Decimal::from_str(total).unwrap(), "{total} in {count}");
        let cents: Vec<Decimal> = parts.iter().map(|p| Decimal::from_str(p["amount"].as_str().unwrap()).unwrap()).collect();
        assert!(cents.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= Decimal::new(1, 2)), "at most a cent apart: {cents:?}");
    }
}

#[tokio::test]
async fn a_retried_plan_with_its_key_makes_no_charge_twice() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let body = plan_body(&customer, "250.00", 5, &support::due_in(3));
    let (s1, first) = app.call("POST", "/v1/installment-plans", body.clone(), &[("idempotency-key", "carne-42")]).await;
    let (s2, again) = app.call("POST", "/v1/installment-plans", body.clone(), &[("idempotency-key", "carne-42")]).await;
    assert_eq!((s1, s2), (201, 201), "{again}");
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["installments"], again["installments"]);
    let (_, charges) = app.call("GET", &format!("/v1/charges?customer_id={customer}&limit=100"), Value::Null, &[]).await;
    assert_eq!(charges["data"].as_array().unwrap().len(), 5, "five charges, not ten");
}

#[tokio::test]
async fn bad_plans_are_refused_naming_the_field_and_make_nothing() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let due = support::due_in(5);
    for (body, field) in [
        (plan_body(&customer, "100.00", 1, &due), "installments"),
        (plan_body(&customer, "100.00", 61, &due), "installments"),
        (plan_body(&customer, "0.02", 3, &due), "amount"),
        (plan_body(&customer, "100.001", 3, &due), "amount"),
        (plan_body(&customer, "100.00", 3, "2020-01-01"), "first_due_date"),
        (plan_body("cus_nao_existe", "100.00", 3, &due), "customer_id"),
        (json!({"amount": "100.00", "installments": 3, "first_due_date": due, "description": "x", "payment_methods": ["pix"]}), "customer_id"),
        (
            json!({"customer_id": customer, "amount": "100.00", "installments": 3, "first_due_date": due, "description": "x", "payment_methods": ["pix"], "discount": "1"}),
            "discount",
        ),
        (
            json!({"customer_id": customer, "amount": "100.00", "installments": 3, "first_due_date": due, "description": "x", "payment_methods": ["cheque"]}),
            "payment_methods",
        ),
    ] {
        let (status, e) = app.call("POST", "/v1/installment-plans", body.clone(), &[]).await;
        assert_eq!(status, 422, "{body}: {e}");
        assert_eq!(e["error"]["field"], json!(field), "{body}: {e}");
    }
    let (_, charges) = app.call("GET", "/v1/charges", Value::Null, &[]).await;
    assert!(charges["data"].as_array().unwrap().is_empty(), "nothing was created: {charges}");
}

#[tokio::test]
async fn cancelling_a_plan_cancels_what_is_still_open_and_keeps_what_was_paid() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let (_, plan) = app.call("POST", "/v1/installment-plans", plan_body(&customer, "90.00", 3, &support::due_in(2)), &[]).await;
    let first = plan["installments"][0]["charge_id"].as_str().unwrap().to_string();
    let paid = json!({"type":"payment.confirmed","data":{"charge_id": first,"amount":"30.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E-CARNE-1"}});
    assert_eq!(app.webhook("msg_carne_1", &paid).await.0, 200);

    let (status, cancelled) = app.call("POST", &format!("/v1/installment-plans/{}/cancel", plan["id"].as_str().unwrap()), Value::Null, &[]).await;
    assert_eq!(status, 200, "{cancelled}");
    let statuses: Vec<&str> = cancelled["installments"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["paid", "cancelled", "cancelled"]);
    assert_eq!(cancelled["status"], "closed");
    // The cancelled installments' régua stops: nothing of theirs is left to send.
    for part in &cancelled["installments"].as_array().unwrap()[1..] {
        let (_, charge) = app.call("GET", &format!("/v1/charges/{}", part["charge_id"].as_str().unwrap()), Value::Null, &[]).await;
        assert!(charge["reminders"].as_array().unwrap().iter().all(|r| r["state"] != "planned"), "{charge}");
    }
}

async fn charge_at(app: &App, customer: &str, amount: &str, due: &str, at: chrono::DateTime<Utc>) -> String {
    let body = json!({"customer_id": customer, "amount": amount, "due_date": due, "description": "Mensalidade", "payment_methods": ["pix"],
        "late_fees": {"fine": {"kind": "percent", "value": "2"}, "interest": {"kind": "percent_per_month", "value": "1"}}});
    let (status, c) = app.call_at("POST", "/v1/charges", body, at).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn overdue_charges_are_renegotiated_into_a_plan_and_their_regua_stops() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let (_, joao) =
        app.call("POST", "/v1/customers", json!({"name": "João Souza", "document": "111.444.777-35", "email": "joao@example.com"}), &[]).await;
    let t0 = Utc.with_ymd_and_hms(2028, 3, 1, 12, 0, 0).unwrap();
    let a = charge_at(&app, &maria, "100.00", "2028-03-06", t0).await;
    let b = charge_at(&app, &maria, "50.00", "2028-03-10", t0).await;
    let other = charge_at(&app, joao["id"].as_str().unwrap(), "70.00", "2028-03-10", t0).await;

    // Five weeks later both are overdue, with fine and interest.
    let t1 = Utc.with_ymd_and_hms(2028, 4, 5, 12, 0, 0).unwrap();
    app.tick_and_deliver(t1).await;
    let mut owed_today = Decimal::ZERO;
    for id in [&a, &b] {
        let (_, c) = app.call_at("GET", &format!("/v1/charges/{id}"), Value::Null, t1).await;
        assert_eq!(c["status"], "overdue");
        owed_today += Decimal::from_str(c["balance_due"].as_str().unwrap()).unwrap();
    }
    assert!(owed_today > Decimal::from(150), "fine and interest accrued: {owed_today}");

    let request = |ids: Vec<&str>, waive: bool| {
        json!({"customer_id": maria, "charge_ids": ids, "installments": 3, "first_due_date": "2028-04-20",
        "waive_late_fees": waive, "payment_methods": ["pix"]})
    };
    // Someone else's charge, and an unknown one, are refused; nothing changes.
    for ids in [vec![a.as_str(), other.as_str()], vec![a.as_str(), "chg_nao_existe"]] {
        let (status, e) = app.call_at("POST", "/v1/renegotiations", request(ids, false), t1).await;
        assert_eq!((status, &e["error"]["field"]), (422, &json!("charge_ids")), "{e}");
    }
    let (status, plan) = app.call_at("POST", "/v1/renegotiations", request(vec![b.as_str(), a.as_str()], false), t1).await;
    assert_eq!(status, 201, "{plan}");
    assert_eq!(Decimal::from_str(plan["amount"].as_str().unwrap()).unwrap(), owed_today, "the debt as priced today, to the cent");
    let sum: Decimal = plan["installments"].as_array().unwrap().iter().map(|p| Decimal::from_str(p["amount"].as_str().unwrap()).unwrap()).sum();
    assert_eq!(sum, owed_today);
    let mut linked: Vec<String> = plan["renegotiates"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    linked.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(linked, expected, "the plan names the charges it replaced");

    let sent_before: Vec<Vec<String>> = sent_to(&app, &[&a, &b]).await;
    for id in [&a, &b] {
        let (_, c) = app.call_at("GET", &format!("/v1/charges/{id}"), Value::Null, t1).await;
        assert_eq!((&c["status"], &c["renegotiated_into"]), (&json!("renegotiated"), &plan["id"]), "{c}");
        assert!(c["reminders"].as_array().unwrap().iter().all(|r| r["state"] != "planned" && r["state"] != "queued"), "{c}");
    }
    // Weeks of ticks send the originals nothing more; the plan's installments have their own régua.
    for day in [6, 10, 20, 30] {
        app.tick_and_deliver(Utc.with_ymd_and_hms(2028, 4, day, 13, 0, 0).unwrap()).await;
    }
    assert_eq!(sent_to(&app, &[&a, &b]).await, sent_before, "the originals' régua stopped");
    let first = plan["installments"][0]["charge_id"].as_str().unwrap();
    assert!(!app.outbox_steps(first).await.is_empty(), "the installments are reminded");

    // The same request again finishes nothing new; a renegotiated charge cannot be renegotiated again.
    let (status, again) = app.call_at("POST", "/v1/renegotiations", request(vec![a.as_str(), b.as_str()], false), t1).await;
    assert_eq!((status, &again["id"]), (201, &plan["id"]));
    let (status, e) = app.call_at("POST", "/v1/renegotiations", request(vec![a.as_str()], true), t1).await;
    assert_eq!((status, &e["error"]["code"]), (422, &json!("charge_not_renegotiable")));
    let (_, listed) = app.call_at("GET", &format!("/v1/charges?customer_id={maria}&limit=100"), Value::Null, t1).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 5, "two originals and three installments");
}

#[tokio::test]
async fn waiving_late_fees_renegotiates_the_face_value_less_what_was_paid() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let t0 = Utc.with_ymd_and_hms(2028, 3, 1, 12, 0, 0).unwrap();
    let a = charge_at(&app, &maria, "100.00", "2028-03-06", t0).await;
    let b = charge_at(&app, &maria, "50.00", "2028-03-10", t0).await;
    let partial = json!({"type":"payment.confirmed","data":{"charge_id": a,"amount":"40.00","paid_at":"2028-03-05T10:00:00-03:00","method":"pix","provider_payment_id":"E-PART-1"}});
    assert_eq!(app.webhook("msg_part_1", &partial).await.0, 202);
    let t1 = Utc.with_ymd_and_hms(2028, 4, 5, 12, 0, 0).unwrap();
    let (status, plan) = app
        .call_at(
            "POST",
            "/v1/renegotiations",
            json!({"customer_id": maria, "charge_ids": [a, b], "installments": 2, "first_due_date": "2028-04-20",
            "waive_late_fees": true, "payment_methods": ["pix"], "description": "Acordo"}),
            t1,
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    assert_eq!(plan["amount"], "110.00", "100 − 40 paid + 50, no fine or interest");
    assert_eq!(plan["installments"][0]["amount"], "55.00");
}

/// What the outbox holds, per charge.
async fn sent_to(app: &App, ids: &[&String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for id in ids {
        out.push(app.outbox_steps(id).await);
    }
    out
}

#[tokio::test]
async fn plans_are_listed_newest_first_a_page_at_a_time() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let mut made = Vec::new();
    for n in 0..5 {
        let at = Utc.with_ymd_and_hms(2028, 1, 10, 12, n, 0).unwrap();
        let (status, plan) = app.call_at("POST", "/v1/installment-plans", plan_body(&customer, "100.00", 2, "2028-02-15"), at).await;
        assert_eq!(status, 201, "{plan}");
        made.push(plan["id"].clone());
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = app.call("GET", &format!("/v1/installment-plans?limit=2{cursor}"), Value::Null, &[]).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(page["data"].as_array().unwrap().iter().map(|p| p["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!((seen, pages), (made, 3));
    let (status, e) = app.call("GET", "/v1/installment-plans?cursor=bm9wZQ", Value::Null, &[]).await;
    assert_eq!((status, &e["error"]["field"]), (422, &json!("cursor")));
}

#[tokio::test]
async fn the_plan_has_one_link_showing_every_installment_with_its_own_link_while_payable() {
    let app = App::new().await;
    let customer = customer(&app).await;
    let mut body = plan_body(&customer, "300.00", 3, &support::due_in(5));
    body["payment_methods"] = json!(["pix", "credit_card"]);
    let (status, plan) = app.call("POST", "/v1/installment-plans", body, &[]).await;
    assert_eq!(status, 201, "{plan}");
    let plan_url = plan["payment_url"].as_str().unwrap();
    let first_url = plan["installments"][0]["payment_url"].as_str().unwrap();
    assert_eq!(plan_url, format!("{first_url}/plan"), "the plan's link");
    let path = |url: &str| url.trim_start_matches("https://pay.test").to_string();

    let page = app.page("GET", &path(plan_url), "").await;
    assert_eq!(page.status, 200);
    // minijinja escapes "/" in HTML; a browser reads it back.
    let html = String::from_utf8(page.body).unwrap().replace("&#x2f;", "/");
    for part in plan["installments"].as_array().unwrap() {
        assert!(html.contains(&format!("href=\"{}\"", part["payment_url"].as_str().unwrap())), "each installment's own link:\n{html}");
    }
    assert!(html.contains("R$ 300,00") && html.contains("Em aberto") && html.contains("1/3"), "{html}");

    // The first installment paid: shown paid, without a link; the plan page is the same from any installment's link.
    let first = plan["installments"][0]["charge_id"].as_str().unwrap();
    let (status, paid) = app
        .call("POST", &format!("/v1/charges/{first}/card-payments"), json!({"card_token": "tok_visa", "brand": "Visa", "installments": 1}), &[])
        .await;
    assert_eq!(status, 201, "{paid}");
    let third_url = plan["installments"][2]["payment_url"].as_str().unwrap();
    let html = String::from_utf8(app.page("GET", &format!("{}/plan", path(third_url)), "").await.body).unwrap().replace("&#x2f;", "/");
    assert!(html.contains("Paga") && !html.contains(&format!("href=\"{first_url}\"")), "{html}");
    assert!(html.contains("R$ 200,00"), "what is still open: {html}");

    // A charge outside any plan has no plan page.
    let (_, single) = app
        .call(
            "POST",
            "/v1/charges",
            json!({"customer_id": customer, "amount": "10.00", "due_date": support::due_in(3), "description": "Avulsa", "payment_methods": ["pix"]}),
            &[],
        )
        .await;
    assert_eq!(app.page("GET", &format!("{}/plan", path(single["payment_url"].as_str().unwrap())), "").await.status, 404);
}
