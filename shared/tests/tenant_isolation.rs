//! Tenant isolation, swept over every route of the merchant API: another merchant's key never reads, changes or
//! lists what belongs to the first — an id of someone else's resource is simply not found.

mod support;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use cobranca::http::api::{ApiRequest, ROUTES};
use cobranca::service::merchant_webhooks::{EndpointReply, MerchantWebhooks, RetrySchedule, WebhookTransport};
use serde_json::{json, Value};
use support::{due_in, App};

struct NeverCalled;

#[async_trait]
impl WebhookTransport for NeverCalled {
    async fn post(&self, _: &str, _: &[(&str, String)], _: &str) -> EndpointReply {
        unreachable!("dispatch only records deliveries")
    }
}

/// The first merchant's resources, one of each kind a route names.
struct Owned {
    ids: HashMap<&'static str, String>,
}

async fn first_merchants_resources(app: &App) -> Owned {
    let (_, customer) = app
        .call(
            "POST",
            "/v1/customers",
            json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com",
            "address":{"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"}}),
            &[],
        )
        .await;
    let (status, charge) = app
        .call("POST", "/v1/charges", json!({"customer_id": customer["id"], "amount":"150.00","due_date":due_in(10),"description":"Mensalidade","payment_methods":["pix","boleto","credit_card"]}), &[])
        .await;
    assert_eq!(status, 201, "{charge}");
    let (_, wallets) = app.call("GET", "/v1/wallets", Value::Null, &[]).await;
    let (_, endpoint) = app
        .call("POST", "/v1/webhook-endpoints", json!({"url": "https://merchant-a.example.com/hooks", "event_types": ["charge.created"]}), &[])
        .await;
    // A delivery of the charge's creation event to that endpoint.
    let created = app.events.events.lock().unwrap().iter().find(|e| e.kind == "ChargeCreated").cloned().expect("creation event");
    let webhooks = MerchantWebhooks {
        store: app.store.as_ref(),
        queue: &app.queue,
        events: &app.events,
        transport: &NeverCalled,
        schedule: &RetrySchedule::standard(),
    };
    webhooks.dispatch(&created, Utc::now()).await.unwrap();
    let (_, deliveries) = app.call("GET", &format!("/v1/webhook-endpoints/{}/deliveries", endpoint["id"].as_str().unwrap()), Value::Null, &[]).await;
    app.call(
        "PUT",
        "/v1/templates/email/on_due",
        json!({"subject": "Segredo da loja A", "body": "Texto exclusivo da loja A {{ payment_url }}"}),
        &[],
    )
    .await;
    app.call("PUT", "/v1/notification-settings", json!({"monthly_budget": "123.45"}), &[]).await;
    app.call("PUT", "/v1/ruler", json!({"send_time":"07:45","steps":[{"step":"on_due","channels":["email"]}]}), &[]).await;
    let (status, plan) = app
        .call("POST", "/v1/installment-plans", json!({"customer_id": customer["id"], "amount":"300.00","installments":3,"first_due_date":due_in(5),"description":"Carnê","payment_methods":["pix"]}), &[])
        .await;
    assert_eq!(status, 201, "{plan}");
    let (_, keys) = app.call("GET", "/v1/api-keys", Value::Null, &[]).await;
    let (status, subscription) = app
        .call("POST", "/v1/subscriptions", json!({"customer_id": customer["id"], "amount":"49.90","cycle":"monthly","first_due_date":due_in(3),"description":"Assinatura","payment_methods":["pix"]}), &[])
        .await;
    assert_eq!(status, 201, "{subscription}");
    let id = |v: &Value| v.as_str().unwrap_or_else(|| panic!("no id in setup: {v}")).to_string();
    Owned {
        ids: HashMap::from([
            ("customer_id", id(&customer["id"])),
            ("charge_id", id(&charge["id"])),
            ("wallet_id", id(&wallets["data"][0]["id"])),
            ("endpoint_id", id(&endpoint["id"])),
            ("delivery_id", id(&deliveries["data"][0]["id"])),
            ("plan_id", id(&plan["id"])),
            ("key_id", id(&keys["data"][0]["id"])),
            ("subscription_id", id(&subscription["id"])),
            ("merchant_id", app.merchant_id.to_string()),
            ("channel", "email".into()),
            ("step", "on_due".into()),
        ]),
    }
}

/// A plausible body per route, so a 404 cannot be mistaken for a validation error that came first.
fn body_for(method: &str, pattern: &str, owned: &Owned) -> Value {
    match (method, pattern) {
        ("PATCH", "/v1/charges/{charge_id}") => json!({"amount": "99.00"}),
        ("PATCH", "/v1/customers/{customer_id}") => json!({"name": "Intruso"}),
        ("POST", "/v1/charges/{charge_id}/wallet") => json!({"wallet_id": owned.ids["wallet_id"]}),
        ("POST", "/v1/charges/{charge_id}/card-payments") => json!({"card_token": "tok_visa", "brand": "Visa", "installments": 1}),
        ("PATCH", "/v1/webhook-endpoints/{endpoint_id}") => json!({"description": "x"}),
        ("PUT", "/v1/customers/{customer_id}/ruler") => json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["email"]}]}),
        ("PUT", "/v1/customers/{customer_id}/opt-out") => json!({"all": true}),
        ("POST", "/v1/api-keys/{key_id}/rotate") => json!({"grace_seconds": 0}),
        ("PATCH", "/v1/subscriptions/{subscription_id}") => json!({"amount": "1.00"}),
        ("POST", "/v1/subscriptions/{subscription_id}/cancel") => json!({"cancel_open_charges": true}),
        (_, _) if method == "GET" || method == "DELETE" => Value::Null,
        _ => json!({}),
    }
}

fn fill(pattern: &str, owned: &Owned) -> String {
    let mut path = pattern.to_string();
    for (name, value) in &owned.ids {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(!path.contains('{'), "the sweep has no resource for {pattern}");
    path
}

#[tokio::test]
async fn another_merchants_key_finds_nothing_of_the_first_on_any_route() {
    let app = App::new().await;
    let owned = first_merchants_resources(&app).await;
    let other = App::new().await;
    let intruder = cobranca::ports::store::MerchantStore::get_merchant(other.store.as_ref(), &other.merchant_id).await.unwrap().unwrap();
    cobranca::ports::store::MerchantStore::put_merchant(app.store.as_ref(), &intruder, &other.key.hash()).await.unwrap();
    let as_intruder = |method: &str, path: String, body: &Value| ApiRequest {
        method: method.into(),
        path,
        headers: HashMap::from([("authorization".to_string(), format!("Bearer {}", other.key.expose()))]),
        body: if body.is_null() { vec![] } else { body.to_string().into_bytes() },
        client_cert: None,
    };
    let secrets: Vec<&String> = owned.ids.iter().filter(|(k, _)| k.ends_with("_id")).map(|(_, v)| v).collect();

    let mut checked = 0;
    for (method, pattern) in ROUTES {
        let body = body_for(method, pattern, &owned);
        let r = app.api().handle(&as_intruder(method, fill(pattern, &owned), &body), Utc::now()).await;
        let names_a_resource = pattern.contains("_id}");
        if pattern.starts_with("/v1/merchants") {
            // The operator's routes: a merchant's key is not the operator's (and none is configured here).
            assert!(r.status == 401 || r.status == 403, "{method} {pattern} with a merchant's key: {} {}", r.status, r.body);
        } else if names_a_resource {
            assert_eq!(r.status, 404, "{method} {pattern} as another merchant: {} {}", r.status, r.body);
        } else {
            assert!(r.status < 500, "{method} {pattern}: {} {}", r.status, r.body);
        }
        for secret in &secrets {
            assert!(!r.body.contains(secret.as_str()), "{method} {pattern} leaked {secret}: {}", r.body);
        }
        for text in ["Segredo da loja A", "exclusivo da loja A", "123.45", "07:45", "merchant-a.example.com", "Maria"] {
            assert!(!r.body.contains(text), "{method} {pattern} leaked {text:?}: {}", r.body);
        }
        checked += 1;
    }
    assert_eq!(checked, ROUTES.len());

    // And nothing the intruder tried changed the first merchant's data.
    let (_, charge) = app.call("GET", &format!("/v1/charges/{}", owned.ids["charge_id"]), Value::Null, &[]).await;
    assert_eq!((&charge["amount"], &charge["status"]), (&json!("150.00"), &json!("pending")));
    let (status, customer) = app.call("GET", &format!("/v1/customers/{}", owned.ids["customer_id"]), Value::Null, &[]).await;
    assert_eq!((status, &customer["name"]), (200, &json!("Maria Silva")));
    let (status, _) = app.call("GET", &format!("/v1/webhook-endpoints/{}", owned.ids["endpoint_id"]), Value::Null, &[]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn every_listed_route_is_dispatched() {
    // The route table and the router agree: no listed route falls through to "method not allowed".
    let app = App::new().await;
    for (method, pattern) in ROUTES {
        let path = pattern.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/");
        let (status, body) = app.call(method, &path, Value::Null, &[]).await;
        assert_ne!(status, 405, "{method} {pattern}: {body}");
        assert!(!(status == 404 && body.to_string().contains("recurso não encontrado")), "{method} {pattern} is not routed");
    }
}

#[tokio::test]
async fn a_merchant_cannot_name_another_merchants_provider_secret() {
    let merchant_a = App::new().await;
    let merchant_b = App::new().await;
    let a = merchant_a.merchant_id.as_str();
    let b = merchant_b.merchant_id.as_str();
    for theirs in [
        format!("cobranca/{a}/sms"),
        format!("arn:aws:secretsmanager:sa-east-1:123456789012:secret:cobranca/{a}/sms-AbCdEf"),
        format!("env:COBRANCA_MERCHANT_{}__SMS", a.to_ascii_uppercase()),
        "cobranca/webhook".to_string(),
    ] {
        let (status, body) = merchant_b.call("PUT", "/v1/notification-settings", json!({"providers": {"sms": theirs}}), &[]).await;
        assert_eq!(status, 422, "{theirs}: {body}");
        assert_eq!(body["error"]["field"], "providers.sms", "{body}");
    }
    let stored =
        || async { cobranca::domain::channel_policy::settings_of(merchant_b.store.as_ref(), &merchant_b.merchant_id).await.unwrap().providers };
    assert!(stored().await.is_empty(), "nothing stored");
    for own in [format!("cobranca/{b}/sms"), format!("env:COBRANCA_MERCHANT_{}__SMS", b.to_ascii_uppercase())] {
        let (status, body) = merchant_b.call("PUT", "/v1/notification-settings", json!({"providers": {"sms": own}}), &[]).await;
        assert_eq!(status, 200, "{own}: {body}");
        assert_eq!(stored().await[&cobranca::domain::notification::Channel::Sms].as_str(), own);
    }
}
