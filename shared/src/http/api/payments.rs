//! The payment side of the merchant API: billing wallets, what a charge offers the payer per method (Pix,
//! boleto, card installments), the payer's choice of wallet, and card payments through the acquirer.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::requests::{self, CardPayment, WalletChoice, WalletInput};
use super::views;
use super::{Api, ApiError, ApiRequest, ApiResponse};
use crate::domain::charge::payment_url;
use crate::domain::charge::Charge;
use crate::domain::ids::WalletId;
use crate::domain::merchant::Merchant;
use crate::domain::wallet::Wallet;
use crate::ports::providers::ProviderError;
use crate::service::checkout::{payment_view, CardInput, Checkout, CheckoutError};

impl From<CheckoutError> for ApiError {
    fn from(e: CheckoutError) -> Self {
        match e {
            CheckoutError::Invalid { field, message } => ApiError::invalid(field, message),
            CheckoutError::NotOpen(_) => ApiError::new(409, "charge_not_open", e.to_string()),
            CheckoutError::CardNotAllowed => ApiError::new(409, "method_not_allowed", e.to_string()),
            CheckoutError::PaymentInProgress => ApiError::new(409, "payment_in_progress", e.to_string()),
            CheckoutError::TooManyAttempts { .. } => ApiError::new(429, "too_many_card_attempts", e.to_string()),
            CheckoutError::Declined { .. } => ApiError::new(402, "card_declined", e.to_string()),
            CheckoutError::Provider(ProviderError::Rejected { code, message }) => {
                ApiError::new(422, "provider_rejected", format!("recusado pelo provedor / rejected by the provider: {code}: {message}"))
            }
            CheckoutError::Provider(ProviderError::Unavailable(m)) => {
                tracing::warn!(error = %m, "provider unavailable");
                ApiError::new(
                    503,
                    "provider_unavailable",
                    "provedor de pagamento indisponível, tente novamente / payment provider unavailable, please retry",
                )
            }
            CheckoutError::Store(e) => e.into(),
            CheckoutError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl Api<'_> {
    pub(super) async fn create_wallet(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: WalletInput = requests::parse(&req.body)?;
        let wallet = Wallet::parse(&body.to_value(), &merchant.id, merchant.mode, now).map_err(|e| ApiError::invalid(&e.field, e.message))?;
        self.store.put_wallet(&wallet).await?;
        Ok(ApiResponse::json(201, &views::Wallet::of(&wallet, merchant.mode.is_live())))
    }

    pub(super) async fn list_wallets(&self, merchant: &Merchant) -> Result<ApiResponse, ApiError> {
        let wallets = self.store.wallets_of(&merchant.id).await?;
        let data = wallets.iter().map(|w| views::Wallet::of(w, merchant.mode.is_live())).collect();
        Ok(ApiResponse::json(200, &views::ListOf::whole(data)))
    }

    pub(super) async fn get_wallet(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "carteira não encontrada / wallet not found");
        let id = WalletId::parse(id).map_err(|_| not_found())?;
        let wallet = self.store.get_wallet(&merchant.id, &id).await?.ok_or_else(not_found)?;
        Ok(ApiResponse::json(200, &views::Wallet::of(&wallet, merchant.mode.is_live())))
    }

    pub(super) fn checkout(&self) -> Checkout<'_> {
        Checkout { store: self.store, queue: self.queue, events: self.events, providers: self.providers }
    }

    /// `POST /v1/charges/{id}/wallet` `{"wallet_id"}`: the payer's choice among the charge's wallets.
    pub(super) async fn choose_wallet(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: WalletChoice = requests::parse(&req.body)?;
        let before = self.open_charge(merchant, id).await?;
        let wallet_id = body
            .wallet_id
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|s| WalletId::parse(s).ok())
            .ok_or_else(|| ApiError::invalid("wallet_id", "carteira não permitida nesta cobrança / wallet not allowed for this charge"))?;
        let charge = self.checkout().choose_wallet(before, &wallet_id, now).await?;
        let reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// `POST /v1/charges/{id}/card-payments` `{"card_token","brand","installments"}`: a token from the acquirer's
    /// tokenization (we never see the card number) → 201 with the installments, or 402 when declined.
    pub(super) async fn pay_by_card(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: CardPayment = requests::parse(&req.body)?;
        let charge = self.open_charge(merchant, id).await?;
        let card = CardInput {
            token: body.card_token.as_ref().and_then(Value::as_str).unwrap_or_default().to_string(),
            brand: body.brand.as_ref().and_then(Value::as_str).unwrap_or_default().to_string(),
            installments: body.installments.as_ref().and_then(Value::as_u64).and_then(|n| u8::try_from(n).ok()).unwrap_or(0),
        };
        let paid = match self.checkout().pay_by_card(charge, &card, merchant, now).await {
            Ok(paid) => paid,
            Err(CheckoutError::TooManyAttempts { retry_at: Some(at) }) => {
                let mut r = ApiError::from(CheckoutError::TooManyAttempts { retry_at: Some(at) }).into_response();
                r.headers = vec![("retry-after", (at - now).num_seconds().max(1).to_string())];
                return Ok(r);
            }
            Err(e) => return Err(e.into()),
        };
        Ok(ApiResponse::json(201, &views::CardPaymentApproved::of(&paid, merchant.mode.is_live())))
    }

    /// The charge as the API shows it: its numbers, today's amount due and what the payer can pay with.
    /// `merchant` is the authenticated one, who owns `c`: no second read of it.
    pub(super) async fn charge_view(
        &self,
        merchant: &Merchant,
        c: &Charge,
        reminders: &[crate::domain::ruler::Reminder],
        now: DateTime<Utc>,
    ) -> Result<views::Charge, ApiError> {
        let wallets = self.store.wallets_of(&c.merchant_id).await?;
        let payment = payment_view(c, &wallets, merchant, self.public_base_url, now)?;
        let url = payment_url(self.public_base_url, &c.payment_token);
        Ok(views::Charge::summary(c, url, merchant.mode.is_live()).with_reminders(reminders).with_payment(payment))
    }
}
