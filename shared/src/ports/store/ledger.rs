//! The payments ledger, reversals waiting for their payment, unmatched payments.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::ids::{ChargeId, MerchantId};
use crate::domain::payment::{LedgerEntry, UnmatchedPayment};

/// The payments ledger as read back, and what waits beside it: reversals that came before their payment,
/// payments that matched no charge. (A payment is written by `ChargeStore::append_to_ledger`, with its charge.)
#[async_trait]
pub trait LedgerStore: Send + Sync {
    async fn ledger_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<LedgerEntry>>;
    /// A merchant's ledger entries whose money moved on São Paulo days `from..=to`, by day.
    async fn ledger_between(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<LedgerEntry>>;
    /// Keeps a refund or chargeback notice until the payment it reverses is on the ledger (they can arrive first).
    async fn add_pending_reversal(&self, notice: &crate::domain::payment_notice::PaymentNotice) -> StoreResult<()>;
    /// The reversals kept for a provider's payment id.
    async fn pending_reversals(&self, provider: &str, payment: &str) -> StoreResult<Vec<crate::domain::payment_notice::PaymentNotice>>;
    /// Keeps a payment that matched no charge, once per provider event.
    async fn put_unmatched(&self, unmatched: &UnmatchedPayment) -> StoreResult<bool>;
    /// Unmatched notices attributed to a merchant (CNAB imports), received on São Paulo days `from..=to`.
    async fn unmatched_of(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<UnmatchedPayment>>;
    async fn unmatched(&self, provider: &str) -> StoreResult<Vec<UnmatchedPayment>>;
}
