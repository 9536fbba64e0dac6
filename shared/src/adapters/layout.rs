//! The keys of the single-table layout (see `adapters::dynamodb`), shared with the in-memory store so it can
//! measure an item as DynamoDB would and refuse what DynamoDB refuses (`adapters::limits`).

use sha2::{Digest, Sha256};

use crate::domain::ids::{ChargeId, CustomerId, MerchantId};
use crate::ports::store::RulerScope;

pub fn merchant_pk(m: &MerchantId) -> String {
    format!("MER#{m}")
}

pub fn customer_pk(m: &MerchantId, c: &CustomerId) -> String {
    format!("MER#{m}#CUS#{c}")
}

pub fn charge_pk(m: &MerchantId, c: &ChargeId) -> String {
    format!("MER#{m}#CHG#{c}")
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Payment links are looked up by a hash of their token, so the key itself opens nothing.
pub fn payment_token_pk(token: &str) -> String {
    format!("PAYTOKEN#{}", sha256_hex(token))
}

pub fn ruler_key(scope: &RulerScope) -> (String, &'static str) {
    match scope {
        RulerScope::Merchant(m) => (merchant_pk(m), "RULER"),
        RulerScope::Customer(m, c) => (customer_pk(m, c), "RULER"),
    }
}

/// A queued re-plan's sort key (partition `REPLAN`): a merchant's job, then its customers' (ids have no `#`).
pub fn replan_sk(scope: &crate::service::schedule::ReplanScope) -> String {
    match scope {
        crate::service::schedule::ReplanScope::Merchant(m) => m.to_string(),
        crate::service::schedule::ReplanScope::Customer(m, c) => format!("{m}#CUS#{c}"),
    }
}

/// A provider's reference to a charge (boleto, card sale).
pub fn reference_pk(provider: &str, reference: &str) -> String {
    format!("REF#{provider}#{reference}")
}

/// A provider event already recorded on the ledger.
pub fn provider_event_pk(m: &MerchantId, provider: &str, event: &str) -> String {
    format!("MER#{m}#WHK#{provider}#{event}")
}

pub fn document_pk(m: &MerchantId) -> String {
    format!("MER#{m}#DOC")
}

pub fn suppressed_pk(m: &MerchantId) -> String {
    format!("MER#{m}#SUPPRESS")
}

pub fn sequence_pk(name: &str) -> String {
    format!("SEQ#{name}")
}

pub fn unmatched_pk(provider: &str) -> String {
    format!("UNMATCHED#{provider}")
}

/// An outbox entry's sort key (partition `OUTBOX`): one per charge and reminder.
pub fn outbox_sk(entry: &crate::domain::notification::OutboxEntry) -> String {
    format!("{}#{}", entry.charge_id, entry.reminder_id)
}
