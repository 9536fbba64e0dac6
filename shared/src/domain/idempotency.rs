//! Idempotent API requests: the first response to an `Idempotency-Key` is saved and replayed.

use sha2::{Digest, Sha256};

/// How long a refusal is replayed for its key (Stripe's convention); then the key may be used again, since it
/// made nothing. A key that made an object is remembered for as long as the object exists (for good).
pub const REFUSAL_REPLAY: chrono::Duration = chrono::Duration::hours(24);

/// A first request still "in progress" after this long died on the way (API Gateway gives up at 30 s): a retry
/// with the same key and body takes over and finishes the work, which is written to be redone safely.
pub const IN_PROGRESS_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// Keys are what clients send: 1..=255 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// What identifies "the same request": method, path and the body in canonical form (JSON with its object keys
/// sorted and no insignificant whitespace, so a client that re-serialises the same request is not refused;
/// anything else as sent).
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => h.update(canonical(&json).as_bytes()),
        Err(_) => h.update(body),
    }
    hex::encode(h.finalize())
}

fn canonical(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries.into_iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_key_order_and_whitespace_only() {
        let a = request_hash("POST", "/v1/charges", br#"{"amount":"10.00","customer":{"name":"A","email":"a@x.com"}}"#);
        let b = request_hash("POST", "/v1/charges", b"{ \"customer\": {\"email\": \"a@x.com\", \"name\": \"A\"},\n \"amount\": \"10.00\" }");
        assert_eq!(a, b);
        assert_ne!(a, request_hash("POST", "/v1/charges", br#"{"amount":"10.01","customer":{"name":"A","email":"a@x.com"}}"#));
        assert_ne!(a, request_hash("POST", "/v1/customers", br#"{"amount":"10.00","customer":{"name":"A","email":"a@x.com"}}"#));
        assert_ne!(request_hash("POST", "/p", b"[1,2]"), request_hash("POST", "/p", b"[2,1]"), "array order matters");
        assert_ne!(request_hash("POST", "/p", b"not json"), request_hash("POST", "/p", b"not  json"));
    }
}
