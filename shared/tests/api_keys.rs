//! API keys as a merchant manages them (create, list, rotate with a grace period, revoke), merchants as the
//! operator creates them, and the per-key rate limit — all through `Api::handle`, at chosen instants.

mod support;

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cobranca::domain::api_keys::AccessPolicy;
use cobranca::domain::merchant::ApiKeyHash;
use cobranca::http::api::{ApiRequest, ApiResponse};
use serde_json::{json, Value};
use support::App;

const OPERATOR_KEY: &str = "op_test_operator_key_0123456789abcdef";

/// Ten seconds into a minute, tomorrow: after the keys the test merchant was registered with (now).
fn t0() -> DateTime<Utc> {
    let minute = (Utc::now() + Duration::days(1)).timestamp() / 60 * 60;
    Utc.timestamp_opt(minute + 10, 0).unwrap()
}

/// A request with `token` as the bearer key, under `access`.
async fn send(app: &App, access: &AccessPolicy, token: &str, method: &str, path: &str, body: Value, at: DateTime<Utc>) -> ApiResponse {
    send_with(app, access, token, method, path, body, at, &[]).await
}

#[allow(clippy::too_many_arguments)]
async fn send_with(
    app: &App,
    access: &AccessPolicy,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
    at: DateTime<Utc>,
    extra: &[(&str, &str)],
) -> ApiResponse {
    let mut headers = HashMap::from([("authorization".to_string(), format!("Bearer {token}"))]);
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let req = ApiRequest {
        method: method.into(),
        path: path.into(),
        headers,
        body: if body.is_null() { vec![] } else { body.to_string().into_bytes() },
        client_cert: None,
    };
    let api = cobranca::http::api::Api { access: access.clone(), ..app.api() };
    api.handle(&req, at).await
}

fn json_of(r: &ApiResponse) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

/// Whether `token` gets in at `at`.
async fn works(app: &App, token: &str, at: DateTime<Utc>) -> bool {
    let r = send(app, &AccessPolicy::default(), token, "GET", "/v1/customers", Value::Null, at).await;
    assert!(r.status == 200 || r.status == 401, "{} {}", r.status, r.body);
    r.status == 200
}

async fn create_key(app: &App, token: &str, body: Value, at: DateTime<Utc>) -> Value {
    let r = send(app, &AccessPolicy::default(), token, "POST", "/v1/api-keys", body, at).await;
    assert_eq!(r.status, 201, "{}", r.body);
    json_of(&r)
}

#[tokio::test]
async fn a_new_key_works_at_once_and_its_secret_is_shown_only_when_made() {
    let app = App::new().await;
    let main = app.key.expose();
    let key = create_key(&app, main, json!({"name": "ERP"}), t0()).await;
    let secret = key["secret"].as_str().unwrap();
    assert!(secret.starts_with("ck_test_"), "a test merchant's keys say so: {secret}");
    assert_eq!(key["name"], "ERP");
    assert_eq!(key["status"], "active");
    assert_eq!(key["redacted"], json!(format!("ck_test_…{}", &secret[secret.len() - 4..])));
    assert!(works(&app, secret, t0()).await);

    let r = send(&app, &AccessPolicy::default(), secret, "GET", "/v1/api-keys", Value::Null, t0()).await;
    assert_eq!(r.status, 200);
    let hash = ApiKeyHash::of(secret);
    for hidden in [&secret[3..], hash.as_str(), &app.key.expose()[3..], app.key.hash().as_str()] {
        assert!(!r.body.contains(hidden), "the list shows a secret or a hash: {}", r.body);
    }
    let listed = json_of(&r);
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "ERP"], "the key the merchant was registered with is listed too, oldest first");
    assert_eq!(listed["data"][0]["redacted"], Value::Null, "registered by its hash alone: no last four characters");
    assert!(listed["data"].as_array().unwrap().iter().all(|k| k.get("secret").is_none()));
}

#[tokio::test]
async fn a_key_is_named_and_its_own_limit_stays_under_the_default() {
    let app = App::new().await;
    let limited = AccessPolicy { default_rate_limit: Some(100), ..Default::default() };
    let r = send(&app, &limited, app.key.expose(), "POST", "/v1/api-keys", json!({}), t0()).await;
    assert_eq!((r.status, &json_of(&r)["error"]["field"]), (422, &json!("name")));
    let r = send(&app, &limited, app.key.expose(), "POST", "/v1/api-keys", json!({"name": "x", "rate_limit_per_minute": 101}), t0()).await;
    assert_eq!((r.status, &json_of(&r)["error"]["field"]), (422, &json!("rate_limit_per_minute")));
    let r = send(&app, &limited, app.key.expose(), "POST", "/v1/api-keys", json!({"name": "x", "colour": "blue"}), t0()).await;
    assert_eq!((r.status, &json_of(&r)["error"]["code"]), (422, &json!("unknown_field")));
}

#[tokio::test]
async fn a_rotated_key_keeps_working_through_its_grace_period_and_not_after() {
    let app = App::new().await;
    let old = create_key(&app, app.key.expose(), json!({"name": "ERP", "rate_limit_per_minute": 30}), t0()).await;
    let old_secret = old["secret"].as_str().unwrap();
    let r = send(
        &app,
        &AccessPolicy::default(),
        old_secret,
        "POST",
        &format!("/v1/api-keys/{}/rotate", old["id"].as_str().unwrap()),
        json!({"grace_seconds": 3600}),
        t0(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let new = json_of(&r);
    let new_secret = new["secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    assert_eq!((&new["name"], &new["rate_limit_per_minute"], &new["rotated_from"]), (&json!("ERP"), &json!(30), &old["id"]));

    // Both work during the grace period; then only the new one.
    assert!(works(&app, old_secret, t0() + Duration::minutes(59)).await);
    assert!(works(&app, new_secret, t0() + Duration::minutes(59)).await);
    assert!(!works(&app, old_secret, t0() + Duration::hours(1)).await);
    assert!(works(&app, new_secret, t0() + Duration::hours(1)).await);

    let listed = json_of(&send(&app, &AccessPolicy::default(), new_secret, "GET", "/v1/api-keys", Value::Null, t0() + Duration::minutes(1)).await);
    let old_listed = listed["data"].as_array().unwrap().iter().find(|k| k["id"] == old["id"]).unwrap().clone();
    assert_eq!(old_listed["status"], "expiring");
    assert_eq!(old_listed["expires_at"], json!((t0() + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));

    // A key already rotated is not rotated again.
    let r =
        send(&app, &AccessPolicy::default(), new_secret, "POST", &format!("/v1/api-keys/{}/rotate", old["id"].as_str().unwrap()), Value::Null, t0())
            .await;
    assert_eq!((r.status, &json_of(&r)["error"]["code"]), (409, &json!("api_key_not_active")));
}

#[tokio::test]
async fn rotation_defaults_to_a_day_of_grace_zero_ends_it_at_once_and_a_week_is_the_most() {
    let app = App::new().await;
    let main = app.key.expose().to_string();
    let rotate = |id: String, body: Value| {
        let main = main.clone();
        let app = &app;
        async move { send(app, &AccessPolicy::default(), &main, "POST", &format!("/v1/api-keys/{id}/rotate"), body, t0()).await }
    };
    let a = create_key(&app, &main, json!({"name": "a"}), t0()).await;
    let r = rotate(a["id"].as_str().unwrap().into(), Value::Null).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(works(&app, a["secret"].as_str().unwrap(), t0() + Duration::hours(23)).await);
    assert!(!works(&app, a["secret"].as_str().unwrap(), t0() + Duration::hours(24)).await);

    let b = create_key(&app, &main, json!({"name": "b"}), t0()).await;
    let r = rotate(b["id"].as_str().unwrap().into(), json!({"grace_seconds": 0})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(!works(&app, b["secret"].as_str().unwrap(), t0()).await, "no grace: the old key stops at once");

    let c = create_key(&app, &main, json!({"name": "c"}), t0()).await;
    for bad in [json!({"grace_seconds": 604801}), json!({"grace_seconds": -1}), json!({"grace_seconds": "1h"})] {
        let r = rotate(c["id"].as_str().unwrap().into(), bad.clone()).await;
        assert_eq!((r.status, &json_of(&r)["error"]["field"]), (422, &json!("grace_seconds")), "{bad}");
    }
    assert_eq!(rotate("key_nonexistent".into(), Value::Null).await.status, 404);
    assert_eq!(rotate("cus_123".into(), Value::Null).await.status, 404);
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_but_the_last_active_key_cannot_be_revoked() {
    let app = App::new().await;
    let main = app.key.expose();
    let keys = json_of(&send(&app, &AccessPolicy::default(), main, "GET", "/v1/api-keys", Value::Null, t0()).await);
    let main_id = keys["data"][0]["id"].as_str().unwrap().to_string();

    // The only key: revoking it would lock the merchant out.
    let r = send(&app, &AccessPolicy::default(), main, "DELETE", &format!("/v1/api-keys/{main_id}"), Value::Null, t0()).await;
    assert_eq!((r.status, &json_of(&r)["error"]["code"]), (409, &json!("last_api_key")));
    assert!(works(&app, main, t0()).await);

    // With another key, any key may go — the one making the request too.
    let other = create_key(&app, main, json!({"name": "CI"}), t0()).await;
    let r = send(&app, &AccessPolicy::default(), main, "DELETE", &format!("/v1/api-keys/{main_id}"), Value::Null, t0()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json_of(&r)["status"], "revoked");
    assert!(!works(&app, main, t0()).await, "revoked: refused on the very next request");
    let other_secret = other["secret"].as_str().unwrap();
    assert!(works(&app, other_secret, t0()).await);

    // Revoking again changes nothing; the last one left stays.
    let r = send(&app, &AccessPolicy::default(), other_secret, "DELETE", &format!("/v1/api-keys/{main_id}"), Value::Null, t0()).await;
    assert_eq!((r.status, &json_of(&r)["status"]), (200, &json!("revoked")));
    let r =
        send(&app, &AccessPolicy::default(), other_secret, "DELETE", &format!("/v1/api-keys/{}", other["id"].as_str().unwrap()), Value::Null, t0())
            .await;
    assert_eq!(r.status, 409);

    // A key only rotated away does not count as the other active key.
    let r = send(
        &app,
        &AccessPolicy::default(),
        other_secret,
        "POST",
        &format!("/v1/api-keys/{}/rotate", other["id"].as_str().unwrap()),
        Value::Null,
        t0(),
    )
    .await;
    let successor = json_of(&r);
    let r = send(
        &app,
        &AccessPolicy::default(),
        other_secret,
        "DELETE",
        &format!("/v1/api-keys/{}", successor["id"].as_str().unwrap()),
        Value::Null,
        t0(),
    )
    .await;
    assert_eq!((r.status, &json_of(&r)["error"]["code"]), (409, &json!("last_api_key")));
}

fn operator() -> AccessPolicy {
    AccessPolicy { operator_key: Some(ApiKeyHash::of(OPERATOR_KEY)), default_rate_limit: Some(1) }
}

#[tokio::test]
async fn the_operator_creates_a_merchant_and_gets_its_first_key_once() {
    let app = App::new().await;
    let body = json!({"name": "Padaria Pão Quente Ltda", "document": "11.222.333/0001-81", "api_key_name": "produção"});
    let r = send(&app, &operator(), OPERATOR_KEY, "POST", "/v1/merchants", body.clone(), t0()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = json_of(&r);
    assert_eq!(
        (&made["merchant"]["name"], &made["merchant"]["document"], &made["merchant"]["document_type"]),
        (&json!("Padaria Pão Quente Ltda"), &json!("11222333000181"), &json!("cnpj"))
    );
    assert_eq!(made["api_key"]["name"], "produção");
    let secret = made["api_key"]["secret"].as_str().unwrap();
    // The new merchant's key works and sees only the new merchant's (empty) data.
    let r = send(&app, &AccessPolicy::default(), secret, "GET", "/v1/customers", Value::Null, t0()).await;
    assert_eq!((r.status, &json_of(&r)["data"]), (200, &json!([])));

    // The operator is not held to a merchant key's rate limit (1 a minute here).
    let again =
        send(&app, &operator(), OPERATOR_KEY, "POST", "/v1/merchants", json!({"name": "Outra Loja", "document": "529.982.247-25"}), t0()).await;
    assert_eq!(again.status, 201, "{}", again.body);
}

#[tokio::test]
async fn merchant_creation_needs_the_operator_key_and_is_closed_without_one() {
    let app = App::new().await;
    let body = json!({"name": "Loja", "document": "11.222.333/0001-81"});
    let closed = send(&app, &AccessPolicy::default(), OPERATOR_KEY, "POST", "/v1/merchants", body.clone(), t0()).await;
    assert_eq!((closed.status, &json_of(&closed)["error"]["code"]), (403, &json!("operator_disabled")));
    for token in ["", "wrong", app.key.expose()] {
        let r = send(&app, &operator(), token, "POST", "/v1/merchants", body.clone(), t0()).await;
        assert_eq!((r.status, &json_of(&r)["error"]["code"]), (401, &json!("unauthorized")), "token {token:?}");
    }
    let r = send(&app, &operator(), OPERATOR_KEY, "POST", "/v1/merchants", json!({"name": "Loja", "document": "123"}), t0()).await;
    assert_eq!((r.status, &json_of(&r)["error"]["field"]), (422, &json!("document")));
    let r = send(&app, &operator(), OPERATOR_KEY, "POST", "/v1/merchants", json!({"document": "11.222.333/0001-81"}), t0()).await;
    assert_eq!((r.status, &json_of(&r)["error"]["field"]), (422, &json!("name")));
    // The operator key is not a merchant key.
    assert!(!works(&app, OPERATOR_KEY, t0()).await);
}

#[tokio::test]
async fn a_retried_merchant_creation_with_its_idempotency_key_makes_no_second_merchant() {
    let app = App::new().await;
    let body = json!({"name": "Loja", "document": "11.222.333/0001-81"});
    let first =
        send_with(&app, &operator(), OPERATOR_KEY, "POST", "/v1/merchants", body.clone(), t0(), &[("idempotency-key", "onboarding-42")]).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let retry = send_with(&app, &operator(), OPERATOR_KEY, "POST", "/v1/merchants", body, t0(), &[("idempotency-key", "onboarding-42")]).await;
    assert_eq!((retry.status, &json_of(&retry)["error"]["code"]), (409, &json!("merchant_exists")));
    assert!(!retry.body.contains("ck_"), "a retry never shows a secret again");
}

#[tokio::test]
async fn past_its_limit_a_key_gets_429_with_retry_after_until_the_next_minute() {
    let app = App::new().await;
    let limited = AccessPolicy { default_rate_limit: Some(3), ..Default::default() };
    let other = create_key(&app, app.key.expose(), json!({"name": "other"}), t0()).await;
    let other_secret = other["secret"].as_str().unwrap();
    let get = |token: &str, at: DateTime<Utc>| {
        let (app, limited, token) = (&app, &limited, token.to_string());
        async move { send(app, limited, &token, "GET", "/v1/customers", Value::Null, at).await }
    };
    for remaining in ["2", "1", "0"] {
        let r = get(app.key.expose(), t0()).await;
        assert_eq!((r.status, r.header("x-ratelimit-limit"), r.header("x-ratelimit-remaining")), (200, Some("3"), Some(remaining)));
    }
    let r = get(app.key.expose(), t0() + Duration::seconds(5)).await;
    assert_eq!((r.status, &json_of(&r)["error"]["code"]), (429, &json!("rate_limited")));
    // t0 is 10 s into its minute; 5 s later, the window has 45 s left.
    assert_eq!((r.header("retry-after"), r.header("x-ratelimit-remaining")), (Some("45"), Some("0")));
    // Refused requests are not counted, another key has its own count, and the next minute starts afresh.
    assert_eq!(get(other_secret, t0()).await.status, 200);
    let next = get(app.key.expose(), t0() + Duration::seconds(50)).await;
    assert_eq!((next.status, next.header("x-ratelimit-remaining")), (200, Some("2")));
}

#[tokio::test]
async fn a_key_may_carry_its_own_lower_limit_and_errors_are_counted_too() {
    let app = App::new().await;
    let slow = create_key(&app, app.key.expose(), json!({"name": "slow", "rate_limit_per_minute": 2}), t0()).await;
    let secret = slow["secret"].as_str().unwrap();
    let none = AccessPolicy::default();
    assert_eq!(send(&app, &none, secret, "GET", "/v1/customers/cus_missing", Value::Null, t0()).await.status, 404);
    assert_eq!(send(&app, &none, secret, "GET", "/v1/customers", Value::Null, t0()).await.status, 200);
    let r = send(&app, &none, secret, "GET", "/v1/customers", Value::Null, t0()).await;
    assert_eq!((r.status, r.header("x-ratelimit-limit")), (429, Some("2")));
    // The deployment sets no default: the merchant's main key is unlimited and carries no rate headers.
    let r = send(&app, &none, app.key.expose(), "GET", "/v1/customers", Value::Null, t0()).await;
    assert_eq!((r.status, r.header("x-ratelimit-limit")), (200, None));
}

#[test]
fn rate_headers_reach_the_http_response() {
    let limited =
        ApiResponse { headers: vec![("retry-after", "45".into()), ("x-ratelimit-remaining", "0".into())], ..ApiResponse::json(429, &json!({})) };
    let http = cobranca::http::lambda::http_response(limited);
    assert_eq!((http.headers()["retry-after"].to_str().unwrap(), http.headers()["x-ratelimit-remaining"].to_str().unwrap()), ("45", "0"));
}

#[tokio::test]
async fn the_operator_gives_a_locked_out_merchant_a_new_key_and_only_the_operator_can() {
    let app = App::new().await;
    let path = format!("/v1/merchants/{}/api-keys", app.merchant_id);
    let issued = send(&app, &operator(), OPERATOR_KEY, "POST", &path, json!({"name": "recovery"}), t0()).await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let secret = json_of(&issued)["secret"].as_str().unwrap().to_string();
    assert!(works(&app, &secret, t0()).await, "the new key is the merchant's");
    assert!(works(&app, app.key.expose(), t0()).await, "the merchant's other keys are untouched");

    let unknown = send(&app, &operator(), OPERATOR_KEY, "POST", "/v1/merchants/mer_nobody/api-keys", Value::Null, t0()).await;
    assert_eq!(unknown.status, 404);
    let as_merchant = send(&app, &operator(), app.key.expose(), "POST", &path, Value::Null, t0()).await;
    assert_eq!(as_merchant.status, 401, "a merchant's key is not the operator's");
    let closed = send(&app, &AccessPolicy::default(), OPERATOR_KEY, "POST", &path, Value::Null, t0()).await;
    assert_eq!((closed.status, &json_of(&closed)["error"]["code"]), (403, &json!("operator_disabled")));
}

#[tokio::test]
async fn a_merchant_holds_at_most_twenty_working_keys_and_may_always_rotate() {
    use cobranca::domain::api_keys::MAX_LIVE_KEYS;
    let app = App::new().await;
    let main = app.key.expose();
    // The key the merchant was registered with is the first.
    let mut made = Vec::new();
    for i in 1..MAX_LIVE_KEYS {
        made.push(create_key(&app, main, json!({"name": format!("key {i}")}), t0()).await);
    }
    let r = send(&app, &AccessPolicy::default(), main, "POST", "/v1/api-keys", json!({"name": "one too many"}), t0()).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(json_of(&r)["error"]["code"], "api_key_limit");

    // A rotation replaces a key: allowed at the limit.
    let rotated = send(
        &app,
        &AccessPolicy::default(),
        main,
        "POST",
        &format!("/v1/api-keys/{}/rotate", made[0]["id"].as_str().unwrap()),
        json!({"grace_seconds": 0}),
        t0(),
    )
    .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    // Revoking one makes room for another.
    let revoked =
        send(&app, &AccessPolicy::default(), main, "DELETE", &format!("/v1/api-keys/{}", made[1]["id"].as_str().unwrap()), Value::Null, t0()).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    create_key(&app, main, json!({"name": "in the freed place"}), t0()).await;
}
