//! A charge's life through `ChargeService` alone, with domain inputs and results, as a scheduled function or a
//! console would drive it: no HTTP request in sight once the charge exists. Its refusals still map to the
//! status, code and field the API gives them.

mod support;

use chrono::Utc;
use cobranca::domain::charge::{ChargeChanges, ChargeStatus, Closing, DueDate};
use cobranca::domain::events::EventKind;
use cobranca::domain::ids::PlanId;
use cobranca::domain::money::Money;
use cobranca::http::api::ApiError;
use cobranca::ports::store::*;
use cobranca::service::{ChargeError, ChargeService};
use serde_json::json;
use support::{due_in, App};

impl App {
    fn charges(&self) -> ChargeService<'_> {
        ChargeService { store: self.store.as_ref(), events: &self.events, queue: &self.queue, providers: &self.providers }
    }

    fn events_of(&self, charge_id: &str) -> Vec<(EventKind, String)> {
        let events = self.events.events.lock().unwrap();
        events.iter().filter(|e| e.charge_id.as_str() == charge_id).map(|e| (e.kind, e.id.clone())).collect()
    }
}

/// A pending R$ 150.00 Pix and boleto charge, made over HTTP; its id.
async fn a_charge(app: &App) -> String {
    let (status, customer) = app
        .call("POST", "/v1/customers", json!({"name":"Maria Silva","document":"529.982.247-25","email":"maria@example.com","address":{"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"}}), &[])
        .await;
    assert_eq!(status, 201, "{customer}");
    let (status, charge) = app
        .call("POST", "/v1/charges", json!({"customer_id": customer["id"], "amount":"150.00","due_date": due_in(20),"description":"Mensalidade","payment_methods":["pix","boleto"]}), &[])
        .await;
    assert_eq!(status, 201, "{charge}");
    charge["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_change_is_stored_once_announced_once_and_replaces_the_boleto() {
    let app = App::new().await;
    let id = a_charge(&app).await;
    let now = Utc::now();
    let before = app.charges().open_charge(&app.merchant_id, &id).await.unwrap();
    let old_boleto = before.setup.boleto.clone().expect("a boleto was issued");

    let new_due = DueDate::parse_new(&due_in(30), now).unwrap();
    let changes = ChargeChanges { amount: Some(Money::parse("180.00").unwrap()), due_date: Some(new_due), description: None };
    let changed = app.charges().change(before.clone(), changes.clone(), now).await.unwrap();
    assert_eq!(
        (changed.version, changed.amount, changed.due_date, changed.due_date_changes),
        (before.version + 1, Money::parse("180.00").unwrap(), new_due, 1)
    );
    let stored = app.store.get_charge(&app.merchant_id, &changed.id).await.unwrap().unwrap();
    assert_eq!(stored, changed, "what the service returns is what it stored");
    assert_ne!(stored.setup.boleto.as_ref().map(|b| &b.nosso_numero), Some(&old_boleto.nosso_numero), "new numbers, new boleto");
    let updated: Vec<_> = app.events_of(&id).into_iter().filter(|(k, _)| *k == EventKind::ChargeUpdated).collect();
    assert_eq!(updated, vec![(EventKind::ChargeUpdated, format!("{id}:ChargeUpdated:{}", changed.version))]);

    // The same changes again alter nothing: nothing stored, nothing announced.
    let again = app.charges().change(changed.clone(), changes, now).await.unwrap();
    assert_eq!(again, changed);
    assert_eq!(app.store.get_charge(&app.merchant_id, &changed.id).await.unwrap().unwrap().version, changed.version);
    assert_eq!(app.events_of(&id).iter().filter(|(k, _)| *k == EventKind::ChargeUpdated).count(), 1);
}

#[tokio::test]
async fn cancelling_twice_answers_the_same_and_a_closed_charge_refuses_changes_as_the_api_did() {
    let app = App::new().await;
    let id = a_charge(&app).await;
    let now = Utc::now();
    let cancelled = app.charges().cancel(&app.merchant_id, &id, now).await.unwrap();
    assert_eq!(cancelled.status, ChargeStatus::Cancelled);
    let again = app.charges().cancel(&app.merchant_id, &id, now).await.unwrap();
    assert_eq!(again, cancelled, "a repeated cancel finds it cancelled and finishes, storing nothing new");
    let reminders = app.store.reminders_of(&app.merchant_id, &cancelled.id).await.unwrap();
    assert!(reminders.iter().all(|r| !r.state.is_pending()), "the régua stopped");
    let cancels: Vec<_> = app.events_of(&id).into_iter().filter(|(k, _)| *k == EventKind::ChargeCancelled).collect();
    assert!(!cancels.is_empty() && cancels.iter().all(|(_, e)| *e == format!("{id}:ChargeCancelled:{}", cancelled.version)), "{cancels:?}");

    let refused = app.charges().change(cancelled.clone(), ChargeChanges::default(), now).await.unwrap_err();
    assert!(matches!(refused, ChargeError::NotOpen(ChargeStatus::Cancelled)), "{refused:?}");
    let as_http = ApiError::from(refused);
    assert_eq!((as_http.status, as_http.code, as_http.field), (409, "charge_not_open", None));
    assert_eq!(as_http.message, "cobrança está cancelled / charge is cancelled");

    let renegotiate = app.charges().close(cancelled, Closing::Renegotiated(PlanId::parse("plan_1").unwrap()), now).await.unwrap_err();
    assert!(renegotiate.closed_meanwhile(), "{renegotiate:?}");

    let missing = ApiError::from(app.charges().open_charge(&app.merchant_id, "chg_nope").await.unwrap_err());
    assert_eq!((missing.status, missing.code), (404, "not_found"));
}

#[tokio::test]
async fn a_renegotiated_charge_points_at_its_plan_and_says_so() {
    let app = App::new().await;
    let id = a_charge(&app).await;
    let before = app.charges().open_charge(&app.merchant_id, &id).await.unwrap();
    let plan = PlanId::parse("plan_1").unwrap();
    let closed = app.charges().close(before.clone(), Closing::Renegotiated(plan.clone()), Utc::now()).await.unwrap();
    assert_eq!((closed.status, closed.renegotiated_into.as_ref(), closed.version), (ChargeStatus::Renegotiated, Some(&plan), before.version + 1));
    assert!(app.events_of(&id).contains(&(EventKind::ChargeRenegotiated, format!("{id}:ChargeRenegotiated:{}", closed.version))));
}
