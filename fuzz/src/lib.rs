//! Shared by the fuzz targets: how an input is cut into fields, a fixed clock, a runtime for the async entry
//! points, and the application on in-memory adapters, made fresh for each input so that a crash reproduces
//! from its input alone.
//!
//! Inputs are text fields separated by NUL bytes (the last field takes the rest), so the seed corpus in
//! `fuzz/corpus/<target>/` is readable and made from the unit tests' vectors, and libFuzzer mutates it freely.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use cobranca::adapters::memory::{MemoryQueue, MemoryStore, RecordingEventBus};
use cobranca::adapters::providers::sandbox::{SandboxAcquirer, SandboxBank};
use cobranca::domain::document::Document;
use cobranca::domain::ids::MerchantId;
use cobranca::domain::merchant::{ApiKey, Merchant};
use cobranca::domain::standard_webhooks::WebhookSecret;
use cobranca::domain::wallet::Wallet;
use cobranca::http::api::provider_webhooks::{AcquirerNotices, PixWebhookAuth, WebhookApi};
use cobranca::http::api::{Api, ApiRequest, ApiResponse};
use cobranca::http::pages::{PageResponse, PayerPages};
use cobranca::ports::providers::{Provider, Providers};
use cobranca::ports::store::*;
use cobranca::service::checkout::Checkout;
use cobranca::service::settlement::Settlement;

/// The first `N - 1` NUL-separated fields of `data`, then the rest; missing fields are empty.
pub fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[data.len()..]; N];
    let mut rest = data;
    for slot in out.iter_mut().take(N - 1) {
        match rest.iter().position(|b| *b == 0) {
            Some(i) => {
                *slot = &rest[..i];
                rest = &rest[i + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out[N - 1] = rest;
    out
}

/// A field as text (invalid UTF-8 replaced, as a lenient HTTP layer would).
pub fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// A field as a decimal integer, if it is one.
pub fn int(field: &[u8]) -> Option<i64> {
    std::str::from_utf8(field).ok()?.trim().parse().ok()
}

/// The fuzzers' clock: a fixed instant, so that a crash does not depend on the day it is replayed.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap()
}

/// Runs a future of the application to completion on one shared single-threaded runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")).block_on(f)
}

/// The shared secret the fixture's BCB Pix webhook and Cielo notifications are configured with.
pub const WEBHOOK_HEADER_SECRET: &str = "fuzz-shared-secret";

/// One merchant with the sandbox wallets, on in-memory adapters.
pub struct App {
    pub store: Arc<MemoryStore>,
    pub providers: Providers,
    pub queue: MemoryQueue,
    pub events: RecordingEventBus,
    pub key: ApiKey,
    pub secret: WebhookSecret,
    pub merchant_id: MerchantId,
    pix_auth: PixWebhookAuth,
}

impl App {
    pub fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let key = ApiKey::parse("ck_fuzz0000000000000000000000000000000000").expect("a valid key");
        let merchant = Merchant {
            id: MerchantId::parse("mer_fuzz").expect("a valid id"),
            name: "Loja Exemplo Ltda".into(),
            document: Document::parse("11.222.333/0001-81").expect("a valid CNPJ"),
            created_at: now(),
            mode: cobranca::domain::merchant::Mode::Test,
        };
        block_on(async {
            store.put_merchant(&merchant, &key.hash()).await.expect("memory store");
            for wallet in Wallet::sandbox_set(&merchant.id, now()) {
                store.put_wallet(&wallet).await.expect("memory store");
            }
        });
        let providers = Providers::default()
            .with_bank(Provider::Sandbox, Arc::new(SandboxBank))
            .with_acquirer(Provider::Sandbox, Arc::new(SandboxAcquirer))
            .with_acquirer(Provider::Cielo, Arc::new(SandboxAcquirer));
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("the reference secret");
        Self {
            store,
            providers,
            queue: MemoryQueue::default(),
            events: RecordingEventBus::default(),
            key,
            secret,
            merchant_id: merchant.id,
            pix_auth: PixWebhookAuth::SharedSecret(WEBHOOK_HEADER_SECRET.into()),
        }
    }

    pub fn api(&self) -> Api<'_> {
        Api {
            store: self.store.as_ref(),
            events: &self.events,
            queue: &self.queue,
            providers: &self.providers,
            public_base_url: "https://pay.test",
            webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: false },
            access: Default::default(),
        }
    }

    pub fn webhooks(&self) -> WebhookApi<'_> {
        WebhookApi {
            settlement: Settlement { store: self.store.as_ref(), queue: &self.queue, events: &self.events },
            secrets: std::slice::from_ref(&self.secret),
            pix_auth: Some(&self.pix_auth),
            acquirers: Some(AcquirerNotices { providers: &self.providers, secret: WEBHOOK_HEADER_SECRET }),
            channel_callbacks: None,
        }
    }

    pub fn pages(&self) -> PayerPages<'_> {
        let checkout = Checkout { store: self.store.as_ref(), queue: &self.queue, events: &self.events, providers: &self.providers };
        PayerPages { checkout, public_base_url: "https://pay.test" }
    }

    /// A merchant API call with this merchant's key and the given extra headers.
    pub fn call(&self, method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> ApiResponse {
        let mut all = HashMap::from([("authorization".to_string(), format!("Bearer {}", self.key.expose()))]);
        all.extend(headers.iter().cloned());
        let req = ApiRequest { method: method.into(), path: path.into(), headers: all, body: body.to_vec(), client_cert: None };
        block_on(self.api().handle(&req, now()))
    }

    pub fn webhook(&self, path: &str, headers: HashMap<String, String>, body: &[u8]) -> ApiResponse {
        let req = ApiRequest { method: "POST".into(), path: path.into(), headers, body: body.to_vec(), client_cert: None };
        block_on(self.webhooks().handle(&req, now()))
    }

    pub fn page(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> PageResponse {
        let headers = HashMap::from([("content-type".to_string(), content_type.to_string())]);
        let req = ApiRequest { method: method.into(), path: path.into(), headers, body: body.to_vec(), client_cert: None };
        block_on(self.pages().handle(&req, now()))
    }
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

/// An API answer is either a success or the API's own error object: never a 500, always JSON.
pub fn assert_api_answer(what: &str, r: &ApiResponse) {
    assert_ne!(r.status, 500, "{what}: internal error: {}", r.body);
    if r.content_type.is_none() {
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", r.body));
        if r.status >= 400 {
            assert!(body["error"]["code"].is_string(), "{what}: an error without a code: {}", r.body);
        }
    }
}
