//! The payer's right to erasure (LGPD art. 18, VI): the person goes, the financial records stay.

mod support;

use chrono::Utc;
use serde_json::{json, Value};
use support::{due_in, App};

#[tokio::test]
async fn erasing_a_customer_anonymises_the_person_and_keeps_the_money_trail() {
    let app = App::new().await;
    let (_, customer) = app
        .call(
            "POST",
            "/v1/customers",
            json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com","phone":"+5511999998888",
            "address":{"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"}}),
            &[],
        )
        .await;
    let customer_id = customer["id"].as_str().unwrap().to_string();
    let (_, charge) = app
        .call(
            "POST",
            "/v1/charges",
            json!({"customer_id": customer_id, "amount":"150.00","due_date":due_in(10),"description":"Mensalidade","payment_methods":["pix"]}),
            &[],
        )
        .await;
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
    let (status, err) = app
        .call(
            "POST",
            "/v1/charges",
            json!({"customer_id": customer_id, "amount":"10.00","due_date":due_in(10),"description":"Outra","payment_methods":["pix"]}),
            &[],
        )
        .await;
    assert_eq!((status, &err["error"]["code"]), (422, &json!("customer_erased")));
    let (status, _) = app.call("DELETE", "/v1/customers/cus_doesnotexist/personal-data", Value::Null, &[]).await;
    assert_eq!(status, 404);
}

/// Log lines written while a test runs, captured so they can be scanned.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn erasure_reaches_every_copy_and_no_log_holds_the_person() {
    use cobranca::domain::pay::setup::Registration;
    use cobranca::ports::store::*;
    use cobranca::service::merchant_webhooks::{EndpointReply, MerchantWebhooks, RetrySchedule, WebhookTransport};

    struct Unreachable;
    #[async_trait::async_trait]
    impl WebhookTransport for Unreachable {
        async fn post(&self, _: &str, _: &[(&str, String)], _: &str) -> EndpointReply {
            unreachable!("deliveries are only recorded here")
        }
    }

    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).with_writer(move || writer.clone()).finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    // An event right away, so every callsite's interest is computed with this subscriber in place (other tests
    // of this binary run on other threads without one).
    tracing::info!("capturing logs");

    let app = App::new().await;
    let (_, endpoint) = app.call("POST", "/v1/webhook-endpoints", json!({"url": "https://erp.example.com/hooks", "event_types": ["*"]}), &[]).await;
    assert!(endpoint["id"].is_string(), "{endpoint}");

    // A charge under an Idempotency-Key with the person inline (idempotency record), Pix and boleto, and a régua
    // that writes to them at once (outbox entries, notification records, events).
    let body = json!({"customer": {"name":"Maria Silva","document":"529.982.247-25","email":"maria@example.com","phone":"+5511999998888",
            "address":{"street":"Rua Doutor Penaforte Mendes","number":"1234","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"}},
        "amount":"150.00","due_date":due_in(10),"description":"Mensalidade","payment_methods":["pix","boleto"],
        "ruler": {"send_time":"10:00","steps":[{"step":"on_created","channels":["email","sms","whatsapp"]},{"step":"on_paid","channels":["email"]}]}});
    let key = [("idempotency-key", "order-lgpd")];
    let (status, charge) = app.call("POST", "/v1/charges", body.clone(), &key).await;
    assert_eq!(status, 201, "{charge}");
    // The creation notices go at once inside contact hours, else in the next window: tick there, whatever the hour.
    let on_created = charge["reminders"].as_array().unwrap().iter().filter(|r| r["step"] == "on_created");
    let sent_by = on_created.map(|r| r["scheduled_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap()).max().unwrap();
    app.tick_and_deliver(sent_by).await;
    let charge_id = cobranca::domain::ids::ChargeId::parse(charge["id"].as_str().unwrap()).unwrap();
    let customer_id = charge["customer_id"].as_str().unwrap().to_string();
    assert!(!app.store.outbox().await.unwrap().is_empty(), "messages reached the outbox");

    // Provider error texts that quote the payer, as banks and channels do: a refused boleto registration and a
    // failed message (its record and the event the merchant is told of).
    let mut stored = app.store.get_charge(&app.merchant_id, &charge_id).await.unwrap().unwrap();
    let boleto = stored.setup.boleto.as_mut().expect("a boleto");
    boleto.registration = Registration::Failed { at: Utc::now(), reason: "pagador MARIA SILVA CPF 52998224725 recusado".into() };
    let expected = stored.version;
    stored.version += 1;
    app.store.update_charge(&stored, expected).await.unwrap();
    let mut record = app.store.notifications_of(&app.merchant_id, &charge_id).await.unwrap().into_iter().next().expect("a notification record");
    record.last_error = Some("550 5.1.1 <maria@example.com>: mailbox unavailable; SMS +5511999998888 rejected".into());
    record.version += 1;
    app.store.save_notification(&record).await.unwrap();
    app.events.events.lock().unwrap().push(cobranca::domain::events::DomainEvent {
        id: format!("{charge_id}:failed"),
        kind: cobranca::domain::events::EventKind::NotificationFailed,
        merchant_id: app.merchant_id.clone(),
        charge_id: charge_id.clone(),
        occurred_at: Utc::now(),
        data: json!({"channel": "sms", "error": "número (11) 99999-8888 de Maria Silva inválido"}),
    });

    // Paid (so nothing is open), then every event becomes a webhook delivery.
    let paid = json!({"type":"payment.confirmed","data":{"charge_id": charge_id,"amount":"150.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E-LGPD-ALL"}});
    assert_eq!(app.webhook("msg_lgpd_all", &paid).await.0, 200);
    let webhooks = MerchantWebhooks {
        store: app.store.as_ref(),
        queue: &app.queue,
        events: &app.events,
        transport: &Unreachable,
        schedule: &RetrySchedule::standard(),
    };
    let events = app.events.events.lock().unwrap().clone();
    for event in &events {
        webhooks.dispatch(event, Utc::now()).await.unwrap();
    }

    let person =
        ["Maria Silva", "maria", "52998224725", "529.982.247-25", "maria@example.com", "+5511999998888", "11999998888", "99999-8888", "Penaforte"];
    let found = |text: &str| person.iter().filter(|p| text.to_lowercase().contains(&p.to_lowercase())).copied().collect::<Vec<_>>();
    let before = app.store.every_item().join("\n");
    assert!(!found(&before).is_empty(), "the scenario did store the person somewhere");

    let (status, erased) = app.call("DELETE", &format!("/v1/customers/{customer_id}/personal-data"), Value::Null, &[]).await;
    assert_eq!(status, 200, "{erased} {}", String::from_utf8_lossy(&logs.0.lock().unwrap()));

    // The whole store, item by item.
    let leaks: Vec<(String, Vec<&str>)> = app
        .store
        .every_item()
        .into_iter()
        .filter_map(|item| {
            let hits = found(&item);
            (!hits.is_empty()).then_some((item, hits))
        })
        .collect();
    assert!(leaks.is_empty(), "personal data left after erasure:\n{leaks:#?}");
    // The replay of the first request shows the erased customer.
    let (status, replay) = app.call("POST", "/v1/charges", body, &key).await;
    assert_eq!(status, 201, "{replay}");
    assert!(found(&replay.to_string()).is_empty(), "{replay}");
    let (_, shown) = app.call("GET", &format!("/v1/customers/{customer_id}"), Value::Null, &[]).await;
    assert!(found(&shown.to_string()).is_empty(), "{shown}");
    assert_eq!(shown["document_type"], "cpf");
    // And nothing was ever logged about the person.
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!logged.is_empty(), "logs were captured");
    assert!(found(&logged).is_empty(), "personal data in the logs: {:?}", found(&logged));
}

#[tokio::test]
async fn erasure_reaches_the_description_of_the_customers_installment_plans() {
    let app = App::new().await;
    let mut plans = Vec::new();
    for (name, document) in [("Conceição Araújo", "52998224725"), ("Maria Silva", "11144477735")] {
        let (_, customer) = app.call("POST", "/v1/customers", json!({"name": name, "document": document}), &[]).await;
        let body = json!({"customer_id": customer["id"], "amount": "300.00", "installments": 3, "first_due_date": due_in(10), "description": format!("Carnê de {name}"), "payment_methods": ["pix"]});
        let (status, plan) = app.call("POST", "/v1/installment-plans", body, &[]).await;
        assert_eq!(status, 201, "{plan}");
        let (status, _) = app.call("POST", &format!("/v1/installment-plans/{}/cancel", plan["id"].as_str().unwrap()), Value::Null, &[]).await;
        assert_eq!(status, 200);
        plans.push((customer["id"].as_str().unwrap().to_string(), plan["id"].as_str().unwrap().to_string()));
    }
    let (status, erased) = app.call("DELETE", &format!("/v1/customers/{}/personal-data", plans[0].0), Value::Null, &[]).await;
    assert_eq!(status, 200, "{erased}");

    // The plan document kept the merchant's description of the whole plan, naming the payer.
    let left: Vec<String> =
        app.store.every_item().into_iter().filter(|i| i.to_lowercase().contains("conceição") || i.to_lowercase().contains("conceicao")).collect();
    assert!(left.is_empty(), "personal data left after erasure:\n{left:#?}");
    let (status, plan) = app.call("GET", &format!("/v1/installment-plans/{}", plans[0].1), Value::Null, &[]).await;
    assert_eq!(status, 200, "the plan itself stays, as its charges do: {plan}");
    assert_eq!(plan["description"], format!("Carnê de {}", cobranca::service::erasure::REDACTED), "{plan}");
    // Another customer's plan is theirs, untouched.
    let (_, other) = app.call("GET", &format!("/v1/installment-plans/{}", plans[1].1), Value::Null, &[]).await;
    assert_eq!(other["description"], "Carnê de Maria Silva", "{other}");
}
