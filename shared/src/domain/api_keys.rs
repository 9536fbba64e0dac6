//! API keys as records of their own: a merchant holds several, each named, rotated with a grace period during
//! which the old secret keeps working, revoked at once, and limited in requests per minute. The secret is shown
//! once, when made; the store keeps its SHA-256 (`merchant::ApiKeyHash`) and its last four characters.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{ApiKeyId, MerchantId};
use crate::domain::merchant::{ApiKey, ApiKeyHash, Mode};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub merchant_id: MerchantId,
    pub name: String,
    pub hash: ApiKeyHash,
    /// For the merchant to tell keys apart (`ck_…a1b2`); unknown for a key registered by its hash alone.
    pub last4: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Set by a rotation: the old secret keeps working until then, so deployed clients can be switched over.
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Requests per minute for this key; None uses the deployment's default.
    pub rate_limit: Option<u32>,
    /// Rotation made this key from that one.
    #[serde(default)]
    pub rotated_from: Option<ApiKeyId>,
    /// Optimistic concurrency: a revocation and a rotation racing cannot undo each other.
    pub version: u64,
    /// The mode its prefix names (`ck_test_…`/`ck_live_…`); None for a key registered by its hash alone.
    #[serde(default)]
    pub mode: Option<Mode>,
}

/// Longest a rotated key may keep working.
pub const MAX_GRACE: Duration = Duration::days(7);
pub const DEFAULT_GRACE: Duration = Duration::hours(24);
/// Keys a merchant may hold working at once (active, or expiring after a rotation). Each is a credential to
/// guard; a rotation replaces one and is always allowed.
pub const MAX_LIVE_KEYS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    /// Rotated: works until `expires_at`.
    Expiring,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expiring => "expiring",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl ApiKeyRecord {
    /// A new key for `merchant`, prefixed by its `mode`: the record to store and the secret to show once.
    pub fn issue(merchant: &MerchantId, mode: Mode, name: &str, rate_limit: Option<u32>, now: DateTime<Utc>) -> (Self, ApiKey) {
        let secret = ApiKey::generate(mode);
        let last4 = secret.expose()[secret.expose().len() - 4..].to_string();
        let record = Self {
            id: ApiKeyId::generate(),
            merchant_id: merchant.clone(),
            name: name.to_string(),
            hash: secret.hash(),
            last4: Some(last4),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            rate_limit,
            rotated_from: None,
            version: 1,
            mode: Some(mode),
        };
        (record, secret)
    }

    /// A key registered by its hash alone (`Store::put_merchant`: the development runner, the CLI, keys made before
    /// keys were records). Its id follows from the hash, so registering the same key again is the same key.
    pub fn registered(merchant: &MerchantId, hash: &ApiKeyHash, created_at: DateTime<Utc>) -> Self {
        Self {
            id: ApiKeyId::derived(&format!("apikey/{}", hash.as_str())),
            merchant_id: merchant.clone(),
            name: "default".into(),
            hash: hash.clone(),
            last4: None,
            created_at,
            expires_at: None,
            revoked_at: None,
            rate_limit: None,
            rotated_from: None,
            version: 1,
            mode: None,
        }
    }

    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        match (self.revoked_at, self.expires_at) {
            (Some(_), _) => KeyStatus::Revoked,
            (None, Some(e)) if now >= e => KeyStatus::Expired,
            (None, Some(_)) => KeyStatus::Expiring,
            (None, None) => KeyStatus::Active,
        }
    }

    /// Whether a request made with this key at `now` is let in.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        matches!(self.status(now), KeyStatus::Active | KeyStatus::Expiring)
    }

    /// `ck_test_…a1b2`: the prefix of the key's mode and its last four characters, for the merchant to tell keys
    /// apart; None for a key registered by its hash alone.
    pub fn redacted(&self) -> Option<String> {
        self.last4.as_ref().map(|l| format!("{}…{l}", self.mode.map_or("ck_", Mode::key_prefix)))
    }
}

/// Fixed windows of a minute, counted per key: one atomic, conditional increment per request. A client can
/// get up to twice the limit across a window boundary; what matters is that no key can take the API over.
pub const RATE_WINDOW_SECONDS: i64 = 60;

/// The window `now` falls in: its start, and the seconds until the next one (what `Retry-After` says).
pub fn rate_window(now: DateTime<Utc>) -> (DateTime<Utc>, i64) {
    let start = now.timestamp().div_euclid(RATE_WINDOW_SECONDS) * RATE_WINDOW_SECONDS;
    let start = DateTime::from_timestamp(start, 0).expect("a window start in range");
    (start, (start.timestamp() + RATE_WINDOW_SECONDS - now.timestamp()).max(1))
}

/// Who may do what beyond a merchant's own keys, and how fast; from the function's environment
/// (`adapters::config::access_policy`). The default (tests) has no operator and no rate limit but keys' own.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    /// SHA-256 of the operator key (`COBRANCA_OPERATOR_KEY_SHA256`), which may create merchants; None disables that.
    pub operator_key: Option<ApiKeyHash>,
    /// Requests per minute per key when the key sets none (`COBRANCA_RATE_LIMIT_PER_MINUTE`); None is unlimited.
    pub default_rate_limit: Option<u32>,
}

impl AccessPolicy {
    /// Reads the operator hash as given in the environment: 64 hex digits, or empty for none.
    pub fn parse_operator_hash(hex: &str) -> Result<Option<ApiKeyHash>, String> {
        let hex = hex.trim().to_ascii_lowercase();
        if hex.is_empty() {
            return Ok(None);
        }
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Some(ApiKeyHash::from_stored(hex)))
        } else {
            Err("expected the SHA-256 of the operator key as 64 hex digits".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_key_is_usable_until_revoked_or_past_its_expiry() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let (mut key, secret) = ApiKeyRecord::issue(&MerchantId::generate(), Mode::Test, "ci", None, now);
        assert_eq!(key.hash, secret.hash());
        assert_eq!(key.last4.as_deref(), Some(&secret.expose()[secret.expose().len() - 4..]));
        assert!(key.usable(now));
        key.expires_at = Some(now + Duration::hours(1));
        assert_eq!(key.status(now), KeyStatus::Expiring);
        assert!(!key.usable(now + Duration::hours(1)));
        key.expires_at = None;
        key.revoked_at = Some(now);
        assert!(!key.usable(now));
    }

    #[test]
    fn shown_keys_carry_neither_secret_nor_hash() {
        let now = Utc::now();
        let (key, secret) = ApiKeyRecord::issue(&MerchantId::generate(), Mode::Live, "ci", None, now);
        let shown = serde_json::to_value(crate::http::api::views::ApiKey::of(&key, now, Some(true))).unwrap();
        assert!(!shown.to_string().contains(&secret.expose()[8..24]) && !shown.to_string().contains(key.hash.as_str()));
        assert!(shown["redacted"].as_str().unwrap().starts_with("ck_live_…"), "{shown}");
    }

    #[test]
    fn windows_are_whole_minutes() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 45).unwrap();
        assert_eq!(rate_window(at), (Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(), 15));
    }

    #[test]
    fn the_operator_hash_is_64_hex_digits_or_nothing() {
        assert_eq!(AccessPolicy::parse_operator_hash("").unwrap(), None);
        assert!(AccessPolicy::parse_operator_hash(&"A".repeat(64)).unwrap().is_some());
        assert!(AccessPolicy::parse_operator_hash("ck_notahash").is_err());
    }
}
