//! The payment side of the merchant API: billing wallets, what a charge offers the payer per method (Pix,
//! boleto, card installments), the payer's choice of wallet, and card payments through the acquirer.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{json_object, reject_unknown, Api, ApiError, ApiRequest, ApiResponse};
use crate::calendar;
use crate::charge::{Charge, PaymentMethod};
use crate::delivery::payment_url;
use crate::ids::{PaymentId, WalletId};
use crate::merchant::Merchant;
use crate::money::Money;
use crate::pay::boleto::Linha;
use crate::pay::installments::card_plan;
use crate::pay::setup::{self, CardSetup, CobvSetup, PixSetup, Registration};
use crate::providers::{CardPaymentRequest, CardPaymentResult, ProviderError};
use crate::registration::{PaymentSetupJob, SetupTask};
use crate::settlement::Settled;
use crate::wallet::{Wallet, WalletConfig};
use crate::webhook::PaymentNotice;

/// Shown while the bank registers a boleto (seed 002: the payer must wait before paying).
pub const BOLETO_REGISTERING_MESSAGE: &str = "Boleto em registro no banco: aguarde até 30 minutos para pagar.";

impl Api<'_> {
    pub(super) async fn create_wallet(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = Value::Object(json_object(&req.body)?);
        let wallet = Wallet::parse(&body, &merchant.id, now).map_err(|e| ApiError::invalid(&e.field, e.message))?;
        self.store.put_wallet(&wallet).await?;
        Ok(ApiResponse::json(201, &wallet_json(&wallet)))
    }

    pub(super) async fn list_wallets(&self, merchant: &Merchant) -> Result<ApiResponse, ApiError> {
        let wallets = self.store.wallets_of(&merchant.id).await?;
        Ok(ApiResponse::json(200, &json!({"object": "list", "data": wallets.iter().map(wallet_json).collect::<Vec<_>>()})))
    }

    pub(super) async fn get_wallet(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "carteira não encontrada / wallet not found");
        let id = WalletId::parse(id).map_err(|_| not_found())?;
        let wallet = self.store.get_wallet(&merchant.id, &id).await?.ok_or_else(not_found)?;
        Ok(ApiResponse::json(200, &wallet_json(&wallet)))
    }

    /// The wallets a new charge may use: the ones it names (`wallet_ids`), else all of the merchant's; each
    /// allowed method needs at least one, and a named wallet must serve an allowed method.
    pub(super) async fn wallets_for(&self, merchant: &Merchant, methods: &[PaymentMethod], requested: Option<&Value>) -> Result<Vec<Wallet>, ApiError> {
        let all = self.store.wallets_of(&merchant.id).await?;
        let chosen: Vec<Wallet> = match requested {
            None | Some(Value::Null) => all.into_iter().filter(|w| methods.contains(&w.method())).collect(),
            Some(Value::Array(ids)) => {
                let mut out = Vec::new();
                for id in ids {
                    let wallet = id
                        .as_str()
                        .and_then(|s| WalletId::parse(s).ok())
                        .and_then(|id| all.iter().find(|w| w.id == id))
                        .ok_or_else(|| ApiError { status: 422, code: "wallet_not_found", message: format!("carteira não encontrada / wallet not found: {id}"), field: Some("wallet_ids".into()) })?;
                    if !methods.contains(&wallet.method()) {
                        return Err(ApiError::invalid("wallet_ids", format!("a carteira {} é de {}, que a cobrança não aceita / wallet {} is for {}, which the charge does not allow", wallet.id, wallet.method().as_str(), wallet.id, wallet.method().as_str())));
                    }
                    if !out.iter().any(|w: &Wallet| w.id == wallet.id) {
                        out.push(wallet.clone());
                    }
                }
                out
            }
            Some(_) => return Err(ApiError::invalid("wallet_ids", "lista de ids de carteira / list of wallet ids")),
        };
        if let Some(m) = methods.iter().find(|m| !chosen.iter().any(|w| w.method() == **m)) {
            return Err(ApiError {
                status: 422,
                code: "no_wallet_for_method",
                message: format!("nenhuma carteira de {0} cadastrada: crie uma em POST /v1/wallets / no {0} wallet: create one with POST /v1/wallets", m.as_str()),
                field: Some("payment_methods".into()),
            });
        }
        Ok(chosen)
    }

    /// Issues what the charge offers through `wallet`: a boleto (numbered in the agreement's sequence), the Pix
    /// code and its cobv, the card terms. Returns the registration jobs to queue once the charge is stored.
    pub(super) async fn issue(&self, charge: &mut Charge, wallet: &Wallet, now: DateTime<Utc>) -> Result<Vec<PaymentSetupJob>, ApiError> {
        let job = |task| PaymentSetupJob { merchant_id: charge.merchant_id.clone(), charge_id: charge.id.clone(), task };
        match &wallet.config {
            WalletConfig::Pix(settings) => {
                let revision = charge.version.saturating_sub(1).min(u64::from(u16::MAX)) as u16;
                let cobv = settings.dynamic.then(|| CobvSetup {
                    txid: setup::cobv_txid(&charge.id, revision),
                    location: None,
                    registration: Registration::Registering { since: now },
                });
                let jobs = cobv.iter().map(|c| job(SetupTask::RegisterCobv { txid: c.txid.clone() })).collect();
                charge.setup.pix = Some(PixSetup { wallet_id: wallet.id.clone(), txid: setup::static_txid(&charge.id), cobv });
                Ok(jobs)
            }
            WalletConfig::Boleto(settings) => {
                let agreement = &settings.agreement;
                let sequence = self.store.next_sequence(&format!("boleto#{}#{}", agreement.convenio, agreement.carteira)).await?;
                let boleto = setup::issue_boleto(&wallet.id, agreement, sequence, charge.amount, charge.due_date.date(), now)
                    .map_err(|e| ApiError::invalid("due_date", e))?;
                let jobs = vec![job(SetupTask::RegisterBoleto { nosso_numero: boleto.nosso_numero.clone() })];
                charge.setup.boleto = Some(boleto);
                Ok(jobs)
            }
            WalletConfig::CreditCard(settings) => {
                if charge.max_installments > settings.max_installments {
                    return Err(ApiError::invalid("max_installments", format!("a carteira {} aceita até {} parcelas / wallet {} allows up to {} installments", wallet.id, settings.max_installments, wallet.id, settings.max_installments)));
                }
                let fee_mode = charge.setup.card.as_ref().map(|c| c.fee_mode).unwrap_or(settings.fee_mode);
                charge.setup.card = Some(CardSetup { wallet_id: wallet.id.clone(), fee_mode, max_installments: charge.max_installments });
                Ok(vec![])
            }
        }
    }

    /// Queues registrations after the charge is stored. If the queue is down the artifacts stay
    /// `registering`; the merchant can re-issue them with `POST /v1/charges/{id}/wallet`.
    pub(super) async fn queue_setup(&self, jobs: &[PaymentSetupJob]) {
        if let Err(e) = self.queue.enqueue_setup(jobs).await {
            tracing::error!(error = %e, jobs = jobs.len(), "payment setup not queued");
        }
    }

    /// `POST /v1/charges/{id}/wallet` `{"wallet_id"}`: the payer's choice among the charge's wallets. The
    /// method's artifact is issued anew through that wallet; a boleto it replaces is written off.
    pub(super) async fn choose_wallet(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        reject_unknown(&body, &["wallet_id"], "")?;
        let before = self.open_charge(merchant, id).await?;
        let wallet_id = body
            .get("wallet_id")
            .and_then(Value::as_str)
            .and_then(|s| WalletId::parse(s).ok())
            .filter(|w| before.wallet_ids.contains(w))
            .ok_or_else(|| ApiError::invalid("wallet_id", "carteira não permitida nesta cobrança / wallet not allowed for this charge"))?;
        let wallet = self.store.get_wallet(&merchant.id, &wallet_id).await?.ok_or_else(|| ApiError::invalid("wallet_id", "carteira não encontrada / wallet not found"))?;
        let current = match wallet.method() {
            PaymentMethod::Pix => before.setup.pix.as_ref().map(|p| &p.wallet_id),
            PaymentMethod::Boleto => before.setup.boleto.as_ref().map(|b| &b.wallet_id),
            PaymentMethod::CreditCard => before.setup.card.as_ref().map(|c| &c.wallet_id),
        };
        let mut charge = before.clone();
        let mut jobs = Vec::new();
        if current != Some(&wallet.id) {
            charge.version += 1;
            charge.updated_at = now;
            if wallet.method() == PaymentMethod::Boleto {
                jobs.extend(crate::registration::supersede_boleto(&mut charge));
            }
            jobs.extend(self.issue(&mut charge, &wallet, now).await?);
            self.store.update_charge(&charge, before.version).await?;
            self.queue_setup(&jobs).await;
        }
        let reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(&charge, &reminders, now).await?))
    }

    /// `POST /v1/charges/{id}/card-payments` `{"card_token","brand","installments"}`: charges a card token
    /// (from the acquirer's tokenization; we never see the number) for today's amount due, in installments,
    /// with the fee absorbed or passed on as the charge says. Approved → the charge is settled like any payment.
    pub(super) async fn pay_by_card(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        reject_unknown(&body, &["card_token", "brand", "installments"], "")?;
        let charge = self.open_charge(merchant, id).await?;
        if !charge.payable_at(now) {
            return Err(ApiError::new(409, "charge_expired", "cobrança expirada / charge expired"));
        }
        let card = charge.setup.card.clone().ok_or_else(|| ApiError::new(409, "method_not_allowed", "a cobrança não aceita cartão / the charge does not allow cards"))?;
        let token = body.get("card_token").and_then(Value::as_str).filter(|t| !t.is_empty() && t.len() <= 100).ok_or_else(|| ApiError::invalid("card_token", "token do cartão obrigatório / card token required"))?;
        let brand = body.get("brand").and_then(Value::as_str).filter(|b| (2..=20).contains(&b.len())).ok_or_else(|| ApiError::invalid("brand", "bandeira obrigatória (Visa, Master, Elo…) / card brand required"))?;
        let installments = body
            .get("installments")
            .and_then(Value::as_u64)
            .filter(|n| (1..=u64::from(card.max_installments)).contains(n))
            .ok_or_else(|| ApiError::invalid("installments", format!("parcelas de 1 a {0} / installments from 1 to {0}", card.max_installments)))? as u8;
        let wallet = self.store.get_wallet(&merchant.id, &card.wallet_id).await?.ok_or_else(|| ApiError::internal("card wallet missing"))?;
        let WalletConfig::CreditCard(settings) = &wallet.config else { return Err(ApiError::internal("card wallet is not a card wallet")) };
        let due = due_today(&charge, now)?;
        let plan = card_plan(due, installments, &settings.fees, card.fee_mode).map_err(|e| ApiError::invalid("installments", e))?;
        let customer = self.store.get_customer(&merchant.id, &charge.customer_id).await?.ok_or_else(|| ApiError::internal("customer missing"))?;
        let acquirer = self.providers.acquirer(wallet.provider).map_err(provider_error)?;
        let request = CardPaymentRequest {
            order_id: format!("{}-{}", charge.id, PaymentId::generate()),
            payer_name: customer.name.as_str().to_string(),
            total: plan.total_charged,
            installments,
            card_token: token.to_string(),
            brand: brand.to_string(),
            soft_descriptor: merchant.name.clone(),
        };
        match acquirer.pay(&request).await.map_err(provider_error)? {
            CardPaymentResult::Declined { code, message, .. } => Err(ApiError {
                status: 402,
                code: "card_declined",
                message: format!("pagamento recusado pelo emissor ({code}: {message}) / payment declined by the issuer ({code}: {message})"),
                field: None,
            }),
            CardPaymentResult::Approved { provider_payment_id, authorization_code } => {
                let notice = PaymentNotice {
                    event_id: format!("card:{provider_payment_id}"),
                    provider: wallet.provider.as_str().into(),
                    charge_id: Some(charge.id.clone()),
                    raw_charge_ref: charge.id.to_string(),
                    // The charge is settled by what it owed; a passed-on fee is the acquirer's, not the merchant's.
                    amount: due,
                    paid_at: now,
                    method: PaymentMethod::CreditCard,
                    provider_payment_id: provider_payment_id.clone(),
                };
                let raw = json!({"provider_payment_id": provider_payment_id, "authorization_code": authorization_code, "installments": installments, "total": plan.total_charged}).to_string();
                let settled = self.settlement().apply(&notice, &raw, now).await.map_err(ApiError::internal)?;
                let charge = match settled {
                    Settled::Paid { charge } | Settled::Duplicate { charge } | Settled::Recorded { charge, .. } => charge,
                    Settled::Unmatched => return Err(ApiError::internal("card payment for a charge that vanished")),
                };
                Ok(ApiResponse::json(
                    201,
                    &json!({
                        "object": "card_payment",
                        "status": "approved",
                        "charge_id": charge.id,
                        "charge_status": charge.status,
                        "provider_payment_id": provider_payment_id,
                        "authorization_code": authorization_code,
                        "installments": installments,
                        "installment_amounts": plan.installments,
                        "total": plan.total_charged,
                        "amount_due": due,
                    }),
                ))
            }
        }
    }

    /// The charge as the API shows it: its numbers, today's amount due and what the payer can pay with.
    pub(super) async fn charge_view(&self, c: &Charge, reminders: &[crate::ruler::Reminder], now: DateTime<Utc>) -> Result<Value, ApiError> {
        let mut view = self.charge_json(c, reminders);
        let wallets = self.store.wallets_of(&c.merchant_id).await?;
        let merchant = self.store.get_merchant(&c.merchant_id).await?.ok_or_else(|| ApiError::internal("merchant missing"))?;
        let extra = payment_json(c, &wallets, &merchant, self.public_base_url, now);
        if let (Value::Object(v), Value::Object(e)) = (&mut view, extra) {
            v.extend(e);
        }
        Ok(view)
    }

    pub(super) fn settlement(&self) -> crate::settlement::Settlement<'_> {
        crate::settlement::Settlement { store: self.store, queue: self.queue, events: self.events }
    }
}

fn provider_error(e: ProviderError) -> ApiError {
    match e {
        ProviderError::Rejected { code, message } => ApiError::new(422, "provider_rejected", format!("recusado pelo provedor / rejected by the provider: {code}: {message}")),
        ProviderError::Unavailable(m) => {
            tracing::warn!(error = %m, "provider unavailable");
            ApiError::new(503, "provider_unavailable", "provedor de pagamento indisponível, tente novamente / payment provider unavailable, please retry")
        }
    }
}

/// Today's amount due in São Paulo, as money.
fn due_today(charge: &Charge, now: DateTime<Utc>) -> Result<Money, ApiError> {
    Money::from_decimal(charge.amount_due(calendar::local_date(now)).total).map_err(ApiError::internal)
}

fn wallet_json(w: &Wallet) -> Value {
    let mut v = serde_json::to_value(w).expect("wallet serialises");
    v["object"] = json!("wallet");
    v
}

/// `amount_due`, `late_fees`, `expires_at`, `wallets` and one object per offered method.
pub(super) fn payment_json(c: &Charge, wallets: &[Wallet], merchant: &Merchant, base_url: &str, now: DateTime<Utc>) -> Value {
    let today = calendar::local_date(now);
    let due = c.amount_due(today);
    let payable = c.payable_at(now);
    let base = payment_url(base_url, &c.payment_token);
    let wallet = |id: &WalletId| wallets.iter().find(|w| &w.id == id);
    let amount_today = Money::from_decimal(due.total).ok();

    let pix = c.setup.pix.as_ref().and_then(|p| {
        let WalletConfig::Pix(settings) = &wallet(&p.wallet_id)?.config else { return None };
        let code = amount_today.filter(|_| payable).and_then(|amount| setup::pix_code(p, settings, &merchant.name, amount).ok());
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
    let options: Vec<Value> = c
        .wallet_ids
        .iter()
        .filter_map(wallet)
        .map(|w| json!({"id": w.id, "name": w.name, "method": w.method(), "provider": w.provider}))
        .collect();
    json!({
        "amount_due": due,
        "late_fees": c.late_fees,
        "expires_at": c.expires_at,
        "wallets": options,
        "pix": pix,
        "boleto": boleto,
        "card": card,
    })
}

/// Builds a fresh setup for a new charge from its wallets: the first wallet of each method is the default.
pub(super) fn default_wallets(methods: &[PaymentMethod], wallets: &[Wallet]) -> Vec<Wallet> {
    methods.iter().filter_map(|m| wallets.iter().find(|w| w.method() == *m).cloned()).collect()
}
