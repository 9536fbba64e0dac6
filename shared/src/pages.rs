//! What the payer opens from a payment link (`/pay/{token}/…`): the Pix QR code (SVG and PNG), the boleto's
//! barcode and its printable page. No API key here: the unguessable token is the credential, so nothing is
//! cached and nothing about the payer goes into URLs or logs.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::calendar;
use crate::charge::Charge;
use crate::money::Money;
use crate::pay::boleto::{itf25_svg, Barcode, Linha};
use crate::pay::pix::{pix_qr_png, pix_qr_svg};
use crate::pay::setup::{self, Registration};
use crate::store::{Store, StoreError};
use crate::wallet::WalletConfig;

/// A page or image for the payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

const HTML: &str = "text/html; charset=utf-8";
const SVG: &str = "image/svg+xml";
const PNG: &str = "image/png";

impl PageResponse {
    fn html(status: u16, body: String) -> Self {
        Self { status, content_type: HTML, body: body.into_bytes() }
    }

    fn not_found() -> Self {
        Self::html(404, "<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>Não encontrado</title><p>Link de pagamento não encontrado.</p></html>".into())
    }

    fn gone(message: &str) -> Self {
        Self::html(410, format!("<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>Indisponível</title><p>{message}</p></html>"))
    }
}

pub struct PayerPages<'a> {
    pub store: &'a dyn Store,
}

impl PayerPages<'_> {
    pub async fn handle(&self, method: &str, path: &str, now: DateTime<Utc>) -> PageResponse {
        match self.route(method, path, now).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "payer page failed");
                PageResponse::html(503, "<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>Tente novamente</title><p>Serviço indisponível, tente novamente em instantes.</p></html>".into())
            }
        }
    }

    async fn route(&self, method: &str, path: &str, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (token, resource) = match segments.as_slice() {
            ["pay", token] => (*token, ""),
            ["pay", token, resource] => (*token, *resource),
            _ => return Ok(PageResponse::not_found()),
        };
        if method != "GET" && method != "HEAD" {
            return Ok(PageResponse::html(405, "<!doctype html><title>405</title>".into()));
        }
        // Tokens are 27 URL-safe characters; anything else cannot match and is not worth a read.
        if token.len() > 64 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Ok(PageResponse::not_found());
        }
        let Some(charge) = self.store.charge_by_payment_token(token).await? else { return Ok(PageResponse::not_found()) };
        match resource {
            "pix.svg" | "pix.png" => self.pix_qr(&charge, resource == "pix.png", now).await,
            "boleto.svg" => Ok(boleto_svg(&charge)),
            "boleto" => self.boleto_page(&charge, now).await,
            _ => Ok(PageResponse::not_found()),
        }
    }

    async fn pix_qr(&self, charge: &Charge, png: bool, now: DateTime<Utc>) -> Result<PageResponse, StoreError> {
        if !charge.payable_at(now) {
            return Ok(PageResponse::gone("Esta cobrança não pode mais ser paga."));
        }
        let Some(pix) = &charge.setup.pix else { return Ok(PageResponse::not_found()) };
        let Some(wallet) = self.store.get_wallet(&charge.merchant_id, &pix.wallet_id).await? else { return Ok(PageResponse::not_found()) };
        let WalletConfig::Pix(settings) = &wallet.config else { return Ok(PageResponse::not_found()) };
        let merchant = self.store.get_merchant(&charge.merchant_id).await?.ok_or_else(|| StoreError::Corrupt { key: charge.id.to_string(), message: "merchant missing".into() })?;
        let amount = Money::from_decimal(charge.amount_due(calendar::local_date(now)).total).map_err(|e| StoreError::Corrupt { key: charge.id.to_string(), message: e.to_string() })?;
        let Ok(code) = setup::pix_code(pix, settings, &merchant.name, amount) else { return Ok(PageResponse::not_found()) };
        let payload = code.payload();
        Ok(if png {
            PageResponse { status: 200, content_type: PNG, body: pix_qr_png(&payload, 8).unwrap_or_default() }
        } else {
            PageResponse { status: 200, content_type: SVG, body: pix_qr_svg(&payload).unwrap_or_default().into_bytes() }
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
        let wallet = self.store.get_wallet(&charge.merchant_id, &boleto.wallet_id).await?.ok_or_else(|| corrupt("wallet missing"))?;
        let WalletConfig::Boleto(settings) = &wallet.config else { return Err(corrupt("not a boleto wallet")) };
        let merchant = self.store.get_merchant(&charge.merchant_id).await?.ok_or_else(|| corrupt("merchant missing"))?;
        let customer = self.store.get_customer(&charge.merchant_id, &charge.customer_id).await?.ok_or_else(|| corrupt("customer missing"))?;
        let barcode = Barcode::parse(&boleto.barcode).map_err(|e| corrupt(&e.to_string()))?;
        let line = Linha::parse(&boleto.digitable_line).map_err(|e| corrupt(&e.to_string()))?;
        let address = customer.address.as_ref().map(|a| {
            format!("{}, {}{} — {} — {}/{} — CEP {}", a.street, a.number, a.complement.as_ref().map(|c| format!(", {c}")).unwrap_or_default(), a.district, a.city, a.state, a.cep.formatted())
        });
        let label = |d: &crate::document::Document| if d.kind() == "cpf" { "CPF" } else { "CNPJ" };
        let ctx = json!({
            "registering": matches!(boleto.registration, Registration::Registering { .. }),
            "registering_message": crate::checkout::BOLETO_REGISTERING_MESSAGE,
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
            "amount": format!("R$ {}", boleto.amount.to_brl()),
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
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // `.html` templates are auto-escaped: merchant and payer names are data, not markup.
        env.add_template("boleto.html", include_str!("../templates/pay/boleto.html")).expect("template parses");
        let html = env.get_template("boleto.html").and_then(|t| t.render(ctx)).map_err(|e| corrupt(&e.to_string()))?;
        Ok(PageResponse::html(200, html))
    }
}

fn boleto_svg(charge: &Charge) -> PageResponse {
    match charge.setup.boleto.as_ref().and_then(|b| Barcode::parse(&b.barcode).ok()) {
        Some(barcode) => PageResponse { status: 200, content_type: SVG, body: itf25_svg(&barcode).into_bytes() },
        None => PageResponse::not_found(),
    }
}
