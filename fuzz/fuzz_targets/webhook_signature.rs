//! Standard Webhooks verification (`cobranca::domain::standard_webhooks::verify`): any headers, body, secrets and clock never
//! panic; a body signed with the secret verifies, and a changed body, id or timestamp, a stale timestamp or
//! another secret does not.
#![no_main]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use cobranca::domain::standard_webhooks::{verify, SignatureError, WebhookSecret, TOLERANCE_SECONDS};
use cobranca_fuzz::{fields, int, text};
use libfuzzer_sys::fuzz_target;

fn clock(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

fn absent_if_empty(field: &[u8]) -> Option<String> {
    (!field.is_empty()).then(|| text(field))
}

// Input fields (NUL-separated): secrets ("whsec_…", space- or comma-separated) NUL webhook-id NUL
// webhook-timestamp NUL webhook-signature NUL our clock (epoch seconds) NUL the sender's clock skew in seconds
// NUL body. An empty header field is a missing header.
fuzz_target!(|data: &[u8]| {
    let [secrets, id, timestamp, signature, now, skew, body] = fields::<7>(data);
    let (id, timestamp, signature) = (absent_if_empty(id), absent_if_empty(timestamp), absent_if_empty(signature));

    // 1. Anything at all: an answer, never a panic.
    let configured = WebhookSecret::parse_list(&text(secrets));
    let now = clock(int(now).unwrap_or(1_614_265_330));
    let _ = verify(&configured, id.as_deref(), timestamp.as_deref(), signature.as_deref(), body, now);

    // 2. A delivery we signed ourselves verifies; one changed in any part does not. The key is the secrets
    // field's bytes, padded to the 16 bytes a secret needs.
    let mut key = secrets.to_vec();
    key.resize(key.len().max(16), 0x5a);
    let secret = WebhookSecret::parse(&format!("whsec_{}", B64.encode(&key))).expect("a 16-byte key is a valid secret");
    let id = id.as_deref().unwrap_or("msg_fuzz");
    // A clock we could really have: from 1970 to 2100; a skew of up to a few hours either way.
    let now = clock(now.timestamp().rem_euclid(4_102_444_800));
    let skew = int(skew).unwrap_or(0) % 20_000;
    let ts = now.timestamp() + skew;
    let sig = secret.sign(id, ts, body);
    let check =
        |secrets: &[WebhookSecret], id: &str, ts: i64, sig: &str, body: &[u8]| verify(secrets, Some(id), Some(&ts.to_string()), Some(sig), body, now);
    let ours = std::slice::from_ref(&secret);

    if skew.abs() <= TOLERANCE_SECONDS {
        assert_eq!(check(ours, id, ts, &sig, body), Ok(()), "a fresh, correctly signed delivery verifies");
        // Several signatures (rotation on the sender's side): ours among them still verifies.
        let several = format!("v1,{} {sig} v2,x", B64.encode(b"not the signature"));
        assert_eq!(check(ours, id, ts, &several, body), Ok(()));
        // Several secrets (rotation on ours): any that matches verifies.
        let mut rotated = WebhookSecret::parse_list(&text(secrets));
        rotated.push(secret.clone());
        assert_eq!(check(&rotated, id, ts, &sig, body), Ok(()));

        for at in [0, body.len() / 2, body.len().saturating_sub(1)].into_iter().filter(|_| !body.is_empty()) {
            let mut changed = body.to_vec();
            changed[at] ^= 0x20;
            assert_eq!(check(ours, id, ts, &sig, &changed), Err(SignatureError::Invalid), "a changed body");
        }
        let longer = [body, b" "].concat();
        assert_eq!(check(ours, id, ts, &sig, &longer), Err(SignatureError::Invalid), "a longer body");
        assert_eq!(check(ours, &format!("{id}x"), ts, &sig, body), Err(SignatureError::Invalid), "another id");
        let other_ts = if skew > 0 { ts - 1 } else { ts + 1 };
        assert_eq!(check(ours, id, other_ts, &sig, body), Err(SignatureError::Invalid), "another timestamp");
        let mut other_key = key.clone();
        other_key[0] ^= 1;
        let other = WebhookSecret::parse(&format!("whsec_{}", B64.encode(&other_key))).unwrap();
        assert_eq!(check(&[other], id, ts, &sig, body), Err(SignatureError::Invalid), "another secret");
        assert_eq!(check(&[], id, ts, &sig, body), Err(SignatureError::Invalid), "no secret");
    } else {
        assert_eq!(check(ours, id, ts, &sig, body), Err(SignatureError::Stale), "outside the tolerance");
    }
    assert_eq!(verify(ours, None, Some(&ts.to_string()), Some(&sig), body, now), Err(SignatureError::MissingHeaders));
    assert_eq!(verify(ours, Some(id), Some(&ts.to_string()), None, body, now), Err(SignatureError::MissingHeaders));
});
