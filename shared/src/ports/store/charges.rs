//! Charges, the provider references that lead to them, and their card attempts.

use async_trait::async_trait;

use super::{Page, StoreResult};
use crate::domain::charge::Charge;
use crate::domain::ids::{ChargeId, CustomerId, MerchantId};
use crate::domain::payment::LedgerEntry;
use crate::domain::ruler::Reminder;

/// Which of a merchant's charges a listing returns, ordered by due date then id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargeQuery {
    pub status: Option<crate::domain::charge::ChargeStatus>,
    pub customer: Option<CustomerId>,
    /// Due on or after this São Paulo date.
    pub due_from: Option<chrono::NaiveDate>,
    /// Due on or before this São Paulo date.
    pub due_to: Option<chrono::NaiveDate>,
}

impl ChargeQuery {
    pub fn matches(&self, c: &Charge) -> bool {
        self.status.is_none_or(|s| c.status == s)
            && self.customer.as_ref().is_none_or(|id| &c.customer_id == id)
            && self.due_from.is_none_or(|d| c.due_date.date() >= d)
            && self.due_to.is_none_or(|d| c.due_date.date() <= d)
    }
}

/// What `append_to_ledger` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRecorded {
    /// New payment stored (and the charge updated as asked).
    Recorded,
    /// This provider event or provider payment id was already recorded: nothing changed.
    Duplicate,
}

/// Charges. The charge owns the transactions that write more than itself: `create_charge` stores it with
/// its planned reminders, its owner and its payment link; `append_to_ledger` records a payment on its ledger and,
/// when the payment settles it, the charge's new state, all or nothing.
#[async_trait]
pub trait ChargeStore: Send + Sync {
    /// Stores a new charge with all its planned reminders, all or nothing.
    async fn create_charge(&self, charge: &Charge, reminders: &[Reminder]) -> StoreResult<()>;
    async fn get_charge(&self, merchant: &MerchantId, id: &ChargeId) -> StoreResult<Option<Charge>>;
    /// Whose charge this is, for callers that know only the charge id (payment providers).
    async fn charge_owner(&self, id: &ChargeId) -> StoreResult<Option<MerchantId>>;
    /// The charge behind a payment link (the payer's page knows only the token).
    async fn charge_by_payment_token(&self, token: &str) -> StoreResult<Option<Charge>>;
    /// Replaces the charge if its stored version is `expected_version` (the new one carries version + 1).
    async fn update_charge(&self, charge: &Charge, expected_version: u64) -> StoreResult<()>;
    /// Open (pending or overdue) charges of a merchant, oldest due first, page by page.
    async fn open_charges(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>>;
    async fn charges_of_customer(&self, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Vec<Charge>>;
    /// A merchant's charges that fit `query`, by due date then id, through an index (never a Scan). A page may
    /// hold fewer than `limit` items (a status filter is applied after the index reads `limit`); follow `next`.
    async fn list_charges(&self, merchant: &MerchantId, query: &ChargeQuery, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>>;
    /// Records a payment once per provider event id and once per provider payment id; when `settled` is
    /// given, also replaces the charge (conditional on `expected_version`) in the same transaction.
    async fn append_to_ledger(&self, payment: &LedgerEntry, settled: Option<(&Charge, u64)>) -> StoreResult<PaymentRecorded>;
}

/// What the payment providers' references need: the charge a reference belongs to (a boleto's bank + nosso
/// número, a card sale's acquirer + payment id), and the sequences that number them.
#[async_trait]
pub trait ProviderReferenceStore: Send + Sync {
    /// Remembers which charge a provider's reference belongs to: a boleto's bank + nosso número (for return
    /// files), a card sale's acquirer + payment id (for the acquirer's notifications).
    async fn link_provider_reference(&self, provider: &str, reference: &str, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<()>;
    async fn charge_of_provider_reference(&self, provider: &str, reference: &str) -> StoreResult<Option<(MerchantId, ChargeId)>>;
    /// The next number of a named sequence (1, 2, 3…), atomically: boleto nossos números per agreement.
    async fn next_sequence(&self, name: &str) -> StoreResult<u64>;
}

/// Card payments tried on a charge (`card_attempts::CardAttempts`), kept apart from the charge so a claim is one
/// conditional write of its own.
#[async_trait]
pub trait CardAttemptStore: Send + Sync {
    /// A charge's card attempts (`card_attempts`): its claim and counts.
    async fn get_card_attempts(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Option<crate::domain::card_attempts::CardAttempts>>;
    /// Stores a charge's card attempts: new (`expected_version` None; Conflict if stored) or replacing the stored
    /// ones of that version, else Conflict. The one conditional write that makes a claim.
    async fn put_card_attempts(&self, attempts: &crate::domain::card_attempts::CardAttempts, expected_version: Option<u64>) -> StoreResult<()>;
}
