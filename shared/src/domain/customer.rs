//! Payers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::channel::{Channel, Reach};
use crate::domain::contact::{Email, Phone};
use crate::domain::document::Document;
use crate::domain::ids::{CustomerId, MerchantId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub merchant_id: MerchantId,
    pub name: PersonName,
    pub document: Document,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// Needed for boletos (a registered boleto names the payer's address) and letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<crate::domain::address::Address>,
    /// What the payer asked not to receive. Honoured at planning and again at sending.
    #[serde(default)]
    pub opt_out: OptOut,
    /// When the payer's personal data was erased at their request (LGPD art. 18, VI): name, contacts and
    /// address are gone, messages stop; of the CPF/CNPJ only its kind and a fingerprint stay with the financial
    /// records the law makes us keep (`Document::Erased`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOut {
    /// No messages at all (receipts included).
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub channels: Vec<Channel>,
}

impl Customer {
    /// The name an erased customer is shown by.
    pub const ERASED_NAME: &'static str = "Titular removido (LGPD)";

    /// Erases the person from this record (LGPD art. 18, VI) and stops every message to them. The CPF/CNPJ
    /// is kept: registered boletos, receipts and the ledger are financial records kept by legal obligation
    /// (LGPD art. 16, I), and they name it.
    pub fn erase(&mut self, now: DateTime<Utc>) {
        self.name = PersonName::parse(Self::ERASED_NAME).expect("a valid name");
        self.document = self.document.erased(self.merchant_id.as_str());
        self.email = None;
        self.phone = None;
        self.address = None;
        self.opt_out = OptOut { all: true, channels: vec![] };
        self.erased_at = Some(now);
    }

    /// Where a reminder goes when the régua names no channel: e-mail if we have one, else WhatsApp.
    pub fn preferred_channel(&self) -> Option<Channel> {
        if self.email.is_some() {
            Some(Channel::Email)
        } else if self.phone.as_ref().is_some_and(|p| p.is_mobile()) {
            Some(Channel::Whatsapp)
        } else {
            None
        }
    }

    /// Whether a message on `channel` may go to this customer; the reason when not.
    pub fn can_receive(&self, channel: Channel) -> Result<(), String> {
        if self.opt_out.all || self.opt_out.channels.contains(&channel) {
            return Err(format!("customer opted out of {}", channel.as_str()));
        }
        if channel.profile().reaches == Reach::MobilePhone && !self.phone.as_ref().is_some_and(|p| p.is_mobile()) {
            return Err(format!("no mobile number for {}", channel.as_str()));
        }
        match self.address_on(channel) {
            Some(_) => Ok(()),
            None => Err(format!("no {} address", channel.as_str())),
        }
    }

    /// The address of this customer on a channel, if any.
    pub fn address_on(&self, channel: Channel) -> Option<String> {
        match channel.profile().reaches {
            Reach::Email => self.email.as_ref().map(|e| e.as_str().to_string()),
            Reach::Phone | Reach::MobilePhone => self.phone.as_ref().map(|p| p.as_str().to_string()),
            // Complete by construction (street, district, city, UF and a valid CEP are required to parse).
            Reach::Postal => self.address.as_ref().map(|a| a.one_line()),
        }
    }
}

/// A person's or company's name as given: trimmed, 2..=200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("nome deve ter entre 2 e 200 caracteres / name must have 2 to 200 characters")]
pub struct InvalidName;

impl PersonName {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let t = s.trim();
        let n = t.chars().count();
        if (2..=200).contains(&n) && !t.chars().any(char::is_control) {
            Ok(Self(t.to_string()))
        } else {
            Err(InvalidName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn first_name(&self) -> &str {
        self.0.split_whitespace().next().unwrap_or(&self.0)
    }
}

impl TryFrom<String> for PersonName {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, InvalidName> {
        Self::parse(&s)
    }
}

impl From<PersonName> for String {
    fn from(n: PersonName) -> String {
        n.0
    }
}
