//! The HTTP API's request bodies, through the API itself (`Api::handle`, and the payer's pages
//! `PayerPages::handle`) on a fresh in-memory application: whatever the body, the answer is a success or the
//! API's own error object — never a panic, never a 500.
//!
//! Input fields (NUL-separated): the request line ("POST /v1/charges"; `{customer}`, `{charge}`, `{token}` and
//! `{endpoint}` in the path stand for a customer, a charge, its payment token and a webhook endpoint made
//! first), headers ("name: value" lines), then the body.
#![no_main]

use cobranca_fuzz::{assert_api_answer, fields, text, App};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const CUSTOMER: &str = r#"{"name":"Maria Silva","document":"529.982.247-25","email":"maria@example.com","phone":"+5511987654321","address":{"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"}}"#;
const CHARGE: &str = r#"{"customer_id":"{customer}","amount":"150.00","due_date":"2026-03-20","description":"Mensalidade","payment_methods":["pix","boleto","credit_card"],"max_installments":12}"#;
const ENDPOINT: &str = r#"{"url":"https://erp.example.com/hooks","event_types":["charge.paid"]}"#;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

fn created(app: &App, path: &str, body: &str) -> Value {
    let r = app.call("POST", path, &[], body.as_bytes());
    assert_eq!(r.status, 201, "fixture {path}: {}", r.body);
    serde_json::from_str(&r.body).expect("JSON")
}

fuzz_target!(|data: &[u8]| {
    let [request_line, headers, body] = fields::<3>(data);
    let request_line = text(request_line);
    let (method, mut path) = match request_line.split_once(' ') {
        Some((m, p)) => (m.to_string(), p.to_string()),
        None => ("POST".to_string(), request_line.clone()),
    };
    let headers: Vec<(String, String)> = text(headers)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| k != "authorization")
        .collect();

    let app = App::new();
    // The resources the path or body names, made through the API as a client would.
    let mut body = body.to_vec();
    let names = |placeholder: &str| path.contains(placeholder) || contains(&body, placeholder.as_bytes());
    let mut ids: Vec<(&str, String)> = Vec::new();
    if names("{customer}") || names("{charge}") || names("{token}") {
        let customer = created(&app, "/v1/customers", CUSTOMER);
        let id = customer["id"].as_str().expect("id").to_string();
        if names("{charge}") || names("{token}") {
            let charge = created(&app, "/v1/charges", &CHARGE.replace("{customer}", &id));
            let url = charge["payment_url"].as_str().expect("payment_url");
            ids.push(("{token}", url.rsplit('/').next().expect("token").to_string()));
            ids.push(("{charge}", charge["id"].as_str().expect("id").to_string()));
        }
        ids.push(("{customer}", id));
    }
    if names("{endpoint}") {
        let endpoint = created(&app, "/v1/webhook-endpoints", ENDPOINT);
        ids.push(("{endpoint}", endpoint["id"].as_str().expect("id").to_string()));
    }
    for (placeholder, id) in &ids {
        path = path.replace(placeholder, id);
        body = replace(&body, placeholder.as_bytes(), id.as_bytes());
    }
    let body = body.as_slice();

    if path.starts_with("/pay/") {
        let content_type = headers.iter().find(|(k, _)| k == "content-type").map_or("application/x-www-form-urlencoded", |(_, v)| v.as_str());
        let r = app.page(&method, &path, content_type, body);
        // 503 is the pages' answer to a store failure: the in-memory store never fails.
        assert_ne!(r.status, 503, "{request_line}: {}", String::from_utf8_lossy(&r.body));
        return;
    }
    let r = app.call(&method, &path, &headers, body);
    assert_api_answer(&request_line, &r);
    // The same request again (a client's retry) is answered too: replayed, refused as a duplicate, or redone.
    let again = app.call(&method, &path, &headers, body);
    assert_api_answer(&request_line, &again);
    if headers.iter().any(|(k, _)| k == "idempotency-key")
        && r.status < 500
        && (method == "POST")
        && (path == "/v1/charges" || path == "/v1/customers")
    {
        assert_eq!((again.status, &again.body), (r.status, &r.body), "an idempotent retry replays the first answer");
    }
});
