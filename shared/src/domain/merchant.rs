//! Merchants (the businesses that bill) and their API keys.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::document::Document;
use crate::domain::ids::MerchantId;
use crate::domain::institution::Provider;

/// Whether a merchant's money and messages are real. Test: sandbox wallets, sandbox card tokens and the outbox,
/// never a real institution or a real message. Live: real institutions and channel providers only, never the
/// sandbox nor the outbox. Set when the merchant is made and never changed, so test data cannot turn real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    /// A merchant stored before modes existed has no mode: it is live, so it can never reach the sandbox or the
    /// outbox (fail closed); its sandbox wallets, if any, stop serving it instead of faking payments.
    pub fn unstated() -> Self {
        Self::Live
    }

    pub fn is_live(self) -> bool {
        self == Self::Live
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Live => "live",
        }
    }

    /// The one rule of which institutions a mode may use: the sandbox in test, every real one in live.
    pub fn serves(self, provider: Provider) -> bool {
        (provider == Provider::Sandbox) == (self == Self::Test)
    }

    /// What an API key of this mode starts with (`ck_test_…`, `ck_live_…`), as Stripe's and Asaas's do.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Self::Test => "ck_test_",
            Self::Live => "ck_live_",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merchant {
    pub id: MerchantId,
    /// Legal or trade name, printed on every collection message (CDC art. 42-A).
    pub name: String,
    /// CPF or CNPJ, printed on every collection message (CDC art. 42-A).
    pub document: Document,
    pub created_at: DateTime<Utc>,
    #[serde(default = "Mode::unstated")]
    pub mode: Mode,
}

/// A secret API key as the merchant holds it. Only its hash is ever stored.
#[derive(Clone)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl ApiKey {
    const PREFIX: &'static str = "ck_";

    /// 256 random bits: a key this strong needs no slow password hash, SHA-256 suffices. The prefix tells the
    /// mode of the merchant it belongs to (`ck_test_…`, `ck_live_…`).
    pub fn generate(mode: Mode) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!("{}{}", mode.key_prefix(), hex::encode(bytes)))
    }

    /// The mode the key's prefix names; None for a key made before keys carried one (`ck_` + hex).
    pub fn mode_of(presented: &str) -> Option<Mode> {
        [Mode::Test, Mode::Live].into_iter().find(|m| presented.starts_with(m.key_prefix()))
    }

    /// Accepts a key given by an operator (e.g. `COBRANCA_DEV_API_KEY`); it must look like one of ours.
    pub fn parse(s: &str) -> Option<Self> {
        let body = s.strip_prefix(Self::PREFIX)?;
        let body = body.strip_prefix("test_").or_else(|| body.strip_prefix("live_")).unwrap_or(body);
        (body.len() >= 32 && body.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| Self(s.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash::of(&self.0)
    }
}

/// What the store keeps of an API key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    pub fn of(presented: &str) -> Self {
        Self(hex::encode(Sha256::digest(presented.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_unique_and_hash_stably() {
        let a = ApiKey::generate(Mode::Test);
        let b = ApiKey::generate(Mode::Test);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), ApiKeyHash::of(a.expose()));
        assert!(ApiKey::parse(a.expose()).is_some());
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = ApiKey::generate(Mode::Live);
        assert!(!format!("{key:?}").contains(&key.expose()[8..]));
    }

    #[test]
    fn keys_show_their_mode() {
        let test = ApiKey::generate(Mode::Test);
        let live = ApiKey::generate(Mode::Live);
        assert!(test.expose().starts_with("ck_test_") && live.expose().starts_with("ck_live_"), "{} {}", test.expose(), live.expose());
        assert_eq!(ApiKey::mode_of(test.expose()), Some(Mode::Test));
        assert_eq!(ApiKey::mode_of(live.expose()), Some(Mode::Live));
        assert_eq!(ApiKey::mode_of("ck_0123456789abcdef0123456789abcdef"), None);
        assert!(ApiKey::parse(live.expose()).is_some() && ApiKey::parse(test.expose()).is_some());
    }

    #[test]
    fn only_the_sandbox_serves_test_and_never_live() {
        for p in [Provider::BancoDoBrasil, Provider::Cielo] {
            assert!(Mode::Live.serves(p) && !Mode::Test.serves(p));
        }
        assert!(Mode::Test.serves(Provider::Sandbox) && !Mode::Live.serves(Provider::Sandbox));
    }

    #[test]
    fn a_merchant_stored_without_a_mode_is_live() {
        let stored = serde_json::json!({"id":"mer_1","name":"Loja","document":"11222333000181","created_at":"2026-01-01T00:00:00Z"});
        assert_eq!(serde_json::from_value::<Merchant>(stored).unwrap().mode, Mode::Live);
    }
}
