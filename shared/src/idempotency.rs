//! Idempotent API requests: the first response to an `Idempotency-Key` is saved and replayed.

use sha2::{Digest, Sha256};

/// How long a key is remembered (Stripe's convention).
pub const RETENTION: chrono::Duration = chrono::Duration::hours(24);

/// A first request still "in progress" after this long died on the way (API Gateway gives up at 30 s): a retry
/// with the same key and body takes over and finishes the work, which is written to be redone safely.
pub const IN_PROGRESS_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// Keys are what clients send: 1..=255 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// What identifies "the same request": method, path and body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}
