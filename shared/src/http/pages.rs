//! What the payer opens from a payment link (`/pay/{token}`): the page itself (amount due today with its
//! breakdown, Pix, boleto, card installments, the choice of wallet, a receipt once paid), the Pix QR code (SVG and
//! PNG), the boleto's barcode and its printable page, and the form posts (card payment, wallet choice). No API key
//! here: the unguessable token is the credential, so nothing is cached and nothing about the payer goes into URLs
//! or logs.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::calendar;
use crate::domain::charge::{Charge, PaymentMethod};
use crate::domain::ids::WalletId;
use crate::domain::money::Money;
use crate::domain::pay::boleto::{itf25_svg, Barcode, Linha};
use crate::domain::pay::pix::{pix_qr_png, pix_qr_svg};
use crate::domain::pay::setup::{self, Registration};
use crate::http::api::ApiRequest;
use crate::service::checkout::{CardInput, Checkout, CheckoutError};

use crate::domain::wallet::WalletConfig;
use crate::ports::store::StoreError;

/// A page or image for the payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// For 303 See Other after a form post.
    pub location: Option<String>,
}

const HTML: &str = "text/html; charset=utf-8";
const SVG: &str = "image/svg+xml";
const PNG: &str = "image/png";
const JS: &str = "text/javascript; charset=utf-8";
const JSON_TYPE: &str = "application/json";
/// The page's icon, so browsers do not ask for /favicon.ico (which is nobody's).
const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0f5132"/><text x="8" y="12" font-size="10" text-anchor="middle" fill="#fff" font-family="sans-serif">R$</text></svg>"##;

impl PageResponse {
    fn html(status: u16, body: String) -> Self {
        Self { status, content_type: HTML, body: body.into_bytes(), location: None }
    }

    fn bytes(content_type: &'static str, body: Vec<u8>) -> Self {
        Self { status: 200, content_type, body, location: None }
    }

    fn see_other(location: String) -> Self {
        Self { status: 303, content_type: HTML, body: Vec::new(), location: Some(location) }
    }

    fn json(status: u16, body: serde_json::Value) -> Self {
        Self { status, content_type: JSON_TYPE, body: body.to_string().into_bytes(), location: None }
    }

    fn not_found() -> Self {
        Self::html(404, "<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>Não encontrado</title><p>Link de pagamento não encontrado.</p></html>".into())
    }

    /// A charge whose stored terms cannot be priced: the payer is told to ask the merchant, not shown a 500.
    fn unpriceable() -> Self {
        Self::html(409, "<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>Indisponível</title><p>Não foi possível calcular o valor desta cobrança. Fale com quem a emitiu.</p></html>".into())
    }

    fn gone(message: &str) -> Self {
        Self::html(410, format!("<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>Indisponível</title><p>{message}</p></html>"))
    }
}

pub struct PayerPages<'a> {
    /// The payment use cases, and through them the store.
    pub checkout: Checkout<'a>,
    pub public_base_url: &'a str,
}

/// Largest form or JSON a payer's browser sends.
const MAX_FORM_BYTES: usize = 4096;

impl PayerPages<'_> {
    pub async fn handle(&self, req: &ApiRequest, now: DateTime<Utc>) -> PageResponse {
        match self.route(req, now).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "payer page failed");
                PageResponse::html(503, "<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>Tente novamente</title><p>Serviço indisponível, tente novamente em instantes.</p></html>".into())
            }
        }
    }

    async fn route(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        let method = req.method.as_str();
        let segments: Vec<&str> = req.route_path().trim_matches('/').split('/').collect();
        let (token, resource) = match segments.as_slice() {
            ["pay", token] => (*token, ""),
            ["pay", token, resource] => (*token, *resource),
            _ => return Ok(PageResponse::not_found()),
        };
        // The script is the same for every charge: no lookup.
        if resource == "pay.js" && method == "GET" {
            return Ok(PageResponse::bytes(JS, include_bytes!("../../templates/pay/pay.js").to_vec()));
        }
        if resource == "icon.svg" && method == "GET" {
            return Ok(PageResponse::bytes(SVG, ICON.as_bytes().to_vec()));
        }
        // Tokens are 27 URL-safe characters; anything else cannot match and is not worth a read.
        if token.len() > 64 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Ok(PageResponse::not_found());
        }
        if req.body.len() > MAX_FORM_BYTES {
            return Ok(PageResponse::html(413, "<!doctype html><title>413</title>".into()));
        }
        let Some(charge) = self.checkout.store.charge_by_payment_token(token).await? else { return Ok(PageResponse::not_found()) };
        match (method, resource) {
            ("GET", "") => self.page(&charge, None, 200, now).await,
            ("GET", "pix.svg" | "pix.png") => self.pix_qr(&charge, resource == "pix.png", now).await,
            ("GET", "boleto.svg") => Ok(boleto_svg(&charge)),
            ("GET", "boleto") => self.boleto_page(&charge, now).await,
            ("GET", "plan") => self.plan_page(&charge, now).await,
            ("POST", "card") => self.pay_by_card(charge, req, now).await,
            ("POST", "wallet") => self.choose_wallet(charge, req, now).await,
            ("POST", "sandbox-tokenize") => self.sandbox_tokenize(&charge, req).await,
            ("GET" | "POST", _) => Ok(PageResponse::not_found()),
            _ => Ok(PageResponse::html(405, "<!doctype html><title>405</title>".into())),
        }
    }

    fn base(&self, charge: &Charge) -> String {
        crate::domain::charge::payment_url(self.public_base_url, &charge.payment_token)
    }

    /// The payment page: what is owed today and every way to pay it, or the receipt / the reason it cannot be
    /// paid. `error` is shown when a form post went wrong (a declined card).
    async fn page(&self, charge: &Charge, error: Option<String>, status: u16, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        let corrupt = |m: &str| StoreError::Corrupt { key: charge.id.to_string(), message: m.into() };
        let merchant = self.checkout.store.get_merchant(&charge.merchant_id).await?.ok_or_else(|| corrupt("merchant missing"))?;
        let customer =
            self.checkout.store.get_customer(&charge.merchant_id, &charge.customer_id).await?.ok_or_else(|| corrupt("customer missing"))?;
        let wallets = self.checkout.store.wallets_of(&charge.merchant_id).await?;
        let base = self.base(charge);
        let today = calendar::local_date(now);
        let (Ok(view), Ok(due), Ok(balance)) = (
            crate::service::checkout::payment_view(charge, &wallets, &merchant, self.public_base_url, now),
            charge.amount_due(today),
            charge.balance_due(today),
        ) else {
            return Ok(PageResponse::unpriceable());
        };
        let money = |d: rust_decimal::Decimal| crate::domain::money::brl(d);
        let nonzero = |d: rust_decimal::Decimal| (!d.is_zero()).then(|| money(d));
        let shown_status = if charge.status.is_open() && !charge.payable_at(now) { "expired" } else { charge.status.as_str() };
        let status_label = match shown_status {
            "pending" => "Em aberto",
            "overdue" => "Vencida",
            "paid" => "Paga",
            "partially_paid" => "Paga em parte",
            "cancelled" => "Cancelada",
            "refunded" => "Estornada",
            _ => "Expirada",
        };
        let label = |d: &crate::domain::document::Document| if d.kind() == "cpf" { "CPF" } else { "CNPJ" };
        // Several wallets for one method: the payer picks (seed 002).
        let choices: Vec<serde_json::Value> = [(PaymentMethod::Boleto, "boleto"), (PaymentMethod::Pix, "Pix"), (PaymentMethod::CreditCard, "cartão")]
            .into_iter()
            .filter_map(|(method, label)| {
                let of_method: Vec<_> = charge.wallet_ids.iter().filter_map(|id| wallets.iter().find(|w| &w.id == id && w.method() == method)).collect();
                let current = charge.setup.wallet_for(method);
                (of_method.len() > 1).then(|| json!({"label": label, "wallets": of_method.iter().map(|w| json!({"id": w.id, "name": w.name, "current": Some(&w.id) == current.as_ref()})).collect::<Vec<_>>()}))
            })
            .collect();
        let boleto = view["boleto"].as_object().map(|b| {
            json!({
                "registering": b["status"] == "registering",
                "message": crate::service::checkout::BOLETO_REGISTERING_MESSAGE,
                "line": b["digitable_line_formatted"],
                "amount": charge.setup.boleto.as_ref().map(|x| x.amount.to_brl()),
                "due_date": charge.setup.boleto.as_ref().map(|x| x.due_date.format("%d/%m/%Y").to_string()),
            })
        });
        let card = view["card"].as_object().map(|c| {
            let provider = charge.setup.card.as_ref().and_then(|s| wallets.iter().find(|w| w.id == s.wallet_id)).map(|w| w.provider);
            let options: Vec<serde_json::Value> = c["installment_options"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| {
                    let amount = |k: &str| o[k].as_str().and_then(|v| v.parse::<rust_decimal::Decimal>().ok()).unwrap_or_default();
                    json!({"installments": o["installments"], "installment_amount": money(amount("installment_amount")), "total": money(amount("total")), "added_fee": nonzero(amount("added_fee"))})
                })
                .collect();
            json!({
                "options": options,
                "provider": provider.map(|p| p.as_str()),
                // Only the sandbox tokenizes here; a real acquirer's browser tokenization is its own endpoint.
                "tokenize_url": (provider == Some(crate::ports::providers::Provider::Sandbox)).then(|| format!("{base}/sandbox-tokenize")),
            })
        });
        let ctx = json!({
            "title": if shown_status == "paid" { "Recibo" } else { "Pagamento" },
            "base": base,
            "merchant": {"name": merchant.name, "document": merchant.document.formatted(), "document_label": label(&merchant.document)},
            "payer": {"name": customer.name.as_str(), "document": customer.document.masked()},
            "description": charge.description.as_str(),
            "status": shown_status,
            "status_label": status_label,
            "due_date": charge.due_date.date().format("%d/%m/%Y").to_string(),
            "original": charge.amount.to_brl(),
            "paid_at": charge.paid_at.map(|t| t.with_timezone(&chrono_tz::America::Sao_Paulo).format("%d/%m/%Y %H:%M").to_string()),
            "charge_ref": charge.id.as_str()[charge.id.as_str().len() - 10..].to_ascii_uppercase(),
            "received": nonzero(charge.received),
            "due": {"total": money(balance), "original": money(due.original), "discount": nonzero(due.discount), "abatement": nonzero(due.abatement),
                    "fine": nonzero(due.fine), "interest": nonzero(due.interest), "days_late": due.days_late},
            "instructions": charge.late_fees.describe(charge.amount, charge.due_date.date()),
            "choices": choices,
            "pix": view["pix"]["copy_paste"],
            "boleto": boleto,
            "card": card,
            "error": error,
        });
        Ok(PageResponse::html(status, render("page.html", include_str!("../../templates/pay/page.html"), ctx).map_err(|e| corrupt(&e))?))
    }

    /// The card form's post: `card_token`, `brand` (from the acquirer's tokenization) and `installments`.
    async fn pay_by_card(&self, charge: Charge, req: &ApiRequest, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        let form: HashMap<String, String> = serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
        let card = CardInput {
            token: form.get("card_token").cloned().unwrap_or_default(),
            brand: form.get("brand").cloned().unwrap_or_default(),
            installments: form.get("installments").and_then(|n| n.parse().ok()).unwrap_or(0),
        };
        let merchant = self
            .checkout
            .store
            .get_merchant(&charge.merchant_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt { key: charge.id.to_string(), message: "merchant missing".into() })?;
        let base = self.base(&charge);
        match self.checkout.pay_by_card(charge.clone(), &card, &merchant, now).await {
            Ok(_) => Ok(PageResponse::see_other(base)),
            Err(CheckoutError::Store(e)) => Err(e),
            Err(e) => {
                let message = match &e {
                    CheckoutError::Declined { code, .. } => format!("Pagamento recusado pelo emissor do cartão (código {code}). Tente outro cartão ou outra forma de pagamento."),
                    CheckoutError::Provider(_) => "A adquirente não respondeu. Tente novamente em instantes.".to_string(),
                    CheckoutError::PaymentInProgress => "Já há um pagamento com cartão desta cobrança em andamento. Aguarde um instante e recarregue a página para ver o resultado antes de tentar de novo.".to_string(),
                    CheckoutError::TooManyAttempts { retry_at: Some(at) } => format!(
                        "Muitas tentativas de pagamento com cartão nesta cobrança. Por segurança, uma nova tentativa só será aceita após as {}. Você pode pagar agora por Pix ou boleto, se disponíveis.",
                        at.with_timezone(&chrono_tz::America::Sao_Paulo).format("%H:%M")
                    ),
                    CheckoutError::TooManyAttempts { retry_at: None } => format!(
                        "Esta cobrança atingiu o limite de {} tentativas de pagamento com cartão. Pague por Pix ou boleto, se disponíveis, ou fale com {}.",
                        crate::domain::card_attempts::TOTAL,
                        merchant.name
                    ),
                    CheckoutError::NotOpen(_) => return Ok(PageResponse::see_other(base)),
                    other => format!("Não foi possível pagar: {}", other.to_string().split(" / ").next().unwrap_or_default()),
                };
                let status = match e {
                    CheckoutError::Declined { .. } => 402,
                    CheckoutError::PaymentInProgress => 409,
                    CheckoutError::TooManyAttempts { .. } => 429,
                    _ => 422,
                };
                self.page(&charge, Some(message), status, now).await
            }
        }
    }

    /// The wallet choice's post: `wallet_id`.
    async fn choose_wallet(&self, charge: Charge, req: &ApiRequest, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        let form: HashMap<String, String> = serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
        let base = self.base(&charge);
        let Some(wallet_id) = form.get("wallet_id").and_then(|w| WalletId::parse(w).ok()) else {
            return self.page(&charge, Some("Escolha uma das carteiras.".into()), 422, now).await;
        };
        match self.checkout.choose_wallet(charge.clone(), &wallet_id, now).await {
            Ok(_) | Err(CheckoutError::NotOpen(_)) => Ok(PageResponse::see_other(base)),
            Err(CheckoutError::Store(e)) => Err(e),
            Err(_) => self.page(&charge, Some("Carteira não disponível para esta cobrança.".into()), 422, now).await,
        }
    }

    /// The sandbox acquirer's tokenization, for wallets on provider `sandbox` only: checks the card the way an
    /// acquirer would (Luhn, expiry, CVV) and answers a token that keeps the last four digits (the sandbox
    /// acquirer decides by them). The number is neither stored nor logged.
    async fn sandbox_tokenize(&self, charge: &Charge, req: &ApiRequest) -> Result<PageResponse, StoreError> {
        let Some(setup) = &charge.setup.card else { return Ok(PageResponse::not_found()) };
        let sandbox = self
            .checkout
            .store
            .get_wallet(&charge.merchant_id, &setup.wallet_id)
            .await?
            .is_some_and(|w| w.provider == crate::ports::providers::Provider::Sandbox);
        // Never for a live merchant, even one whose sandbox wallet predates modes.
        let test_mode = self.checkout.store.get_merchant(&charge.merchant_id).await?.is_some_and(|m| !m.mode.is_live());
        if !sandbox || !test_mode {
            return Ok(PageResponse::not_found());
        }
        let refuse = |message: &str| PageResponse::json(422, json!({"message": message}));
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let field = |k: &str| body[k].as_str().unwrap_or_default().trim().to_string();
        let number: String = field("number").chars().filter(char::is_ascii_digit).collect();
        if !(13..=19).contains(&number.len()) || !luhn(&number) {
            return Ok(refuse("Número de cartão inválido."));
        }
        let expiry = field("expiry");
        let valid_expiry = expiry
            .split_once('/')
            .is_some_and(|(m, y)| m.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m)) && y.len() == 2 && y.bytes().all(|b| b.is_ascii_digit()));
        if !valid_expiry {
            return Ok(refuse("Validade inválida, use MM/AA."));
        }
        let cvv = field("cvv");
        if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) || field("holder").is_empty() {
            return Ok(refuse("Confira o nome e o CVV."));
        }
        let brand = card_brand(&number);
        let token = format!("tok_sbx_{}{}", crate::domain::charge::new_payment_token(), &number[number.len() - 4..]);
        Ok(PageResponse::json(200, json!({"card_token": token, "brand": brand})))
    }

    async fn pix_qr(&self, charge: &Charge, png: bool, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        if !charge.payable_at(now) {
            return Ok(PageResponse::gone("Esta cobrança não pode mais ser paga."));
        }
        let Some(pix) = &charge.setup.pix else { return Ok(PageResponse::not_found()) };
        let Some(wallet) = self.checkout.store.get_wallet(&charge.merchant_id, &pix.wallet_id).await? else { return Ok(PageResponse::not_found()) };
        let WalletConfig::Pix(settings) = &wallet.config else { return Ok(PageResponse::not_found()) };
        let merchant = self
            .checkout
            .store
            .get_merchant(&charge.merchant_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt { key: charge.id.to_string(), message: "merchant missing".into() })?;
        if !merchant.mode.serves(wallet.provider) {
            return Ok(PageResponse::not_found());
        }
        let Ok(balance) = charge.balance_due(calendar::local_date(now)) else { return Ok(PageResponse::unpriceable()) };
        let amount = Money::from_decimal(balance).map_err(|e| StoreError::Corrupt { key: charge.id.to_string(), message: e.to_string() })?;
        // A charge that offers Pix and cannot show it is a fault of ours, logged and answered as one (never a 404
        // or an empty image that look like "no Pix here").
        let unusable = |message: String| StoreError::Corrupt { key: charge.id.to_string(), message: format!("pix code: {message}") };
        let code = setup::pix_code(pix, settings, &merchant.name, amount).map_err(|e| unusable(e.to_string()))?;
        let payload = code.payload();
        Ok(if png {
            PageResponse::bytes(PNG, pix_qr_png(&payload, 8).map_err(|e| unusable(e.to_string()))?)
        } else {
            PageResponse::bytes(SVG, pix_qr_svg(&payload).map_err(|e| unusable(e.to_string()))?.into_bytes())
        })
    }

    /// The printable boleto: payer's receipt and the ficha de compensação with its ITF-25 barcode.
    async fn boleto_page(&self, charge: &Charge, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        let Some(boleto) = &charge.setup.boleto else {
            return Ok(PageResponse::gone("Esta cobrança não tem boleto em aberto."));
        };
        if !charge.payable_at(now) {
            return Ok(PageResponse::gone("Esta cobrança não pode mais ser paga."));
        }
        let corrupt = |m: &str| StoreError::Corrupt { key: charge.id.to_string(), message: m.into() };
        let wallet = self.checkout.store.get_wallet(&charge.merchant_id, &boleto.wallet_id).await?.ok_or_else(|| corrupt("wallet missing"))?;
        let WalletConfig::Boleto(settings) = &wallet.config else { return Err(corrupt("not a boleto wallet")) };
        let merchant = self.checkout.store.get_merchant(&charge.merchant_id).await?.ok_or_else(|| corrupt("merchant missing"))?;
        let customer =
            self.checkout.store.get_customer(&charge.merchant_id, &charge.customer_id).await?.ok_or_else(|| corrupt("customer missing"))?;
        let barcode = Barcode::parse(&boleto.barcode).map_err(|e| corrupt(&e.to_string()))?;
        let line = Linha::parse(&boleto.digitable_line).map_err(|e| corrupt(&e.to_string()))?;
        let address = customer.address.as_ref().map(|a| {
            format!(
                "{}, {}{} — {} — {}/{} — CEP {}",
                a.street,
                a.number,
                a.complement.as_ref().map(|c| format!(", {c}")).unwrap_or_default(),
                a.district,
                a.city,
                a.state,
                a.cep.formatted()
            )
        });
        let label = |d: &crate::domain::document::Document| if d.kind() == "cpf" { "CPF" } else { "CNPJ" };
        let ctx = json!({
            "registering": matches!(boleto.registration, Registration::Registering { .. }),
            "registering_message": crate::service::checkout::BOLETO_REGISTERING_MESSAGE,
            "boleto": boleto,
            "line": line.formatted(),
            "merchant_name": merchant.name,
            "merchant_document": merchant.document.formatted(),
            "merchant_document_label": label(&merchant.document),
            "payer_name": customer.name.as_str(),
            "payer_document": customer.document.formatted(),
            "payer_document_label": label(&customer.document),
            "payer_address": address.unwrap_or_default(),
            "due_date": boleto.due_date.format("%d/%m/%Y").to_string(),
            "amount": boleto.amount.to_brl(),
            "issue_date": calendar::local_date(charge.created_at).format("%d/%m/%Y").to_string(),
            "document_number": charge.id.as_str()[charge.id.as_str().len() - 10..].to_ascii_uppercase(),
            "description": charge.description.as_str(),
            "convenio": settings.agreement.convenio,
            "carteira": format!("{}/{}", settings.agreement.carteira, settings.agreement.variacao),
            "instructions": charge.late_fees.describe(boleto.amount, boleto.due_date),
            "days_after_due": settings.days_payable_after_due,
            "last_day": (boleto.due_date + chrono::Duration::days(i64::from(settings.days_payable_after_due))).format("%d/%m/%Y").to_string(),
            "charge_id": charge.id,
            "barcode_svg": itf25_svg(&barcode),
        });
        let html = render("boleto.html", include_str!("../../templates/pay/boleto.html"), ctx).map_err(|e| corrupt(&e))?;
        Ok(PageResponse::html(200, html))
    }
}

impl PayerPages<'_> {
    /// `/pay/{token}/plan`: the whole carnê an installment belongs to — each installment's due date, amount,
    /// state and its own link while it can be paid. Not found for a charge outside a plan.
    async fn plan_page(&self, charge: &Charge, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        let crate::domain::charge::ChargeOrigin::InstallmentPlan { plan_id, .. } = &charge.origin else { return Ok(PageResponse::not_found()) };
        let store = self.checkout.store;
        let corrupt = |m: String| StoreError::Corrupt { key: plan_id.to_string(), message: m };
        let Some(stored) = store.get_merchant_document(&charge.merchant_id, &crate::domain::installment_plan::document_key(plan_id)).await? else {
            return Ok(PageResponse::not_found());
        };
        let plan: crate::domain::installment_plan::Plan = serde_json::from_value(stored).map_err(|e| corrupt(e.to_string()))?;
        let merchant = store.get_merchant(&charge.merchant_id).await?.ok_or_else(|| corrupt("merchant missing".into()))?;
        let customer = store.get_customer(&charge.merchant_id, &charge.customer_id).await?.ok_or_else(|| corrupt("customer missing".into()))?;
        let today = crate::domain::calendar::local_date(now);
        let mut rows = Vec::new();
        let mut open_total = rust_decimal::Decimal::ZERO;
        for part in &plan.installments {
            let Some(c) = store.get_charge(&charge.merchant_id, &part.charge_id).await? else { continue };
            let (status, class) = match c.status {
                crate::domain::charge::ChargeStatus::Pending => ("Em aberto", ""),
                crate::domain::charge::ChargeStatus::Overdue => ("Vencida", "vencida"),
                crate::domain::charge::ChargeStatus::PartiallyPaid => ("Paga em parte", ""),
                crate::domain::charge::ChargeStatus::Paid => ("Paga", "pago"),
                crate::domain::charge::ChargeStatus::Cancelled => ("Cancelada", ""),
                crate::domain::charge::ChargeStatus::Expired => ("Expirada", ""),
                crate::domain::charge::ChargeStatus::Refunded => ("Estornada", ""),
                crate::domain::charge::ChargeStatus::Renegotiated => ("Renegociada", ""),
            };
            let payable = c.payable_at(now);
            let Ok(balance) = c.balance_due(today) else { return Ok(PageResponse::unpriceable()) };
            if payable {
                open_total += balance;
            }
            rows.push(json!({
                "number": part.number,
                "due_date": c.due_date.date().format("%d/%m/%Y").to_string(),
                "amount": crate::domain::money::brl(if payable { balance } else { c.amount.as_decimal() }),
                "status": status,
                "status_class": class,
                "payment_url": payable.then(|| crate::domain::charge::payment_url(self.public_base_url, &c.payment_token)),
                "current": c.id == charge.id,
            }));
        }
        let ctx = json!({
            "description": plan.description,
            "merchant_name": merchant.name,
            "payer_name": customer.name.as_str(),
            "installments": rows,
            "open_total": crate::domain::money::brl(open_total),
        });
        let html = render("plan.html", include_str!("../../templates/pay/plan.html"), ctx).map_err(corrupt)?;
        Ok(PageResponse::html(200, html))
    }
}

fn boleto_svg(charge: &Charge) -> PageResponse {
    match charge.setup.boleto.as_ref().and_then(|b| Barcode::parse(&b.barcode).ok()) {
        Some(barcode) => PageResponse::bytes(SVG, itf25_svg(&barcode).into_bytes()),
        None => PageResponse::not_found(),
    }
}

/// Renders a payer template. `.html` names turn on auto-escaping: merchant and payer names are data, not markup.
fn render(name: &str, source: &str, ctx: serde_json::Value) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template(name, source).map_err(|e| e.to_string())?;
    env.get_template(name).and_then(|t| t.render(ctx)).map_err(|e| e.to_string())
}

/// The Luhn check digit, as card numbers carry it.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The brand by the card's leading digits (the common Brazilian brands).
fn card_brand(number: &str) -> &'static str {
    let prefix = |n: usize| number.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    match () {
        _ if [401178, 401179, 431274, 438935, 451416, 457393, 504175, 506699, 509000, 627780, 636297, 636368].contains(&prefix(6)) => "Elo",
        _ if [606282, 384100, 384140, 384160].contains(&prefix(6)) => "Hipercard",
        _ if [34, 37].contains(&prefix(2)) => "Amex",
        _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => "Master",
        _ if number.starts_with('4') => "Visa",
        _ => "Unknown",
    }
}
