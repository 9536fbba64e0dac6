//! Identifiers. Each kind has its own prefix so an id pasted in the wrong place is caught at parse time, and
//! only `[0-9a-z_]` characters, so an id can never smuggle a key separator into a DynamoDB key.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id (ULID), so ids sort by creation — within one millisecond too.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, next_ulid().to_string().to_lowercase()))
            }

            /// The same id for the same seed: what a retried request (same Idempotency-Key) creates, so a
            /// re-run finds the first run's resource instead of making another.
            pub fn derived(seed: &str) -> Self {
                use sha2::{Digest, Sha256};
                Self(format!("{}_k{}", $prefix, &hex::encode(Sha256::digest(seed.as_bytes()))[..26]))
            }

            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                let body = s.strip_prefix(concat!($prefix, "_")).ok_or(InvalidId)?;
                let ok = !body.is_empty() && body.len() <= 64 && body.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'_');
                if ok {
                    Ok(Self(s.to_string()))
                } else {
                    Err(InvalidId)
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

/// ULIDs from one monotonic generator per process: two ids made in the same millisecond still sort in the
/// order they were made (a merchant's first wallet of a method is its default, for one).
fn next_ulid() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let mut generator = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    generator.get_or_insert_with(ulid::Generator::new).generate().unwrap_or_else(|_| ulid::Ulid::new())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("identificador inválido / invalid identifier")]
pub struct InvalidId;

prefixed_id!(MerchantId, "mer");
prefixed_id!(CustomerId, "cus");
prefixed_id!(ChargeId, "chg");
prefixed_id!(PaymentId, "pay");
prefixed_id!(WalletId, "wal");
prefixed_id!(WebhookEndpointId, "we");
prefixed_id!(WebhookMessageId, "msg");
prefixed_id!(RefundId, "ref");
prefixed_id!(SubscriptionId, "sub");
prefixed_id!(PlanId, "plan");
prefixed_id!(ApiKeyId, "key");

impl WebhookMessageId {
    /// The same event for the same endpoint always gets the same id: a redelivered domain event maps onto the
    /// delivery made the first time, and receivers deduplicate by `webhook-id`.
    pub fn of(endpoint: &WebhookEndpointId, event_id: &str) -> Self {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(format!("{endpoint}/{event_id}").as_bytes());
        Self(format!("msg_{}", &hex::encode(h)[..32]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = ChargeId::generate();
        assert_eq!(ChargeId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_made_in_a_row_sort_in_that_order() {
        let ids: Vec<WalletId> = (0..1000).map(|_| WalletId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn rejects_ids_of_another_kind_or_with_separators() {
        assert!(ChargeId::parse("cus_01abc").is_err());
        assert!(ChargeId::parse("chg_01#x").is_err());
        assert!(ChargeId::parse("chg_").is_err());
    }
}
