//! Which institution moves a wallet's money: a value of its own, below both the merchant's mode (which says which
//! institutions may serve it) and the ports to those institutions (`providers`).
//!
//! [`for_each_institution!`] is the one list of institutions, as `channel::for_each_channel!` is of channels:
//! each entry names the institution, the payment methods it serves (what `Wallet::check` asks) and the folder
//! under `adapters/providers/` whose connector talks to it, a bare word that only the adapters' side resolves.

use serde::{Deserialize, Serialize};

use crate::domain::pay::method::PaymentMethod;

/// The institutions, one entry each: `Variant = "api name" => connector folder { methods served }`. It hands the
/// list to the macro named in its argument (`define_institutions!` below, and the adapters' registry).
macro_rules! for_each_institution {
    ($then:ident) => {
        $then! {
            /// Local stand-in for every institution: registers at once, approves test cards.
            Sandbox = "sandbox" => sandbox { serves: &[PaymentMethod::Pix, PaymentMethod::Boleto, PaymentMethod::CreditCard] },
            /// Banco do Brasil: API Cobranças v2 (boleto) and API Pix v2 (cobv).
            BancoDoBrasil = "banco_do_brasil" => bb { serves: &[PaymentMethod::Pix, PaymentMethod::Boleto] },
            /// Cielo e-commerce API 3.0 (cards).
            Cielo = "cielo" => cielo { serves: &[PaymentMethod::CreditCard] },
        }
    };
}
// Only the adapters' registry uses it outside this file.
pub(crate) use for_each_institution;

macro_rules! define_institutions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal => $connector:ident { serves: $serves:expr },)*) => {
        /// Which institution a wallet uses; each maps to one adapter.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Provider {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl Provider {
            pub const ALL: [Provider; [$($name),*].len()] = [$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The payment methods a wallet at this institution may offer.
            pub fn methods(self) -> &'static [PaymentMethod] {
                match self {
                    $(Self::$variant => $serves,)*
                }
            }
        }
    };
}
for_each_institution!(define_institutions);

impl Provider {
    pub fn serves(self, method: PaymentMethod) -> bool {
        self.methods().contains(&method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_institution_is_stored_by_its_api_name_and_serves_what_its_entry_says() {
        for provider in Provider::ALL {
            assert_eq!(serde_json::to_value(provider).unwrap(), provider.as_str());
            assert!(!provider.methods().is_empty(), "{provider:?} serves nothing");
        }
        assert_eq!(serde_json::to_value(Provider::BancoDoBrasil).unwrap(), "banco_do_brasil");
        assert!(Provider::BancoDoBrasil.serves(PaymentMethod::Boleto) && !Provider::BancoDoBrasil.serves(PaymentMethod::CreditCard));
        assert!(Provider::Cielo.serves(PaymentMethod::CreditCard) && !Provider::Cielo.serves(PaymentMethod::Pix));
    }
}
