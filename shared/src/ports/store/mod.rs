//! The storage port: one trait per aggregate, with the operations the use cases really need, and `Store`, all of
//! them together, for the callers that need several. Implemented by `adapters::memory` (tests, development) and
//! `adapters::dynamodb` (production); the conformance suite in `tests/store_conformance.rs` holds both to the same
//! behaviour.
//!
//! A method that writes several aggregates in one transaction belongs to the aggregate that owns the transaction:
//! `ChargeStore::create_charge` (a charge with its reminders) and `ChargeStore::append_to_ledger` (a payment with
//! the charge it settles).

mod api_keys;
mod charges;
mod customers;
mod idempotency;
mod ledger;
mod merchants;
mod notifications;
mod outbox;
mod reminders;
mod rulers;
mod subscriptions;
mod webhooks;

pub use api_keys::ApiKeyStore;
pub use charges::{CardAttemptStore, ChargeQuery, ChargeStore, PaymentRecorded, ProviderReferenceStore};
pub use customers::CustomerStore;
pub use idempotency::{IdempotencyBegin, IdempotencyStore, SavedResponse};
pub use ledger::LedgerStore;
pub use merchants::{DocumentStore, MerchantStore, WalletStore};
pub use notifications::{ContactCounter, ContactStore, NotificationStore};
pub use outbox::OutboxStore;
pub use reminders::{DueBucket, ReminderStore, DUE_SHARDS};
pub use rulers::{ReplanJobStore, RulerScope, RulerStore};
pub use subscriptions::SubscriptionStore;
pub use webhooks::{WebhookDeliveryStore, WebhookEndpointStore};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost to a concurrent one (optimistic concurrency): reload and retry.
    #[error("concurrent modification")]
    Conflict,
    /// The backend failed or is unreachable; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back: a bug or a manual edit.
    #[error("corrupt item {key}: {message}")]
    Corrupt { key: String, message: String },
    /// A page cursor this store did not issue for this query (a client's typo or forgery): the caller's mistake.
    #[error("invalid page cursor")]
    InvalidCursor,
    /// The write (or key) is over one of DynamoDB's hard limits (`adapters::limits`); retrying cannot help.
    /// Both stores refuse it alike, so an in-memory test cannot hide it.
    #[error("store limit exceeded: {0}")]
    LimitExceeded(Limit),
}

/// Which of DynamoDB's hard limits a write ran into (both stores refuse the same writes; the sizes are in
/// `adapters::limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    TransactionActions,
    BatchSize,
    ItemSize,
    KeySize,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TransactionActions => "more than 100 actions in one transaction",
            Self::BatchSize => "too many requests in one batch",
            Self::ItemSize => "item over 400 KB",
            Self::KeySize => "key over 2048 bytes (partition) or 1024 bytes (sort)",
        })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque; pass back to get the next page. None when there is no more.
    pub next: Option<String>,
}

/// Declares `Store` as the sum of the per-aggregate traits, listed once, and makes anything that implements all of
/// them a `Store`.
macro_rules! store_of {
    ($($aggregate:ident),+ $(,)?) => {
        /// Every aggregate's store: what a caller that needs several takes (`&dyn Store`). Anything that implements
        /// all the per-aggregate traits is one.
        pub trait Store: $($aggregate +)+ {}

        impl<T: $($aggregate +)+ ?Sized> Store for T {}
    };
}

store_of!(
    MerchantStore,
    WalletStore,
    DocumentStore,
    ApiKeyStore,
    CustomerStore,
    ChargeStore,
    ProviderReferenceStore,
    CardAttemptStore,
    ReminderStore,
    LedgerStore,
    RulerStore,
    ReplanJobStore,
    NotificationStore,
    ContactStore,
    WebhookEndpointStore,
    WebhookDeliveryStore,
    IdempotencyStore,
    SubscriptionStore,
    OutboxStore,
);
