//! `CardPaymentApproved`: the answer to a card payment the acquirer approved (a refusal is an `Error`).

use serde::Serialize;
use utoipa::ToSchema;

use super::object_kind;
use crate::domain::charge::ChargeStatus;
use crate::domain::ids::ChargeId;
use crate::domain::money::Money;
use crate::service::checkout::CardPaid;

object_kind!(CardPaymentObject = "card_payment");
object_kind!(Approved = "approved");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CardPaymentApproved {
    #[schema(inline)]
    pub object: CardPaymentObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    #[schema(inline)]
    pub status: Approved,
    #[schema(value_type = String)]
    pub charge_id: ChargeId,
    /// The charge's status after the payment.
    #[schema(value_type = String)]
    pub charge_status: ChargeStatus,
    /// The acquirer's id of the sale.
    pub provider_payment_id: String,
    pub authorization_code: String,
    pub installments: u8,
    /// Each installment's amount, fees included when the payer pays them.
    #[schema(value_type = Vec<String>)]
    pub installment_amounts: Vec<Money>,
    /// What the card was charged in all.
    #[schema(value_type = String)]
    pub total: Money,
    /// What was left to pay on the charge today, before card fees.
    #[schema(value_type = String)]
    pub amount_due: Money,
}

impl CardPaymentApproved {
    pub(crate) fn of(paid: &CardPaid, livemode: bool) -> Self {
        Self {
            object: CardPaymentObject::Is,
            livemode,
            status: Approved::Is,
            charge_id: paid.charge.id.clone(),
            charge_status: paid.charge.status,
            provider_payment_id: paid.provider_payment_id.clone(),
            authorization_code: paid.authorization_code.clone(),
            installments: paid.installments,
            installment_amounts: paid.plan.installments.clone(),
            total: paid.plan.total_charged,
            amount_due: paid.amount_due,
        }
    }
}
