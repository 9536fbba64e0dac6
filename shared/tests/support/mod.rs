//! The application on in-memory adapters, driven like a client: API calls, ticks at chosen instants, the
//! queue drained through the delivery worker, webhooks signed with the app's secret.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cobranca::adapters::channels::outbox::OutboxSender;
use cobranca::adapters::memory::{MemoryQueue, MemoryStore, RecordingEventBus};
use cobranca::adapters::providers::sandbox::{SandboxAcquirer, SandboxBank};
use cobranca::domain::calendar;
use cobranca::domain::document::Document;
use cobranca::domain::ids::MerchantId;
use cobranca::domain::merchant::{ApiKey, Merchant, Mode};
use cobranca::domain::standard_webhooks::WebhookSecret;
use cobranca::domain::wallet::Wallet;
use cobranca::http::api::provider_webhooks::WebhookApi;
use cobranca::http::api::{Api, ApiRequest};
use cobranca::http::pages::{PageResponse, PayerPages};
use cobranca::ports::providers::{Provider, Providers};
use cobranca::ports::store::*;
use cobranca::service::checkout::Checkout;
use cobranca::service::delivery::Delivery;
use cobranca::service::registration::{Registrar, SetupOutcome, SetupTask};
use cobranca::service::settlement::Settlement;
use cobranca::service::tick::Tick;
use serde_json::Value;

pub struct App {
    pub store: Arc<MemoryStore>,
    pub providers: Providers,
    pub merchant_id: MerchantId,
    pub queue: MemoryQueue,
    pub events: RecordingEventBus,
    pub key: ApiKey,
    pub secret: WebhookSecret,
}

impl App {
    /// A test-mode merchant with one sandbox wallet per method: the outbox and the sandbox, as `make dev`'s.
    pub async fn new() -> Self {
        Self::in_mode(Mode::Test).await
    }

    /// A live merchant with real institutions' wallets (Banco do Brasil for Pix and boleto, Cielo for cards).
    pub async fn live() -> Self {
        Self::in_mode(Mode::Live).await
    }

    pub async fn in_mode(mode: Mode) -> Self {
        let store = Arc::new(MemoryStore::new());
        let key = ApiKey::generate(mode);
        let merchant = Merchant {
            id: MerchantId::generate(),
            name: "Loja Exemplo Ltda".into(),
            document: Document::parse("11.222.333/0001-81").unwrap(),
            created_at: Utc::now(),
            mode,
        };
        store.put_merchant(&merchant, &key.hash()).await.unwrap();
        let wallets = match mode {
            Mode::Test => Wallet::sandbox_set(&merchant.id, Utc::now()),
            Mode::Live => live_wallets(&merchant.id),
        };
        for wallet in wallets {
            store.put_wallet(&wallet).await.unwrap();
        }
        let (secret, _) = WebhookSecret::generate();
        let providers =
            Providers::default().with_bank(Provider::Sandbox, Arc::new(SandboxBank)).with_acquirer(Provider::Sandbox, Arc::new(SandboxAcquirer));
        Self { store, providers, merchant_id: merchant.id, queue: MemoryQueue::default(), events: RecordingEventBus::default(), key, secret }
    }

    pub fn api(&self) -> Api<'_> {
        Api {
            store: self.store.as_ref(),
            events: &self.events,
            queue: &self.queue,
            providers: &self.providers,
            public_base_url: "https://pay.test",
            webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: true },
            access: Default::default(),
        }
    }

    /// A BCB Pix API webhook as a PSP posts it, with the shared secret the app is configured with.
    pub async fn pix_webhook(&self, body: &Value, secret: &str) -> (u16, Value) {
        let auth = cobranca::http::api::provider_webhooks::PixWebhookAuth::SharedSecret("pix-secret".into());
        let api = WebhookApi {
            settlement: Settlement { store: self.store.as_ref(), queue: &self.queue, events: &self.events },
            secrets: std::slice::from_ref(&self.secret),
            pix_auth: Some(&auth),
            acquirers: None,
            channel_callbacks: None,
        };
        let headers = HashMap::from([("x-webhook-secret".to_string(), secret.to_string()), ("content-type".into(), "application/json".into())]);
        let req = ApiRequest {
            method: "POST".into(),
            path: "/v1/webhooks/pix/pix".into(),
            headers,
            body: body.to_string().into_bytes(),
            client_cert: None,
        };
        let r = api.handle(&req, Utc::now()).await;
        self.drain().await;
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    /// A BCB Pix API webhook behind mutual TLS, the PSP's certificate pinned by `pin`; `cert` is what API Gateway
    /// forwarded in the request context (None: no certificate).
    pub async fn pix_webhook_mtls(
        &self,
        body: &Value,
        pin: cobranca::http::mtls::ClientCertPin,
        cert: Option<cobranca::http::mtls::ClientCertificate>,
    ) -> (u16, Value) {
        let auth = cobranca::http::api::provider_webhooks::PixWebhookAuth::MutualTls(pin);
        let api = WebhookApi {
            settlement: Settlement { store: self.store.as_ref(), queue: &self.queue, events: &self.events },
            secrets: std::slice::from_ref(&self.secret),
            pix_auth: Some(&auth),
            acquirers: None,
            channel_callbacks: None,
        };
        let headers = HashMap::from([("content-type".to_string(), "application/json".to_string())]);
        let req = ApiRequest {
            method: "POST".into(),
            path: "/v1/webhooks/pix/pix".into(),
            headers,
            body: body.to_string().into_bytes(),
            client_cert: cert,
        };
        let r = api.handle(&req, Utc::now()).await;
        self.drain().await;
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    /// A request to the payer's pages (`/pay/{token}/…`), as a browser sends it.
    pub async fn page(&self, method: &str, path: &str, body: &str) -> PageResponse {
        let checkout = Checkout { store: self.store.as_ref(), queue: &self.queue, events: &self.events, providers: &self.providers };
        let pages = PayerPages { checkout, public_base_url: "https://pay.test" };
        let content_type = if body.starts_with('{') { "application/json" } else { "application/x-www-form-urlencoded" };
        let req = ApiRequest {
            method: method.into(),
            path: path.into(),
            headers: HashMap::from([("content-type".into(), content_type.into())]),
            body: body.as_bytes().to_vec(),
            client_cert: None,
        };
        pages.handle(&req, Utc::now()).await
    }

    /// Runs the queued payment-setup jobs (registrations, write-offs) as the register-payment function would.
    pub async fn register(&self) -> Vec<SetupOutcome> {
        let registrar = Registrar { store: self.store.as_ref(), providers: &self.providers, queue: &self.queue, events: &self.events };
        let mut out = Vec::new();
        for job in self.queue.drain_setup() {
            out.push(registrar.run(&job, Utc::now()).await.unwrap());
        }
        out
    }

    /// Runs the follow-ups that payments handed to the payment-setup queue (receipt, régua stopped, event), as
    /// the register-payment function would; registrations and write-offs stay queued for `register`.
    pub async fn follow_up_payments(&self) {
        let registrar = Registrar { store: self.store.as_ref(), providers: &self.providers, queue: &self.queue, events: &self.events };
        let follow_ups: Vec<_> = {
            let mut queued = self.queue.setup_jobs.lock().unwrap();
            let (follow_ups, rest) = queued.drain(..).partition(|j| matches!(j.task, SetupTask::AfterPayment(_)));
            *queued = rest;
            follow_ups
        };
        for job in follow_ups {
            assert_eq!(registrar.run(&job, Utc::now()).await.unwrap(), SetupOutcome::FollowedUp);
        }
    }

    /// A call as if made at `at` (simulated time).
    pub async fn call_at(&self, method: &str, path: &str, body: Value, at: DateTime<Utc>) -> (u16, Value) {
        let headers: HashMap<String, String> = HashMap::from([("authorization".into(), format!("Bearer {}", self.key.expose()))]);
        let req = ApiRequest {
            method: method.into(),
            path: path.into(),
            headers,
            body: if body.is_null() { vec![] } else { body.to_string().into_bytes() },
            client_cert: None,
        };
        let r = self.api().handle(&req, at).await;
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    /// A GET whose answer is not JSON (CSV reports): status, content type and text.
    pub async fn get_text(&self, path: &str) -> (u16, Option<&'static str>, String) {
        let headers: HashMap<String, String> = HashMap::from([("authorization".into(), format!("Bearer {}", self.key.expose()))]);
        let req = ApiRequest { method: "GET".into(), path: path.into(), headers, body: vec![], client_cert: None };
        let r = self.api().handle(&req, Utc::now()).await;
        (r.status, r.content_type, r.body)
    }

    /// A call with a raw (non-JSON) body, such as a bank file.
    pub async fn call_raw(&self, method: &str, path: &str, body: String) -> (u16, Value) {
        let headers: HashMap<String, String> = HashMap::from([("authorization".into(), format!("Bearer {}", self.key.expose()))]);
        let req = ApiRequest { method: method.into(), path: path.into(), headers, body: body.into_bytes(), client_cert: None };
        let r = self.api().handle(&req, Utc::now()).await;
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    pub async fn call(&self, method: &str, path: &str, body: Value, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut headers: HashMap<String, String> = HashMap::from([("authorization".into(), format!("Bearer {}", self.key.expose()))]);
        for (k, v) in extra {
            headers.insert(k.to_string(), v.to_string());
        }
        let req = ApiRequest {
            method: method.into(),
            path: path.into(),
            headers,
            body: if body.is_null() { vec![] } else { body.to_string().into_bytes() },
            client_cert: None,
        };
        let r = self.api().handle(&req, Utc::now()).await;
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    /// Ticks as of `at`, then drains the queue through the delivery worker.
    pub async fn tick_and_deliver(&self, at: DateTime<Utc>) -> Value {
        let tick = Tick::new(self.store.as_ref(), &self.queue, &self.events);
        let report = tick.run(at, Utc::now()).await.unwrap();
        // As ruler-tick does: then the subscription charges due for generation.
        let subscriptions = self.api().generate_subscription_charges(at).await.unwrap();
        // And the queued re-plans.
        self.api().run_replans(at).await.unwrap();
        self.drain().await;
        let mut report = serde_json::to_value(report).unwrap();
        report["subscriptions"] = serde_json::to_value(subscriptions).unwrap();
        report
    }

    pub async fn drain(&self) {
        self.follow_up_payments().await;
        let sender = OutboxSender { store: self.store.clone() };
        let delivery = Delivery {
            store: self.store.as_ref(),
            sender: &sender,
            outbox: &sender,
            events: &self.events,
            public_base_url: "https://pay.test",
            merchant_providers: None,
        };
        for job in self.queue.drain() {
            delivery.deliver(&job, Utc::now()).await.unwrap();
        }
    }

    pub async fn webhook(&self, id: &str, body: &Value) -> (u16, Value) {
        let raw = body.to_string();
        let ts = Utc::now().timestamp();
        let headers = HashMap::from([
            ("webhook-id".to_string(), id.to_string()),
            ("webhook-timestamp".to_string(), ts.to_string()),
            ("webhook-signature".to_string(), self.secret.sign(id, ts, raw.as_bytes())),
        ]);
        let api = WebhookApi {
            settlement: Settlement { store: self.store.as_ref(), queue: &self.queue, events: &self.events },
            secrets: std::slice::from_ref(&self.secret),
            pix_auth: None,
            acquirers: None,
            channel_callbacks: None,
        };
        let req = ApiRequest { method: "POST".into(), path: "/v1/webhooks/cobranca".into(), headers, body: raw.into_bytes(), client_cert: None };
        let r = api.handle(&req, Utc::now()).await;
        self.drain().await;
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    pub async fn outbox_steps(&self, charge_id: &str) -> Vec<String> {
        self.store.outbox().await.unwrap().into_iter().filter(|e| e.charge_id.as_str() == charge_id).map(|e| e.step).collect()
    }
}

/// A live merchant's wallets, as `POST /v1/wallets` makes them.
pub fn live_wallets(merchant: &MerchantId) -> Vec<Wallet> {
    let bodies = [
        serde_json::json!({"name":"Pix BB","provider":"banco_do_brasil","method":"pix","settings":{"key":"financeiro@example.com","city":"São Paulo"}}),
        serde_json::json!({"name":"Boleto BB","provider":"banco_do_brasil","method":"boleto","settings":{"convenio":3128557,"carteira":17,"variacao":35}}),
        serde_json::json!({"name":"Cielo","provider":"cielo","method":"credit_card","settings":{}}),
    ];
    bodies.iter().map(|b| Wallet::parse(b, merchant, Mode::Live, Utc::now()).unwrap()).collect()
}

pub fn due_in(days: i64) -> String {
    (calendar::local_date(Utc::now()) + Duration::days(days)).to_string()
}

impl App {
    pub async fn store_outbox_channels(&self, charge_id: &str) -> Vec<String> {
        self.store.outbox().await.unwrap().into_iter().filter(|e| e.charge_id.as_str() == charge_id).map(|e| e.channel.as_str().to_string()).collect()
    }
}
