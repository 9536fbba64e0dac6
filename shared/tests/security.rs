//! Security properties that hold across the API: size limits, keys kept only as hashes, secrets only by
//! reference in the deployment template. (Signatures: `webhook.rs` unit tests and `charge_lifecycle.rs`; tenant
//! isolation: `tenant_isolation.rs`; logs without personal data: `tests/privacy.rs`.)

mod support;

use std::collections::HashMap;

use chrono::Utc;
use cobranca::http::api::{ApiRequest, MAX_BODY_BYTES};
use cobranca::ports::store::*;
use support::App;

#[tokio::test]
async fn oversized_bodies_are_refused_before_anything_is_read_or_stored() {
    let app = App::new().await;
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
    let request = |path: &str, auth: bool| {
        let mut headers = HashMap::new();
        if auth {
            headers.insert("authorization".to_string(), format!("Bearer {}", app.key.expose()));
        }
        ApiRequest { method: "POST".into(), path: path.into(), headers, body: huge.clone().into_bytes(), client_cert: None }
    };
    for path in ["/v1/customers", "/v1/charges", "/v1/templates/preview", "/v1/webhook-endpoints"] {
        let r = app.api().handle(&request(path, true), Utc::now()).await;
        assert_eq!(r.status, 413, "{path}: {}", r.body);
    }
    // Refused before authentication too: a flood of large bodies costs no key lookups.
    assert_eq!(app.api().handle(&request("/v1/charges", false), Utc::now()).await.status, 413);
    let webhooks = cobranca::http::api::provider_webhooks::WebhookApi {
        settlement: cobranca::service::settlement::Settlement { store: app.store.as_ref(), queue: &app.queue, events: &app.events },
        secrets: std::slice::from_ref(&app.secret),
        pix_auth: None,
        acquirers: None,
        channel_callbacks: None,
    };
    assert_eq!(webhooks.handle(&request("/v1/webhooks/cobranca", false), Utc::now()).await.status, 413);
    assert!(app.store.unmatched("cobranca").await.unwrap().is_empty());
}

#[tokio::test]
async fn api_keys_are_kept_only_as_hashes() {
    let app = App::new().await;
    let key = app.key.expose().to_string();
    assert!(!app.key.hash().as_str().contains(&key[3..]), "the stored form does not contain the key");
    assert!(app.store.merchant_by_key(&app.key.hash()).await.unwrap().is_some());
    assert!(format!("{:?}", app.key).contains("***"), "a key never prints");
    let (status, _) = app.call("GET", "/v1/wallets", serde_json::Value::Null, &[("authorization", &format!("Bearer {}x", key))]).await;
    assert_eq!(status, 401);
}

/// The template never holds a secret: every credential is a Secrets Manager ARN parameter, and no function
/// environment carries a secret's value.
#[test]
fn secrets_are_only_referenced_in_the_template() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let secretish = |name: &str| ["Secret", "Credentials", "Password", "Token", "ApiKey"].iter().any(|w| name.contains(w));
    let mut in_parameters = false;
    for line in template.lines() {
        if line.starts_with("Parameters:") {
            in_parameters = true;
            continue;
        }
        if in_parameters && !line.starts_with(' ') && !line.is_empty() {
            in_parameters = false;
        }
        // A parameter: two-space indented "Name:".
        if in_parameters && line.starts_with("  ") && !line.starts_with("   ") {
            let name = line.trim().trim_end_matches(':');
            if secretish(name) {
                assert!(name.ends_with("Arn"), "parameter {name} must be the ARN of a secret, not the secret");
            }
        }
        // Function environment: COBRANCA_* variables that look like secrets must be *_ARN references.
        let t = line.trim();
        if let Some((var, _)) = t.split_once(':').filter(|(v, _)| v.starts_with("COBRANCA_")) {
            if var.contains("SECRET") || var.contains("CREDENTIALS") || var.contains("TOKEN") {
                assert!(var.ends_with("_ARN"), "{var} must reference a secret, not hold it");
            }
        }
    }
}
