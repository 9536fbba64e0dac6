//! Messages to payers: channels, rendering from templates, and the port through which they are sent.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::calendar;
pub use crate::domain::channel::Channel;
use crate::domain::charge::Charge;
use crate::domain::customer::Customer;
use crate::domain::ids::{ChargeId, MerchantId};
use crate::domain::merchant::Merchant;
use crate::domain::money::Money;
use crate::domain::ruler::definition::Step;

/// What travels on the notification queue: just enough to find the reminder. The consumer reloads everything
/// else, so a message delayed for hours still acts on the charge as it is then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationJob {
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    pub reminder_id: String,
    /// The instant the tick ran as. The consumer judges and words the message as of then (or later), so a
    /// simulated tick in the future produces the messages that day would produce.
    pub as_of: DateTime<Utc>,
}

/// A rendered message ready for a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    /// Providers that support it use this as their idempotency key.
    pub reminder_id: String,
    pub step: String,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    /// For channels that send pre-approved templates (WhatsApp): the body's variables, in this order —
    /// payer's first name, amount ("R$ 1.234,56"), due date ("dd/mm/aaaa"), payment link, merchant name.
    #[serde(default)]
    pub template_params: Vec<String>,
    /// The payer's full name (letters are addressed to it).
    #[serde(default)]
    pub payer_name: String,
    /// Where a letter goes (set for the letter channel only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<crate::domain::address::Address>,
    /// The charge's boleto, printed on a letter: digitable line and barcode (44 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boleto: Option<BoletoSlip>,
}

/// What a letter prints of the boleto.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoletoSlip {
    pub digitable_line: String,
    pub barcode: String,
    pub bank: String,
    pub amount: Money,
    pub due_date: NaiveDate,
}

impl MessageContext {
    /// The positional variables of a pre-approved template (see `OutgoingMessage::template_params`).
    pub fn template_params(&self, step: Step) -> Vec<String> {
        let amount = if step == Step::OnPaid { &self.amount_paid } else { &self.amount };
        vec![self.first_name.clone(), amount.clone(), self.due_date.clone(), self.payment_url.clone(), self.merchant_name.clone()]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    pub provider_message_id: String,
    /// SMS parts billed by the operator (GSM-7: 160/153 characters, UCS-2: 70/67); None for other channels.
    pub segments: Option<u32>,
}

impl SendReceipt {
    pub fn new(provider_message_id: impl Into<String>) -> Self {
        Self { provider_message_id: provider_message_id.into(), segments: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later (timeouts, throttling, 5xx).
    #[error("transient send failure: {0}")]
    Transient(String),
    /// Retrying will not help (invalid recipient, rejected content).
    #[error("permanent send failure: {0}")]
    Permanent(String),
}

/// A way to reach a payer (WhatsApp, e-mail, SMS, voice, letter, or the local outbox).
#[async_trait]
pub trait NotificationSender: Send + Sync {
    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt, SendError>;

    /// Whether messages on `channel` reach a provider through this sender (a router may lack some channels).
    fn serves(&self, _channel: Channel) -> bool {
        true
    }
}

/// What the local outbox channel delivered, as listed by `GET /_local/outbox`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    pub reminder_id: String,
    pub channel: Channel,
    pub step: String,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub sent_at: DateTime<Utc>,
    /// How many times this reminder reached the outbox: anything above 1 is a duplicate send that the
    /// outbox absorbed (tests assert it never happens).
    #[serde(default = "one")]
    pub deliveries: u32,
}

fn one() -> u32 {
    1
}

/// Everything a template may use. Payer-facing formats (R$ 1.234,56; dd/mm/aaaa) are produced here, once.
#[derive(Debug, Clone, Serialize)]
pub struct MessageContext {
    pub first_name: String,
    pub merchant_name: String,
    pub merchant_document: String,
    pub merchant_document_kind: String,
    pub description: String,
    pub amount: String,
    pub amount_paid: String,
    pub due_date: String,
    pub paid_date: String,
    pub days_to_due: i64,
    pub days_after_due: i64,
    pub payment_url: String,
    pub payment_methods: String,
    /// The boleto's digitable line, when the charge has a boleto.
    pub boleto_line: String,
    /// The Pix "copia e cola" of a boleto híbrido, when the bank issued one.
    pub pix_copy_paste: String,
}

impl MessageContext {
    /// Fails only for a charge whose stored terms cannot be priced (`Unpriceable`): that message is not sent.
    pub fn new(
        merchant: &Merchant,
        customer: &Customer,
        charge: &Charge,
        payment_url: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, crate::domain::pay::late_fees::Unpriceable> {
        let today = calendar::local_date(now);
        let due = charge.due_date.date();
        let methods: Vec<&str> = charge
            .payment_methods
            .iter()
            .map(|m| match m {
                crate::domain::pay::method::PaymentMethod::Pix => "Pix",
                crate::domain::pay::method::PaymentMethod::Boleto => "boleto",
                crate::domain::pay::method::PaymentMethod::CreditCard => "cartão de crédito",
            })
            .collect();
        Ok(Self {
            first_name: customer.name.first_name().to_string(),
            merchant_name: merchant.name.clone(),
            merchant_document: merchant.document.formatted(),
            merchant_document_kind: merchant.document.kind().to_uppercase(),
            description: charge.description.as_str().to_string(),
            // What is left to pay on the day the message goes out, by the one pricing rule (discount, fine, interest).
            amount: crate::domain::money::brl(charge.balance_due(today)?),
            amount_paid: charge.amount.to_brl(),
            due_date: date_br(due),
            paid_date: charge.paid_at.map(|t| date_br(calendar::local_date(t))).unwrap_or_default(),
            days_to_due: (due - today).num_days(),
            days_after_due: (today - due).num_days(),
            payment_url: payment_url.to_string(),
            payment_methods: join_pt(&methods),
            boleto_line: charge.setup.boleto.as_ref().map(|b| b.digitable_line.clone()).unwrap_or_default(),
            pix_copy_paste: charge.setup.boleto.as_ref().and_then(|b| b.pix_copy_paste.clone()).unwrap_or_default(),
        })
    }

    /// A filled-in context for validating and showing templates.
    pub fn sample() -> Self {
        Self {
            first_name: "Maria".into(),
            merchant_name: "Loja Exemplo Ltda".into(),
            merchant_document: "11.222.333/0001-81".into(),
            merchant_document_kind: "CNPJ".into(),
            description: "Mensalidade de dezembro".into(),
            amount: "R$ 1.234,56".into(),
            amount_paid: "R$ 1.234,56".into(),
            due_date: "10/12/2026".into(),
            paid_date: "09/12/2026".into(),
            days_to_due: 5,
            days_after_due: -5,
            payment_url: "https://pay.example.com/pay/9f8e7d6c5b4a".into(),
            payment_methods: "Pix ou boleto".into(),
            boleto_line: "00190000090114971860168524522114675860000102656".into(),
            pix_copy_paste: String::new(),
        }
    }

    pub fn with_amount_paid(mut self, paid: Money) -> Self {
        self.amount_paid = paid.to_brl();
        self
    }
}

pub fn date_br(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// "Pix, boleto ou cartão de crédito".
fn join_pt(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} ou {}", init.join(", "), last),
    }
}

const ALSO_OPEN: &str = include_str!("../../templates/pt-BR/_also_open.txt");

/// Another open charge listed in a combined reminder.
#[derive(Debug, Clone, Serialize)]
pub struct ChargeLine {
    pub description: String,
    pub amount: String,
    pub due_date: String,
    pub payment_url: String,
}

/// Renders a reminder that also lists the customer's other open charges (one message per customer).
pub fn render_combined(rendered: (String, String), ctx: &MessageContext, others: &[ChargeLine]) -> Result<(String, String), RenderError> {
    let (subject, body) = rendered;
    if others.is_empty() {
        return Ok((subject, body));
    }
    let env = minijinja::Environment::new();
    let extra = env
        .render_str(ALSO_OPEN, minijinja::context! { merchant_name => &ctx.merchant_name, others => others })
        .map_err(|e| RenderError::Template(e.to_string()))?;
    // The list goes before the footer, which must stay last.
    let footer_at = body.rfind("\n--\n").unwrap_or(body.len());
    let (main, footer) = body.split_at(footer_at);
    Ok((subject, format!("{}\n{}{}", main.trim_end(), extra.trim_end(), footer)))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("step {0} sends no message")]
    NoTemplate(String),
    #[error("template error: {0}")]
    Template(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MessageContext {
        MessageContext {
            first_name: "Maria".into(),
            merchant_name: "Loja Exemplo Ltda".into(),
            merchant_document: "11.222.333/0001-81".into(),
            merchant_document_kind: "CNPJ".into(),
            description: "Mensalidade".into(),
            amount: "R$ 1.234,56".into(),
            amount_paid: "R$ 1.234,56".into(),
            due_date: "10/12/2026".into(),
            paid_date: String::new(),
            days_to_due: 5,
            days_after_due: -5,
            payment_url: "https://pay.example/abc".into(),
            payment_methods: "Pix ou boleto".into(),
            boleto_line: String::new(),
            pix_copy_paste: String::new(),
        }
    }

    #[test]
    fn every_message_names_the_merchant_and_its_document() {
        for step in [
            Step::OnCreated,
            Step::OnChanged,
            Step::BeforeDue { days: 5 },
            Step::BeforeDueHours { hours: 12 },
            Step::OnDue,
            Step::AfterDue,
            Step::OnPaid,
            Step::OnExpired,
        ] {
            let (subject, body) = crate::domain::templates::render(Channel::Email, step, &ctx(), None).unwrap();
            assert!(!subject.is_empty());
            assert!(body.contains("Loja Exemplo Ltda · CNPJ 11.222.333/0001-81"), "{step:?}: {body}");
        }
    }

    #[test]
    fn before_due_message_tells_amount_date_and_link() {
        let (subject, body) = crate::domain::templates::render(Channel::Email, Step::BeforeDue { days: 5 }, &ctx(), None).unwrap();
        assert_eq!(subject, "Lembrete: sua cobrança vence em 5 dias");
        assert!(body.contains("R$ 1.234,56") && body.contains("10/12/2026") && body.contains("https://pay.example/abc"));
    }

    #[test]
    fn default_templates_hold_no_pressure_language() {
        // CDC art. 42: no threat, ridicule or pressure in collection messages.
        for step in [Step::OnCreated, Step::OnChanged, Step::BeforeDue { days: 1 }, Step::OnDue, Step::AfterDue, Step::OnPaid, Step::OnExpired] {
            for channel in Channel::ALL {
                let (s, b) = crate::domain::templates::render(channel, step, &ctx(), None).unwrap();
                let text = format!("{s} {b}").to_lowercase();
                for word in ["protesto", "negativ", "spc", "serasa", "processo", "judicial", "último aviso", "urgente"] {
                    assert!(!text.contains(word), "{step:?} {channel:?} contains {word}");
                }
            }
        }
    }

    #[test]
    fn lists_payment_methods_in_portuguese() {
        assert_eq!(join_pt(&["Pix", "boleto", "cartão de crédito"]), "Pix, boleto ou cartão de crédito");
        assert_eq!(join_pt(&["Pix"]), "Pix");
    }
}
