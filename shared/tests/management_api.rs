//! Managing what a merchant holds: customers listed and updated, charges listed with filters, page by page.

mod support;

use std::collections::HashSet;

use serde_json::{json, Value};
use support::{due_in, App};

/// Every item of a list, following `next_cursor` with pages of `limit`.
async fn every(app: &App, path: &str, limit: usize) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (mut out, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let (status, page) = app.call("GET", &url, Value::Null, &[]).await;
        assert_eq!(status, 200, "{url}: {page}");
        let items = page["data"].as_array().unwrap();
        assert!(items.len() <= limit);
        out.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(page["has_more"], true);
                cursor = Some(c.to_string());
            }
            None => return out,
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
}

/// A charge as the test made it: (due date, id, customer id, status).
type Listed = (String, String, String, String);

const CPFS: [&str; 3] = ["529.982.247-25", "111.444.777-35", "390.533.447-05"];

#[tokio::test]
async fn customers_are_listed_once_each_page_by_page() {
    let app = App::new().await;
    let mut created = Vec::new();
    for n in 0..45 {
        let (status, c) = app.call("POST", "/v1/customers", json!({"name": format!("Cliente {n}"), "document": CPFS[n % 3]}), &[]).await;
        assert_eq!(status, 201, "{c}");
        created.push(c["id"].as_str().unwrap().to_string());
    }
    let listed = ids(&every(&app, "/v1/customers", 7).await);
    assert_eq!(listed, created, "every customer once, oldest first");
    assert_eq!(ids(&every(&app, "/v1/customers", 100).await), created);
    for bad in ["/v1/customers?limit=0", "/v1/customers?limit=101", "/v1/customers?cursor=forged"] {
        let (status, e) = app.call("GET", bad, Value::Null, &[]).await;
        assert_eq!(status, 422, "{bad}: {e}");
    }
}

#[tokio::test]
async fn charges_are_listed_by_due_date_with_filters_combined() {
    let app = App::new().await;
    let mut customers = Vec::new();
    for cpf in &CPFS[..2] {
        let (_, c) = app.call("POST", "/v1/customers", json!({"name": "Maria Silva", "document": cpf}), &[]).await;
        customers.push(c["id"].as_str().unwrap().to_string());
    }
    // 45 charges: due in 1..=45 days, alternating customers; every fifth cancelled.
    let mut expected: Vec<Listed> = Vec::new();
    for n in 1..=45i64 {
        let customer = &customers[(n % 2) as usize];
        let (status, c) = app
            .call(
                "POST",
                "/v1/charges",
                json!({"customer_id": customer, "amount": "10.00", "due_date": due_in(n), "description": "Parcela", "payment_methods": ["pix"]}),
                &[],
            )
            .await;
        assert_eq!(status, 201, "{c}");
        let id = c["id"].as_str().unwrap().to_string();
        let mut status = "pending";
        if n % 5 == 0 {
            assert_eq!(app.call("POST", &format!("/v1/charges/{id}/cancel"), Value::Null, &[]).await.0, 200);
            status = "cancelled";
        }
        expected.push((due_in(n), id, customer.clone(), status.into()));
    }
    expected.sort();
    let all = every(&app, "/v1/charges", 8).await;
    assert_eq!(ids(&all), expected.iter().map(|e| e.1.clone()).collect::<Vec<_>>(), "every charge once, by due date");
    assert!(all.iter().all(|c| c.get("reminders").is_none() && c["payment_url"].is_string()));
    assert_eq!(all.iter().map(|c| c["id"].as_str().unwrap()).collect::<HashSet<_>>().len(), 45);

    let want = |f: &dyn Fn(&Listed) -> bool| expected.iter().filter(|e| f(e)).map(|e| e.1.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&every(&app, "/v1/charges?status=cancelled", 3).await), want(&|e| e.3 == "cancelled"));
    let c0 = &customers[0];
    assert_eq!(ids(&every(&app, &format!("/v1/charges?customer_id={c0}&status=pending"), 4).await), want(&|e| &e.2 == c0 && e.3 == "pending"));
    let (from, to) = (due_in(10), due_in(20));
    assert_eq!(
        ids(&every(&app, &format!("/v1/charges?due_from={from}&due_to={to}&customer_id={c0}"), 2).await),
        want(&|e| e.0 >= from && e.0 <= to && &e.2 == c0),
        "both ends of the range included"
    );
    assert!(every(&app, "/v1/charges?status=paid", 10).await.is_empty());

    for (bad, field) in [
        ("status=unpaid", "status"),
        ("customer_id=chg_1", "customer_id"),
        ("due_from=2026-13-01", "due_from"),
        ("due_to=amanha", "due_to"),
        ("due_from=2030-01-02&due_to=2030-01-01", "due_from"),
        ("limit=500", "limit"),
        ("cursor=%7B%7D", "cursor"),
    ] {
        let (status, e) = app.call("GET", &format!("/v1/charges?{bad}"), Value::Null, &[]).await;
        assert_eq!((status, e["error"]["field"].as_str()), (422, Some(field)), "{bad}: {e}");
    }
}

#[tokio::test]
async fn a_customer_is_updated_field_by_field_but_keeps_their_document() {
    let app = App::new().await;
    let (_, c) =
        app.call("POST", "/v1/customers", json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"}), &[]).await;
    let path = format!("/v1/customers/{}", c["id"].as_str().unwrap());

    let (status, u) = app.call("PATCH", &path, json!({"phone": "+55 11 98765-4321", "name": "Maria S. Souza"}), &[]).await;
    assert_eq!(status, 200, "{u}");
    assert_eq!((&u["name"], &u["email"], &u["phone"]), (&json!("Maria S. Souza"), &json!("maria@example.com"), &json!("+5511987654321")));
    let address = json!({"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"});
    let (status, u) = app.call("PATCH", &path, json!({"address": address, "email": null}), &[]).await;
    assert_eq!(status, 200, "{u}");
    assert_eq!((&u["address"]["city"], &u["email"]), (&json!("São Paulo"), &Value::Null), "null clears an optional field");
    let (_, shown) = app.call("GET", &path, Value::Null, &[]).await;
    assert_eq!(shown, u, "what the update answered is what is stored");
    assert_eq!((&shown["id"], &shown["created_at"]), (&c["id"], &c["created_at"]));

    // The same document, written differently, is not a change; another one is refused.
    assert_eq!(app.call("PATCH", &path, json!({"document": "52998224725"}), &[]).await.0, 200);
    let (status, e) = app.call("PATCH", &path, json!({"document": "111.444.777-35"}), &[]).await;
    assert_eq!((status, &e["error"]["code"]), (422, &json!("document_immutable")));
    // Bad values name their field and change nothing.
    for (body, field) in [
        (json!({"email": "maria@"}), "email"),
        (json!({"name": "M"}), "name"),
        (json!({"nickname": "Mari"}), "nickname"),
        (json!({"address": {"street": "Rua"}}), "address.number"),
    ] {
        let (status, e) = app.call("PATCH", &path, body.clone(), &[]).await;
        assert_eq!(status, 422, "{body}: {e}");
        assert!(e["error"]["field"].as_str().unwrap_or_default().starts_with(field.split('.').next().unwrap()), "{body}: {e}");
    }
    assert_eq!(app.call("GET", &path, Value::Null, &[]).await.1, shown);

    // Once erased (LGPD), there is nothing left to update.
    assert_eq!(app.call("DELETE", &format!("{path}/personal-data"), Value::Null, &[]).await.0, 200);
    let (status, e) = app.call("PATCH", &path, json!({"name": "Maria de Volta"}), &[]).await;
    assert_eq!((status, &e["error"]["code"]), (409, &json!("customer_erased")));
    assert_eq!(app.call("PATCH", "/v1/customers/cus_nao_existe", json!({"name": "Ninguém"}), &[]).await.0, 404);
}

#[tokio::test]
async fn cancelling_twice_answers_the_same_and_a_paid_charge_cannot_be_cancelled() {
    let app = App::new().await;
    let (_, customer) =
        app.call("POST", "/v1/customers", json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"}), &[]).await;
    let (_, charge) = app.call("POST", "/v1/charges", json!({"customer_id": customer["id"], "amount": "80.00", "due_date": support::due_in(5), "description": "Mensalidade", "payment_methods": ["pix", "credit_card"]}), &[]).await;
    let id = charge["id"].as_str().unwrap();
    let (first, once) = app.call("POST", &format!("/v1/charges/{id}/cancel"), Value::Null, &[]).await;
    let (second, twice) = app.call("POST", &format!("/v1/charges/{id}/cancel"), Value::Null, &[]).await;
    assert_eq!((first, second), (200, 200), "{twice}");
    assert_eq!((&once["status"], &twice["status"]), (&json!("cancelled"), &json!("cancelled")));

    let (_, other) = app.call("POST", "/v1/charges", json!({"customer_id": customer["id"], "amount": "80.00", "due_date": support::due_in(5), "description": "Mensalidade", "payment_methods": ["credit_card"]}), &[]).await;
    let other = other["id"].as_str().unwrap();
    let (status, _) = app
        .call("POST", &format!("/v1/charges/{other}/card-payments"), json!({"card_token": "tok_visa", "brand": "Visa", "installments": 1}), &[])
        .await;
    assert_eq!(status, 201);
    let (status, e) = app.call("POST", &format!("/v1/charges/{other}/cancel"), Value::Null, &[]).await;
    assert_eq!((status, &e["error"]["code"]), (409, &json!("charge_not_open")));
}
