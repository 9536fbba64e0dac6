//! Postal addresses: what a registered boleto needs for its payer (FEBRABAN's Nova Plataforma de Cobrança
//! requires it) and what a Correios letter is sent to.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A CEP: eight digits, stored bare, shown as 00000-000.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cep(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("CEP inválido, use 8 dígitos / invalid CEP, use 8 digits")]
    Cep,
    #[error("UF inválida / invalid state (UF)")]
    State,
    #[error("campo obrigatório / required field")]
    Missing,
    #[error("texto longo demais / text too long")]
    TooLong,
}

impl Cep {
    pub fn parse(s: &str) -> Result<Cep, AddressError> {
        let digits: String = s.chars().filter(|c| !matches!(c, '-' | '.' | ' ')).collect();
        // 00000-000 is no CEP; the Correios ranges start at 01000-000 (São Paulo).
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with("00") {
            return Err(AddressError::Cep);
        }
        Ok(Cep(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn formatted(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }
}

impl TryFrom<String> for Cep {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Cep, AddressError> {
        Cep::parse(&s)
    }
}

impl From<Cep> for String {
    fn from(c: Cep) -> String {
        c.0
    }
}

/// The 27 federative units.
pub const STATES: [&str; 27] = [
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA", "PB", "PE", "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC",
    "SE", "SP", "TO",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complement: Option<String>,
    pub district: String,
    pub city: String,
    /// UF, upper case.
    pub state: String,
    pub cep: Cep,
}

impl Address {
    /// "Av. Paulista, 1000, sala 1 - Bela Vista - São Paulo/SP - CEP 01310-100".
    pub fn one_line(&self) -> String {
        let complement = self.complement.as_deref().map(|c| format!(", {c}")).unwrap_or_default();
        format!("{}, {}{} - {} - {}/{} - CEP {}", self.street, self.number, complement, self.district, self.city, self.state, self.cep.formatted())
    }

    /// Parses `{"street","number","complement"?,"district","city","state","cep"}`; errors name the field.
    pub fn parse(obj: &Map<String, Value>) -> Result<Address, (&'static str, AddressError)> {
        Self::parse_fields(|field| obj.get(field).and_then(Value::as_str))
    }

    /// As `parse`, from each field's text (`None`: absent).
    pub fn parse_fields<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Address, (&'static str, AddressError)> {
        let text = |field: &'static str, max: usize, required: bool| -> Result<Option<String>, (&'static str, AddressError)> {
            match get(field).map(str::trim) {
                Some(s) if s.chars().count() > max => Err((field, AddressError::TooLong)),
                Some(s) if !s.is_empty() && !s.chars().any(char::is_control) => Ok(Some(s.to_string())),
                _ if required => Err((field, AddressError::Missing)),
                _ => Ok(None),
            }
        };
        let state = text("state", 2, true)?.unwrap_or_default().to_uppercase();
        if !STATES.contains(&state.as_str()) {
            return Err(("state", AddressError::State));
        }
        Ok(Address {
            street: text("street", 100, true)?.unwrap_or_default(),
            number: text("number", 10, false)?.unwrap_or_else(|| "S/N".into()),
            complement: text("complement", 60, false)?,
            district: text("district", 60, true)?.unwrap_or_default(),
            city: text("city", 60, true)?.unwrap_or_default(),
            state,
            cep: Cep::parse(get("cep").unwrap_or_default()).map_err(|e| ("cep", e))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cep_is_eight_digits_with_or_without_the_dash() {
        assert_eq!(Cep::parse("01310-100").unwrap().as_str(), "01310100");
        assert_eq!(Cep::parse("01310100").unwrap().formatted(), "01310-100");
        for bad in ["0131010", "013101000", "00000-000", "0131a100", ""] {
            assert_eq!(Cep::parse(bad), Err(AddressError::Cep), "{bad}");
        }
    }

    #[test]
    fn an_address_names_the_field_that_is_wrong() {
        let ok = json!({"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"sp","cep":"01310-100"});
        let a = Address::parse(ok.as_object().unwrap()).unwrap();
        assert_eq!(a.state, "SP");
        let no_city = json!({"street":"Av. Paulista","district":"Bela Vista","state":"SP","cep":"01310-100"});
        assert_eq!(Address::parse(no_city.as_object().unwrap()).unwrap_err().0, "city");
        let bad_uf = json!({"street":"x","district":"y","city":"z","state":"XX","cep":"01310-100"});
        assert_eq!(Address::parse(bad_uf.as_object().unwrap()).unwrap_err(), ("state", AddressError::State));
    }
}
