//! Standard Webhooks signing (https://www.standardwebhooks.com): HMAC-SHA256 over "{id}.{timestamp}.{body}", base64,
//! `v1,` prefix, with a timestamp tolerance against replays. The one scheme both ways: payment providers' notices
//! in (`payment_notice`) and our events out to merchants' endpoints (`merchant_webhooks`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a webhook's timestamp may be from our clock, either way (replay protection).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// One signing secret, as issued: "whsec_" + base64 of the key bytes.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    pub fn parse(s: &str) -> Option<Self> {
        let body = s.trim().strip_prefix("whsec_")?;
        let key = B64.decode(body).ok()?;
        (key.len() >= 16).then_some(Self(key))
    }

    /// Several secrets separated by spaces or commas: during a rotation both the old and the new one verify.
    pub fn parse_list(s: &str) -> Vec<Self> {
        s.split([' ', ',', '\n']).filter(|p| !p.is_empty()).filter_map(Self::parse).collect()
    }

    pub fn generate() -> (Self, String) {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        (Self(key.to_vec()), format!("whsec_{}", B64.encode(key)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for a message (used by our senders and tests).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", B64.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("cabeçalhos de assinatura ausentes / missing webhook-id, webhook-timestamp or webhook-signature")]
    MissingHeaders,
    #[error("timestamp fora da tolerância / timestamp outside the 5-minute tolerance")]
    Stale,
    #[error("assinatura inválida / invalid signature")]
    Invalid,
}

/// Verifies a Standard Webhooks delivery against any of the current secrets. Comparison is constant-time.
pub fn verify(
    secrets: &[WebhookSecret],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let (Some(id), Some(ts), Some(sig)) = (id, timestamp, signature) else {
        return Err(SignatureError::MissingHeaders);
    };
    let ts: i64 = ts.trim().parse().map_err(|_| SignatureError::MissingHeaders)?;
    // abs_diff: `now - ts` overflows for timestamps near i64::MIN or i64::MAX.
    if now.timestamp().abs_diff(ts) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let candidates: Vec<Vec<u8>> = sig.split(' ').filter_map(|s| s.strip_prefix("v1,")).filter_map(|b| B64.decode(b).ok()).collect();
    for secret in secrets {
        for candidate in &candidates {
            if secret.mac(id, ts, body).verify_slice(candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Invalid)
}
