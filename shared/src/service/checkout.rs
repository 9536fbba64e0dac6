//! Paying a charge, whoever asks (the merchant API or the payer's page): issuing what each method needs through
//! its wallet, the payer's choice of wallet, and card payments through the acquirer. Also the one view of what a
//! charge offers today (`payment_view`).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::domain::calendar;
use crate::domain::card_attempts::{CardAttempt, CardAttempts, Refusal};
use crate::domain::charge::payment_url;
use crate::domain::charge::{Charge, ChargeStatus, PaymentMethod};
use crate::domain::events::EventBus;
use crate::domain::ids::WalletId;
use crate::domain::merchant::Merchant;
use crate::domain::money::Money;
use crate::domain::pay::boleto::Linha;
use crate::domain::pay::installments::{card_plan, CardPlan};
use crate::domain::pay::late_fees::Unpriceable;
use crate::domain::pay::setup::{self, CardSetup, CobvSetup, PixSetup, Registration};
use crate::domain::payment_notice::PaymentNotice;
use crate::domain::wallet::{Wallet, WalletConfig};
use crate::ports::providers::{CardPaymentRequest, CardPaymentResult, ProviderError, Providers};
use crate::ports::queue::JobQueue;
use crate::ports::store::{Store, StoreError};
use crate::service::registration::{self, PaymentSetupJob, SetupTask};
use crate::service::settlement::{Settled, Settlement};

/// Shown while the bank registers a boleto (seed 002: the payer must wait before paying).
pub const BOLETO_REGISTERING_MESSAGE: &str = "Boleto em registro no banco: aguarde até 30 minutos para pagar.";

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("cobrança está {0} / charge is {0}")]
    NotOpen(&'static str),
    #[error("a cobrança não aceita cartão / the charge does not allow cards")]
    CardNotAllowed,
    #[error("outro pagamento com cartão desta cobrança está em andamento; aguarde o resultado / another card payment of this charge is in progress; wait for its outcome")]
    PaymentInProgress,
    /// `retry_at` None: the link's attempts are used up for good.
    #[error("{}", attempt_limit_message(*retry_at))]
    TooManyAttempts { retry_at: Option<DateTime<Utc>> },
    #[error("pagamento recusado pelo emissor ({code}: {message}) / payment declined by the issuer ({code}: {message})")]
    Declined { code: String, message: String },
    #[error(transparent)]
    Provider(ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

fn attempt_limit_message(retry_at: Option<DateTime<Utc>>) -> String {
    match retry_at {
        Some(at) => format!(
            "muitas tentativas com cartão nesta cobrança; tente de novo após {} / too many card attempts on this charge; retry after {}",
            at.with_timezone(&chrono_tz::America::Sao_Paulo).format("%H:%M"),
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => format!(
            "limite de {0} tentativas com cartão nesta cobrança atingido / this charge's limit of {0} card attempts is reached",
            crate::domain::card_attempts::TOTAL
        ),
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CheckoutError {
    CheckoutError::Invalid { field, message: message.into() }
}

/// A card payment as asked: the acquirer's token (never the card number), the brand it reported, the count.
#[derive(Debug, Clone)]
pub struct CardInput {
    pub token: String,
    pub brand: String,
    pub installments: u8,
}

/// An approved card payment.
#[derive(Debug, Clone)]
pub struct CardPaid {
    pub charge: Charge,
    pub provider_payment_id: String,
    pub authorization_code: String,
    pub installments: u8,
    pub plan: CardPlan,
    pub amount_due: Money,
}

pub struct Checkout<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn JobQueue,
    pub events: &'a dyn EventBus,
    pub providers: &'a Providers,
}

impl Checkout<'_> {
    /// Applying payments to charges, with the same store, queue and bus.
    pub fn settlement(&self) -> Settlement<'_> {
        Settlement { store: self.store, queue: self.queue, events: self.events }
    }

    /// Issues what the charge offers through `wallet`: a boleto (numbered in the agreement's sequence), the Pix
    /// code and its cobv, the card terms. Returns the registration jobs to queue once the charge is stored.
    pub async fn issue(&self, charge: &mut Charge, wallet: &Wallet, now: DateTime<Utc>) -> Result<Vec<PaymentSetupJob>, CheckoutError> {
        let job = |task| PaymentSetupJob { merchant_id: charge.merchant_id.clone(), charge_id: charge.id.clone(), task };
        match &wallet.config {
            WalletConfig::Pix(settings) => {
                let revision = charge.version.saturating_sub(1).min(u64::from(u16::MAX)) as u16;
                // A charge whose Pix cannot be made is not issued at all (never a silently missing code).
                let no_txid = |e: setup::NoTxidFor| CheckoutError::Internal(e.to_string());
                let static_txid = setup::static_txid(&charge.id).map_err(no_txid)?;
                let cobv = match settings.dynamic {
                    true => Some(CobvSetup {
                        txid: setup::cobv_txid(&charge.id, revision).map_err(no_txid)?,
                        location: None,
                        registration: Registration::Registering { since: now },
                    }),
                    false => None,
                };
                let jobs = cobv.iter().map(|c| job(SetupTask::RegisterCobv { txid: c.txid.clone() })).collect();
                charge.setup.pix = Some(PixSetup { wallet_id: wallet.id.clone(), txid: static_txid, cobv });
                Ok(jobs)
            }
            WalletConfig::Boleto(settings) => {
                let agreement = &settings.agreement;
                let sequence = self.store.next_sequence(&format!("boleto#{}#{}", agreement.convenio, agreement.carteira)).await?;
                let boleto = setup::issue_boleto(&wallet.id, agreement, sequence, charge.amount, charge.due_date.date(), now)
                    .map_err(|e| invalid("due_date", e.to_string()))?;
                let jobs = vec![job(SetupTask::RegisterBoleto { nosso_numero: boleto.nosso_numero.clone() })];
                charge.setup.boleto = Some(boleto);
                Ok(jobs)
            }
            WalletConfig::CreditCard(settings) => {
                if charge.max_installments > settings.max_installments {
                    return Err(invalid(
                        "max_installments",
                        format!(
                            "a carteira {0} aceita até {1} parcelas / wallet {0} allows up to {1} installments",
                            wallet.id, settings.max_installments
                        ),
                    ));
                }
                let fee_mode = charge.setup.card.as_ref().map(|c| c.fee_mode).unwrap_or(settings.fee_mode);
                charge.setup.card = Some(CardSetup { wallet_id: wallet.id.clone(), fee_mode, max_installments: charge.max_installments });
                Ok(vec![])
            }
        }
    }

    /// Queues registrations after the charge is stored. If the queue is down the artifacts stay `registering`;
    /// choosing the wallet again (`POST /v1/charges/{id}/wallet`) re-issues them.
    pub async fn queue_setup(&self, jobs: &[PaymentSetupJob]) {
        if let Err(e) = self.queue.enqueue_setup(jobs).await {
            tracing::error!(error = %e, jobs = jobs.len(), "payment setup not queued");
        }
    }

    /// The payer's choice among the charge's wallets: the method's artifact is issued anew through that
    /// wallet, and a boleto it replaces is written off. Choosing the current wallet re-issues only what never
    /// got registered.
    pub async fn choose_wallet(&self, before: Charge, wallet_id: &WalletId, now: DateTime<Utc>) -> Result<Charge, CheckoutError> {
        if !before.status.is_open() {
            return Err(CheckoutError::NotOpen(before.status.as_str()));
        }
        let not_allowed = || invalid("wallet_id", "carteira não permitida nesta cobrança / wallet not allowed for this charge");
        if !before.wallet_ids.contains(wallet_id) {
            return Err(not_allowed());
        }
        let wallet = self.store.get_wallet(&before.merchant_id, wallet_id).await?.ok_or_else(not_allowed)?;
        let current = match wallet.method() {
            PaymentMethod::Pix => before.setup.pix.as_ref().map(|p| &p.wallet_id),
            PaymentMethod::Boleto => before.setup.boleto.as_ref().map(|b| &b.wallet_id),
            PaymentMethod::CreditCard => before.setup.card.as_ref().map(|c| &c.wallet_id),
        };
        if current == Some(&wallet.id) {
            return Ok(before);
        }
        let mut charge = before.clone();
        charge.record_setup_change(now);
        let mut jobs = Vec::new();
        if wallet.method() == PaymentMethod::Boleto {
            jobs.extend(registration::supersede_boleto(&mut charge));
        }
        jobs.extend(self.issue(&mut charge, &wallet, now).await?);
        self.store.update_charge(&charge, before.version).await?;
        self.queue_setup(&jobs).await;
        Ok(charge)
    }

    /// Charges a card token for today's amount due, in installments, with the fee absorbed or passed on as the
    /// charge says. Approved → the charge is settled like any payment (receipt, régua stopped, boleto written off).
    ///
    /// One attempt at a time per charge: the attempt claims the charge (`card_attempts`, one conditional write)
    /// before the acquirer is called and reads the charge again under the claim, so a concurrent or repeated
    /// attempt never charges a card for what was just paid; the acquirer gets the attempt's stable key.
    pub async fn pay_by_card(&self, charge: Charge, card: &CardInput, merchant: &Merchant, now: DateTime<Utc>) -> Result<CardPaid, CheckoutError> {
        let setup = card_terms(&charge, card, now)?;
        let wallet = self
            .store
            .get_wallet(&charge.merchant_id, &setup.wallet_id)
            .await?
            .ok_or_else(|| CheckoutError::Internal("card wallet missing".into()))?;
        // A live merchant's card payment needs a real acquirer; a test one's never reaches one.
        let acquirer = self.providers.acquirer(merchant.mode, wallet.provider).map_err(CheckoutError::Provider)?;
        let (claim, attempt) = self.claim_card_attempt(&charge, wallet.provider, acquirer, now).await?;
        let (result, known) = self.card_attempt(&charge, &attempt, card, merchant, wallet.provider, acquirer, now).await;
        // An attempt whose fate at the acquirer is unknown keeps the claim: the next one, after the timeout, asks.
        if known {
            if let Some(released) = claim.end(&attempt) {
                if let Err(e) = self.store.put_card_attempts(&released, released.replaces()).await {
                    tracing::warn!(error = %e, charge_id = %charge.id, "card claim not released; it lapses after its timeout");
                }
            }
        }
        result
    }

    /// Takes the charge's card claim and counts the attempt; an abandoned claim's attempt is first looked up at
    /// the acquirer by its key and whatever it captured is applied.
    async fn claim_card_attempt(
        &self,
        charge: &Charge,
        provider: crate::ports::providers::Provider,
        acquirer: &dyn crate::ports::providers::Acquirer,
        now: DateTime<Utc>,
    ) -> Result<(CardAttempts, CardAttempt), CheckoutError> {
        for _ in 0..3 {
            let stored = self.store.get_card_attempts(&charge.merchant_id, &charge.id).await?;
            let attempts = stored.clone().unwrap_or_else(|| CardAttempts::none(&charge.merchant_id, &charge.id));
            if let Some(dead) = attempts.abandoned(now) {
                self.recover_card_attempt(charge, dead, provider, acquirer, now).await?;
            }
            let (claimed, attempt) = attempts.begin(now).map_err(|refusal| match refusal {
                Refusal::InProgress => CheckoutError::PaymentInProgress,
                Refusal::HourlyLimit { retry_at } => CheckoutError::TooManyAttempts { retry_at: Some(retry_at) },
                Refusal::TotalLimit => CheckoutError::TooManyAttempts { retry_at: None },
            })?;
            match self.store.put_card_attempts(&claimed, stored.map(|s| s.version)).await {
                Ok(()) => return Ok((claimed, attempt)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CheckoutError::PaymentInProgress)
    }

    /// What an attempt that died did at the acquirer, applied: its captured sales settle the charge as the
    /// acquirer's notification would have. An acquirer that cannot answer leaves the claim where it is.
    async fn recover_card_attempt(
        &self,
        charge: &Charge,
        dead: &CardAttempt,
        provider: crate::ports::providers::Provider,
        acquirer: &dyn crate::ports::providers::Acquirer,
        now: DateTime<Utc>,
    ) -> Result<(), CheckoutError> {
        let sales = acquirer.sales_of_order(&dead.key).await.map_err(CheckoutError::Provider)?;
        tracing::warn!(charge_id = %charge.id, key = %dead.key, sales = sales.len(), "taking over an abandoned card attempt");
        for sale in sales {
            self.store.link_provider_reference(provider.as_str(), &sale.provider_payment_id, &charge.merchant_id, &charge.id).await?;
            self.acquirer_notice(provider, &sale.provider_payment_id, SaleChange::Status, now).await?;
        }
        Ok(())
    }

    /// One claimed attempt, on the charge as stored now. Also says whether its outcome is known (false: the
    /// acquirer may have taken money we did not record).
    #[allow(clippy::too_many_arguments)]
    async fn card_attempt(
        &self,
        before: &Charge,
        attempt: &CardAttempt,
        card: &CardInput,
        merchant: &Merchant,
        provider: crate::ports::providers::Provider,
        acquirer: &dyn crate::ports::providers::Acquirer,
        now: DateTime<Utc>,
    ) -> (Result<CardPaid, CheckoutError>, bool) {
        let prepared = async {
            let charge =
                self.store.get_charge(&before.merchant_id, &before.id).await?.ok_or_else(|| CheckoutError::Internal("charge vanished".into()))?;
            let setup = card_terms(&charge, card, now)?;
            let wallet = self
                .store
                .get_wallet(&charge.merchant_id, &setup.wallet_id)
                .await?
                .ok_or_else(|| CheckoutError::Internal("card wallet missing".into()))?;
            let WalletConfig::CreditCard(settings) = &wallet.config else {
                return Err(CheckoutError::Internal("card wallet is not a card wallet".into()));
            };
            if wallet.provider != provider {
                // The payer chose another card wallet meanwhile: this attempt was claimed for the other acquirer.
                return Err(invalid("wallet_id", "a carteira de cartão mudou; tente de novo / the card wallet changed; please retry"));
            }
            let due = amount_today(&charge, now)?;
            let plan = card_plan(due, card.installments, &settings.fees, setup.fee_mode).map_err(|e| invalid("installments", e.to_string()))?;
            let customer = self
                .store
                .get_customer(&charge.merchant_id, &charge.customer_id)
                .await?
                .ok_or_else(|| CheckoutError::Internal("customer missing".into()))?;
            Ok((charge, due, plan, customer))
        };
        let (charge, due, plan, customer) = match prepared.await {
            Ok(p) => p,
            Err(e) => return (Err(e), true),
        };
        let request = CardPaymentRequest {
            order_id: attempt.key.clone(),
            payer_name: customer.name.as_str().to_string(),
            total: plan.total_charged,
            installments: card.installments,
            card_token: card.token.clone(),
            brand: card.brand.clone(),
            soft_descriptor: merchant.name.clone(),
        };
        let (provider_payment_id, authorization_code) = match acquirer.pay(&request).await {
            Ok(CardPaymentResult::Declined { code, message, .. }) => return (Err(CheckoutError::Declined { code, message }), true),
            Ok(CardPaymentResult::Approved { provider_payment_id, authorization_code }) => (provider_payment_id, authorization_code),
            Err(e @ ProviderError::Rejected { .. }) => return (Err(CheckoutError::Provider(e)), true),
            Err(e) => return (Err(CheckoutError::Provider(e)), false),
        };
        let recorded = async {
            // The acquirer's later notifications name only its payment id: remember whose it is.
            self.store.link_provider_reference(provider.as_str(), &provider_payment_id, &charge.merchant_id, &charge.id).await?;
            let notice = PaymentNotice {
                event_id: format!("card:{provider_payment_id}"),
                provider: provider.as_str().into(),
                charge_id: Some(charge.id.clone()),
                raw_charge_ref: charge.id.to_string(),
                // The charge is settled by what it owed; a passed-on fee is the acquirer's, not the merchant's.
                amount: due,
                paid_at: now,
                method: PaymentMethod::CreditCard,
                provider_payment_id: provider_payment_id.clone(),
                kind: crate::domain::payment::EntryKind::Payment,
                reverses: None,
                merchant_id: Some(charge.merchant_id.clone()),
            };
            let raw = json!({"provider_payment_id": provider_payment_id, "authorization_code": authorization_code, "installments": card.installments, "total": plan.total_charged}).to_string();
            match self.settlement().apply(&notice, &raw, now).await.map_err(|e| CheckoutError::Internal(e.to_string()))? {
                Settled::Paid { charge }
                | Settled::Duplicate { charge }
                | Settled::Recorded { charge, .. }
                | Settled::Reversed { charge, .. }
                | Settled::AwaitingPayment { charge } => Ok(charge),
                Settled::Unmatched => Err(CheckoutError::Internal("card payment for a charge that vanished".into())),
            }
        };
        match recorded.await {
            Ok(charge) => {
                (Ok(CardPaid { charge, provider_payment_id, authorization_code, installments: card.installments, plan, amount_due: due }), true)
            }
            // Captured but not recorded: the claim stays, and the attempt that takes it over records the sale.
            Err(e) => (Err(e), false),
        }
    }
}

/// What a card payment of `charge` may be, checked before any store or acquirer call: the charge open and
/// payable, cards allowed, a token, a brand and an allowed count of installments.
fn card_terms(charge: &Charge, card: &CardInput, now: DateTime<Utc>) -> Result<CardSetup, CheckoutError> {
    if !charge.status.is_open() {
        return Err(CheckoutError::NotOpen(charge.status.as_str()));
    }
    if !charge.payable_at(now) {
        return Err(CheckoutError::NotOpen(ChargeStatus::Expired.as_str()));
    }
    let setup = charge.setup.card.clone().ok_or(CheckoutError::CardNotAllowed)?;
    if card.token.is_empty() || card.token.len() > 100 {
        return Err(invalid("card_token", "token do cartão obrigatório / card token required"));
    }
    if !(2..=20).contains(&card.brand.len()) {
        return Err(invalid("brand", "bandeira obrigatória (Visa, Master, Elo…) / card brand required"));
    }
    if !(1..=setup.max_installments).contains(&card.installments) {
        return Err(invalid("installments", format!("parcelas de 1 a {0} / installments from 1 to {0}", setup.max_installments)));
    }
    Ok(setup)
}

/// What an acquirer's notification says changed (Cielo's `ChangeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleChange {
    /// Captured, refused, voided or refunded (in full or in part): read the sale to know which.
    Status,
    /// The payer disputed it with their bank.
    Chargeback,
}

impl Checkout<'_> {
    /// Applies an acquirer's notification about one of our card sales. The notification is only a hint (and
    /// could be forged): what is applied is what the acquirer itself answers about the sale, by its id.
    /// Captures already recorded are recognised by payment id; each refund increment is applied once (its id
    /// is the cumulative voided amount); a refusal, authorization or pending state moves no money.
    pub async fn acquirer_notice(
        &self,
        provider: crate::ports::providers::Provider,
        payment_id: &str,
        change: SaleChange,
        now: DateTime<Utc>,
    ) -> Result<Vec<Settled>, CheckoutError> {
        use crate::domain::payment::EntryKind;
        use crate::ports::providers::SaleStatus;
        let Some((merchant_id, charge_id)) = self.store.charge_of_provider_reference(provider.as_str(), payment_id).await? else {
            tracing::warn!(provider = provider.as_str(), %payment_id, "acquirer notification for a sale we did not make");
            return Ok(vec![Settled::Unmatched]);
        };
        let mode = self.store.get_merchant(&merchant_id).await?.map_or(crate::domain::merchant::Mode::unstated(), |m| m.mode);
        let sale =
            self.providers.acquirer(mode, provider).map_err(CheckoutError::Provider)?.sale(payment_id).await.map_err(CheckoutError::Provider)?;
        let ledger = self.store.ledger_of(&merchant_id, &charge_id).await?;
        let notice = |event: String, kind: EntryKind, id: String, amount: Money, at: Option<DateTime<Utc>>| PaymentNotice {
            event_id: event,
            provider: provider.as_str().into(),
            charge_id: Some(charge_id.clone()),
            raw_charge_ref: charge_id.to_string(),
            amount,
            paid_at: at.unwrap_or(now),
            method: PaymentMethod::CreditCard,
            provider_payment_id: id,
            kind,
            reverses: kind.is_reversal().then(|| payment_id.to_string()),
            merchant_id: Some(merchant_id.clone()),
        };
        let mut notices = Vec::new();
        if matches!(sale.status, SaleStatus::Captured | SaleStatus::Voided) {
            let captured = sale.captured.unwrap_or(sale.amount);
            notices.push(notice(
                format!("{}:{payment_id}:captured", provider.as_str()),
                EntryKind::Payment,
                payment_id.to_string(),
                captured,
                sale.captured_at,
            ));
            let voided = sale.voided.or((sale.status == SaleStatus::Voided).then_some(captured));
            let already = crate::domain::payment::reversed_of(&ledger, provider.as_str(), payment_id);
            if let Some(voided) = voided.filter(|v| v.as_decimal() > already) {
                let increment = Money::from_decimal(voided.as_decimal() - already).map_err(|e| CheckoutError::Internal(e.to_string()))?;
                let id = format!("{payment_id}:voided:{}", voided.cents());
                notices.push(notice(format!("{}:{id}", provider.as_str()), EntryKind::Refund, id, increment, sale.voided_at));
            }
            if change == SaleChange::Chargeback {
                let left = captured.as_decimal() - voided.map_or(rust_decimal::Decimal::ZERO, |v| v.as_decimal());
                if let Ok(amount) = Money::from_decimal(left) {
                    let id = format!("{payment_id}:chargeback");
                    notices.push(notice(format!("{}:{id}", provider.as_str()), EntryKind::Chargeback, id, amount, Some(now)));
                }
            }
        } else {
            tracing::info!(provider = provider.as_str(), %payment_id, status = ?sale.status, "card sale without money moved");
        }
        let mut out = Vec::new();
        let raw = format!("{{\"PaymentId\":\"{payment_id}\",\"status\":\"{:?}\"}}", sale.status);
        for n in &notices {
            out.push(self.settlement().apply(n, &raw, now).await.map_err(|e| CheckoutError::Internal(e.to_string()))?);
        }
        Ok(out)
    }
}

/// What is left to pay today (São Paulo), as money.
pub fn amount_today(charge: &Charge, now: DateTime<Utc>) -> Result<Money, CheckoutError> {
    let balance = charge.balance_due(calendar::local_date(now)).map_err(|e| CheckoutError::Invalid { field: "late_fees", message: e.to_string() })?;
    Money::from_decimal(balance).map_err(|e| CheckoutError::Internal(e.to_string()))
}

/// `amount_due`, `late_fees`, `expires_at`, `wallets` and one object per offered method, as of `now`.
pub fn payment_view(c: &Charge, wallets: &[Wallet], merchant: &Merchant, base_url: &str, now: DateTime<Utc>) -> Result<Value, Unpriceable> {
    let today = calendar::local_date(now);
    let due = c.amount_due(today)?;
    let balance = c.balance_due(today)?;
    let payable = c.payable_at(now);
    let base = payment_url(base_url, &c.payment_token);
    // A wallet the merchant's mode does not serve (a live merchant's sandbox wallet from before modes) offers nothing.
    let wallet = |id: &WalletId| wallets.iter().find(|w| &w.id == id && merchant.mode.serves(w.provider));
    let amount_today = Money::from_decimal(balance).ok();

    let pix = c.setup.pix.as_ref().and_then(|p| {
        let WalletConfig::Pix(settings) = &wallet(&p.wallet_id)?.config else { return None };
        let code = match amount_today.filter(|_| payable).map(|amount| setup::pix_code(p, settings, &merchant.name, amount)) {
            Some(Ok(code)) => Some(code),
            None => None,
            // Said loudly: in the log and in the view (`error`), never a silently missing copia-e-cola.
            Some(Err(e)) => {
                tracing::error!(charge_id = %c.id, error = %e, "pix code cannot be made");
                return Some(json!({"wallet_id": p.wallet_id, "txid": p.txid, "copy_paste": null, "error": {"code": "pix_unavailable", "message": e.to_string()}}));
            }
        };
        Some(json!({
            "wallet_id": p.wallet_id,
            "kind": if code.as_ref().is_some_and(|c| c.amount().is_none()) { "dynamic" } else { "static" },
            "txid": p.txid,
            "copy_paste": code.as_ref().map(|c| c.payload()),
            "amount": amount_today,
            "qr_code_url": format!("{base}/pix.svg"),
            "qr_code_png_url": format!("{base}/pix.png"),
            "cobv": p.cobv.as_ref().map(|cv| json!({"txid": cv.txid, "status": cv.registration.as_str(), "location": cv.location, "registration": cv.registration})),
        }))
    });
    let boleto = c.setup.boleto.as_ref().map(|b| {
        let registering = matches!(b.registration, Registration::Registering { .. });
        json!({
            "wallet_id": b.wallet_id,
            "bank": b.bank,
            "nosso_numero": b.nosso_numero,
            "digitable_line": b.digitable_line,
            "digitable_line_formatted": Linha::parse(&b.digitable_line).map(|l| l.formatted()).ok(),
            "barcode": b.barcode,
            "amount": b.amount,
            "due_date": b.due_date,
            "status": b.registration.as_str(),
            "registration": b.registration,
            "message": registering.then_some(BOLETO_REGISTERING_MESSAGE),
            "pix_copy_paste": b.pix_copy_paste,
            "barcode_svg_url": format!("{base}/boleto.svg"),
            "print_url": format!("{base}/boleto"),
        })
    });
    let card = c.setup.card.as_ref().and_then(|card| {
        let WalletConfig::CreditCard(settings) = &wallet(&card.wallet_id)?.config else { return None };
        let options = amount_today.and_then(|a| setup::installment_options(a, settings, card).ok()).unwrap_or_default();
        Some(json!({"wallet_id": card.wallet_id, "fee_mode": card.fee_mode, "max_installments": card.max_installments, "installment_options": options}))
    });
    let options: Vec<Value> =
        c.wallet_ids.iter().filter_map(wallet).map(|w| json!({"id": w.id, "name": w.name, "method": w.method(), "provider": w.provider})).collect();
    Ok(json!({
        "amount_due": due,
        "received": c.received,
        "refunded": c.refunded,
        "balance_due": balance,
        "credit": c.credit,
        "late_fees": c.late_fees,
        "expires_at": c.expires_at,
        "wallets": options,
        "pix": pix,
        "boleto": boleto,
        "card": card,
    }))
}

/// The first wallet of each allowed method: what a new charge issues through.
pub fn default_wallets(methods: &[PaymentMethod], wallets: &[Wallet]) -> Vec<Wallet> {
    methods.iter().filter_map(|m| wallets.iter().find(|w| w.method() == *m).cloned()).collect()
}
