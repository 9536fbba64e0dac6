//! Brazilian taxpayer documents: CPF (people) and CNPJ (companies).
//!
//! Values are stored bare (no punctuation) and already check-digit verified, so the rest
//! of the code can trust any `Cpf`/`Cnpj` it holds. The CNPJ follows the alphanumeric
//! format introduced in 2026, which also validates every classic all-digit CNPJ.
//! `Debug` is masked on purpose: these are personal data (LGPD) and Debug ends up in logs.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("tamanho inválido: CPF tem 11 dígitos e CNPJ 14 caracteres / wrong length: a CPF has 11 digits and a CNPJ 14 characters")]
    WrongLength,
    #[error("caractere inválido no documento / invalid character in document")]
    InvalidCharacter,
    #[error("dígitos verificadores inválidos / invalid check digits")]
    InvalidCheckDigits,
    #[error("documento com todos os caracteres iguais / document with all characters the same")]
    RepeatedDigits,
}

/// CPF: 11 digits, the last two being check digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpf(String);

/// CNPJ: 12 characters of [0-9A-Z] plus 2 numeric check digits, uppercase.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cnpj(String);

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Document {
    Cpf(Cpf),
    Cnpj(Cnpj),
    /// Erased at the payer's request (LGPD art. 18, VI): never parsed from input, only read back from storage.
    Erased(ErasedDocument),
}

/// What is left of an erased CPF/CNPJ: its kind and a fingerprint keyed by the merchant
/// (`erased:{cpf|cnpj}:{sha256(merchant/number)}`), enough to confirm an audit that brings the number ("were
/// these charges this CPF's?") and never the number itself.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErasedDocument(String);

impl ErasedDocument {
    const PREFIX: &'static str = "erased:";

    fn parse_stored(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(Self::PREFIX)?;
        let (kind, hash) = rest.split_once(':')?;
        let ok = matches!(kind, "cpf" | "cnpj") && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Self(s.to_string()))
    }

    fn kind(&self) -> &'static str {
        if self.0.starts_with("erased:cnpj:") {
            "cnpj"
        } else {
            "cpf"
        }
    }
}

/// Drops the usual punctuation ("529.982.247-25", "12.ABC.345/01DE-35") so people can
/// paste documents as printed; anything else is left for validation to reject.
fn strip_punctuation(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '.' | '-' | '/' | ' ')).collect()
}

fn all_same(s: &str) -> bool {
    s.as_bytes().windows(2).all(|w| w[0] == w[1])
}

/// Mod-11 check digit shared by CPF and CNPJ: 0 when the remainder is below 2.
fn mod11_check_digit(values: impl Iterator<Item = u32>, weights: &[u32]) -> u8 {
    let sum: u32 = values.zip(weights).map(|(v, w)| v * w).sum();
    let r = sum % 11;
    if r < 2 {
        0
    } else {
        (11 - r) as u8
    }
}

impl Cpf {
    fn parse_stored(s: &str) -> Result<Cpf, DocumentError> {
        Cpf::parse(s)
    }

    pub fn parse(s: &str) -> Result<Cpf, DocumentError> {
        let bare = strip_punctuation(s);
        if !bare.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DocumentError::InvalidCharacter);
        }
        if bare.len() != 11 {
            return Err(DocumentError::WrongLength);
        }
        // 000.000.000-00, 111.111.111-11... pass the checksum but are never issued.
        if all_same(&bare) {
            return Err(DocumentError::RepeatedDigits);
        }
        let digits: Vec<u32> = bare.bytes().map(|b| u32::from(b - b'0')).collect();
        let dv1 = mod11_check_digit(digits[..9].iter().copied(), &[10, 9, 8, 7, 6, 5, 4, 3, 2]);
        let dv2 = mod11_check_digit(digits[..9].iter().copied().chain([u32::from(dv1)]), &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
        if digits[9] != u32::from(dv1) || digits[10] != u32::from(dv2) {
            return Err(DocumentError::InvalidCheckDigits);
        }
        Ok(Cpf(bare))
    }

    /// Bare digits: "52998224725".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "529.982.247-25".
    pub fn formatted(&self) -> String {
        let s = &self.0;
        format!("{}.{}.{}-{}", &s[0..3], &s[3..6], &s[6..9], &s[9..11])
    }

    /// "***.982.247-**": the middle digits, as Brazilian receipts conventionally show them.
    pub fn masked(&self) -> String {
        let s = &self.0;
        format!("***.{}.{}-**", &s[3..6], &s[6..9])
    }
}

impl Cnpj {
    fn parse_stored(s: &str) -> Result<Cnpj, DocumentError> {
        Cnpj::parse(s)
    }

    pub fn parse(s: &str) -> Result<Cnpj, DocumentError> {
        let bare = strip_punctuation(s).to_ascii_uppercase();
        if !bare.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DocumentError::InvalidCharacter);
        }
        if bare.len() != 14 {
            return Err(DocumentError::WrongLength);
        }
        // Letters are allowed in the root and branch, never in the check digits.
        if !bare.as_bytes()[12..].iter().all(u8::is_ascii_digit) {
            return Err(DocumentError::InvalidCharacter);
        }
        // 00.000.000/0000-00 passes the checksum but is not a real CNPJ.
        if all_same(&bare) {
            return Err(DocumentError::RepeatedDigits);
        }
        // Receita Federal's rule: each character is worth its ASCII code minus 48,
        // so digits keep their value and 'A' is 17.
        let values: Vec<u32> = bare.bytes().map(|b| u32::from(b) - 48).collect();
        let dv1 = mod11_check_digit(values[..12].iter().copied(), &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]);
        let dv2 = mod11_check_digit(values[..12].iter().copied().chain([u32::from(dv1)]), &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]);
        if values[12] != u32::from(dv1) || values[13] != u32::from(dv2) {
            return Err(DocumentError::InvalidCheckDigits);
        }
        Ok(Cnpj(bare))
    }

    /// Bare uppercase: "12ABC34501DE35".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "12.ABC.345/01DE-35".
    pub fn formatted(&self) -> String {
        let s = &self.0;
        format!("{}.{}.{}/{}-{}", &s[0..2], &s[2..5], &s[5..8], &s[8..12], &s[12..14])
    }

    /// "12.ABC.345/****-**": the root identifies the company publicly; branch and check
    /// digits are hidden.
    pub fn masked(&self) -> String {
        let s = &self.0;
        format!("{}.{}.{}/****-**", &s[0..2], &s[2..5], &s[5..8])
    }
}

impl Document {
    /// Accepts either document, formatted or bare: 11 digits is a CPF, 14 characters a
    /// CNPJ. Lowercase letters are uppercased (CNPJs get typed by hand).
    pub fn parse(s: &str) -> Result<Document, DocumentError> {
        let bare = strip_punctuation(s);
        if !bare.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DocumentError::InvalidCharacter);
        }
        match bare.len() {
            11 => Cpf::parse(&bare).map(Document::Cpf),
            14 => Cnpj::parse(&bare).map(Document::Cnpj),
            _ => Err(DocumentError::WrongLength),
        }
    }

    /// A stored value: a document, or what is left of an erased one.
    fn parse_stored(s: &str) -> Result<Document, DocumentError> {
        match ErasedDocument::parse_stored(s) {
            Some(erased) => Ok(Document::Erased(erased)),
            None => Document::parse(s),
        }
    }

    /// The erased form of this document for `merchant`'s records (an erased one stays as it is).
    pub fn erased(&self, merchant: &str) -> Document {
        use sha2::{Digest, Sha256};
        match self {
            Document::Erased(_) => self.clone(),
            _ => {
                let hash = hex::encode(Sha256::digest(format!("{merchant}/{}", self.as_str()).as_bytes()));
                Document::Erased(ErasedDocument(format!("{}{}:{hash}", ErasedDocument::PREFIX, self.kind())))
            }
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Document::Cpf(d) => d.as_str(),
            Document::Cnpj(d) => d.as_str(),
            Document::Erased(d) => &d.0,
        }
    }

    pub fn formatted(&self) -> String {
        match self {
            Document::Cpf(d) => d.formatted(),
            Document::Cnpj(d) => d.formatted(),
            Document::Erased(_) => self.masked(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Document::Cpf(d) => d.masked(),
            Document::Cnpj(d) => d.masked(),
            Document::Erased(d) => format!("{} apagado (LGPD)", d.kind().to_uppercase()),
        }
    }

    /// "cpf" | "cnpj", for storage and APIs.
    pub fn kind(&self) -> &'static str {
        match self {
            Document::Cpf(_) => "cpf",
            Document::Cnpj(_) => "cnpj",
            Document::Erased(d) => d.kind(),
        }
    }

    pub fn is_company(&self) -> bool {
        self.kind() == "cnpj"
    }
}

impl From<Cpf> for Document {
    fn from(d: Cpf) -> Self {
        Document::Cpf(d)
    }
}

impl From<Cnpj> for Document {
    fn from(d: Cnpj) -> Self {
        Document::Cnpj(d)
    }
}

/// Display gives the bare value; Debug (used by logs) gives the masked one.
macro_rules! string_value_impls {
    ($t:ty, $name:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($name, "({:?})"), self.masked())
            }
        }

        impl std::str::FromStr for $t {
            type Err = DocumentError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                <$t>::parse_stored(&s).map_err(de::Error::custom)
            }
        }
    };
}

string_value_impls!(Cpf, "Cpf");
string_value_impls!(Cnpj, "Cnpj");
string_value_impls!(Document, "Document");

#[cfg(test)]
mod tests;
