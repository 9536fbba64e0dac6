//! The channels a payer is reached on: a value of its own, below the régua, the customer and the senders.
//!
//! [`for_each_channel!`] is the one list of channels. Each entry names the channel, what the domain knows of it
//! (its [`ChannelProfile`]: default price, which address it reaches, the style of its default templates) and the
//! folder under `adapters/channels/` whose connector serves it. `Channel` is made from that list here, and the
//! adapters' registry from the same list there, so no channel exists on one side only; the list names the
//! connector's folder as a bare word, which only the adapters' side resolves (this layer imports no adapter).

use serde::{Deserialize, Serialize};

/// The channels, one entry each: `Variant = "api name" => connector folder { profile }`. It hands the list to
/// the macro named in its argument, which makes what it needs of it (`define_channels!` below, and the
/// connector registry in `adapters::channels`).
macro_rules! for_each_channel {
    ($then:ident) => {
        $then! {
            /// E-mail, through Amazon SES.
            Email = "email" => ses { price_cents: 99, billing: BillingUnit::Charge, package: "email_sms", reaches: Reach::Email, style: TemplateStyle::Text },
            /// WhatsApp Business, through Meta's Cloud API (the merchant's approved templates).
            Whatsapp = "whatsapp" => whatsapp { price_cents: 55, billing: BillingUnit::Send, package: "whatsapp", reaches: Reach::MobilePhone, style: TemplateStyle::Text },
            /// SMS, through Zenvia.
            Sms = "sms" => sms { price_cents: 99, billing: BillingUnit::Charge, package: "email_sms", reaches: Reach::Phone, style: TemplateStyle::Sms },
            /// A spoken call, through TotalVoice (Zenvia Voice).
            Voice = "voice" => voice { price_cents: 55, billing: BillingUnit::Day, package: "voice", reaches: Reach::Phone, style: TemplateStyle::Voice },
            /// A Correios letter with the boleto, through a print-and-post provider.
            Letter = "letter" => letter { price_cents: 291, billing: BillingUnit::Send, package: "letter", reaches: Reach::Postal, style: TemplateStyle::Text },
        }
    };
}
// Only the adapters' registry, built with the `aws` feature, uses it outside this file.
#[cfg_attr(not(feature = "aws"), allow(unused_imports))]
pub(crate) use for_each_channel;

/// What one price pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingUnit {
    /// Every message.
    Send,
    /// All the charge's messages on the channels of the same package (e-mail + SMS are one package).
    Charge,
    /// All the charge's messages on the channel in one São Paulo day (voice: up to 3 call attempts a day).
    Day,
}

/// Which of a customer's addresses a channel's messages go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Email,
    Phone,
    /// A phone that is a mobile number (WhatsApp cannot reach a landline).
    MobilePhone,
    /// The postal address (complete by construction: street, district, city, UF and a valid CEP).
    Postal,
}

/// The style a channel's default templates are written in: `templates/pt-BR/` (text), `…/sms/` or `…/voice/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateStyle {
    /// A subject and a body, the footer on lines of its own (e-mail, WhatsApp previews, letters).
    Text,
    /// One short body at most 3 segments long, the footer on the same line.
    Sms,
    /// Words to be spoken, the footer on the same line.
    Voice,
}

/// What the domain knows of a channel, declared in its entry of [`for_each_channel!`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelProfile {
    /// The default price, in centavos: a leading Brazilian provider's public list (Asaas, 2026; see
    /// docs/channels.md, "Cost and budget"). A merchant's own contract overrides it.
    pub price_cents: i64,
    /// What the default price pays for.
    pub billing: BillingUnit,
    /// Channels sold together share one per-charge price under this name (e-mail + SMS); else the channel's own.
    pub package: &'static str,
    pub reaches: Reach,
    pub style: TemplateStyle,
}

macro_rules! define_channels {
    ($($(#[$doc:meta])* $variant:ident = $name:literal => $connector:ident $profile:tt,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Channel {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl Channel {
            pub const ALL: [Channel; [$($name),*].len()] = [$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// What the domain knows of the channel (price, reach, template style).
            pub fn profile(self) -> ChannelProfile {
                match self {
                    $(Self::$variant => ChannelProfile $profile,)*
                }
            }
        }
    };
}
for_each_channel!(define_channels);

impl Channel {
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_stored_and_parsed_by_its_api_name() {
        for channel in Channel::ALL {
            assert_eq!(serde_json::to_value(channel).unwrap(), channel.as_str());
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(serde_json::to_value(Channel::Whatsapp).unwrap(), "whatsapp");
        assert_eq!(Channel::parse("fax"), None);
    }

    #[test]
    fn a_package_shared_by_channels_has_one_price() {
        for a in Channel::ALL {
            for b in Channel::ALL.into_iter().filter(|b| b.profile().package == a.profile().package) {
                let (pa, pb) = (a.profile(), b.profile());
                assert_eq!((pa.price_cents, pa.billing), (pb.price_cents, pb.billing), "{a:?} and {b:?} share {}", pa.package);
            }
            // A package of its own is named after the channel, so price keys of two channels never meet by chance.
            let sharers = Channel::ALL.into_iter().filter(|b| b.profile().package == a.profile().package).count();
            assert!(sharers > 1 || a.profile().package == a.as_str(), "{a:?}");
        }
    }
}
