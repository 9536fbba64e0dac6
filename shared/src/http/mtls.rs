//! Mutual TLS on inbound webhooks. API Gateway's custom domain with a truststore ends the TLS session and checks
//! the client's chain against every CA in the truststore; it forwards the certificate it accepted in the request
//! context. A truststore holds CAs, which sign certificates for many parties, so the chain alone does not say the
//! caller is *our* PSP: [`ClientCertPin`] does, on the forwarded certificate.

use chrono::{DateTime, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

/// A client certificate API Gateway accepted and forwarded (HTTP API `requestContext.authentication.clientCert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// SHA-256 of the certificate's DER encoding.
    pub sha256: [u8; 32],
    pub subject_dn: String,
    pub issuer_dn: String,
    pub serial_number: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl ClientCertificate {
    /// From the forwarded fields: `clientCertPem`, `subjectDN`, `issuerDN`, `serialNumber` and the validity as
    /// API Gateway writes it (`"Aug  5 09:36:04 2021 GMT"`). None when the PEM or a date does not parse: such a
    /// certificate can prove nothing.
    pub fn from_forwarded(pem: &str, subject_dn: &str, issuer_dn: &str, serial_number: &str, not_before: &str, not_after: &str) -> Option<Self> {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
        Some(Self {
            sha256: Sha256::digest(der.as_ref()).into(),
            subject_dn: subject_dn.to_string(),
            issuer_dn: issuer_dn.to_string(),
            serial_number: serial_number.to_string(),
            not_before: parse_validity(not_before)?,
            not_after: parse_validity(not_after)?,
        })
    }

    pub fn fingerprint_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// `"May 28 12:30:02 2019 GMT"` (OpenSSL's form; the day may be space-padded).
fn parse_validity(s: &str) -> Option<DateTime<Utc>> {
    let words: Vec<&str> = s.split_whitespace().collect();
    NaiveDateTime::parse_from_str(&words.join(" "), "%b %d %H:%M:%S %Y GMT").ok().map(|t| t.and_utc())
}

/// Which client certificate is our PSP's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCertPin {
    /// The SHA-256 of the certificate's DER (any of these, so a renewed certificate can be added before the PSP
    /// switches to it).
    Sha256(Vec<[u8; 32]>),
    /// The subject and issuer distinguished names, exactly as API Gateway forwards them: survives the PSP's
    /// renewals, and relies on the truststore holding only CAs that would not issue that subject to another.
    SubjectAndIssuer { subject_dn: String, issuer_dn: String },
}

impl ClientCertPin {
    /// Comma-separated SHA-256 fingerprints in hex, colons allowed (`openssl x509 -noout -fingerprint -sha256`).
    pub fn parse_sha256(raw: &str) -> Result<Self, String> {
        let pins = raw
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let digits: String = p.chars().filter(|c| *c != ':').collect();
                hex::decode(&digits)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| format!("{p:?} is not a SHA-256 fingerprint (64 hex digits)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if pins.is_empty() {
            return Err("no fingerprint given".into());
        }
        Ok(Self::Sha256(pins))
    }

    /// Whether `cert` is the pinned certificate and valid at `now`; the reason when not.
    pub fn admits(&self, cert: Option<&ClientCertificate>, now: DateTime<Utc>) -> Result<(), &'static str> {
        use subtle::ConstantTimeEq;
        let cert = cert.ok_or("no client certificate")?;
        if now < cert.not_before || now > cert.not_after {
            return Err("client certificate outside its validity");
        }
        let pinned = match self {
            Self::Sha256(pins) => pins.iter().any(|p| bool::from(p.as_slice().ct_eq(cert.sha256.as_slice()))),
            Self::SubjectAndIssuer { subject_dn, issuer_dn } => *subject_dn == cert.subject_dn && *issuer_dn == cert.issuer_dn,
        };
        if pinned {
            Ok(())
        } else {
            Err("client certificate is not the configured PSP's")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn validity_parses_as_api_gateway_writes_it() {
        assert_eq!(parse_validity("Aug  5 09:36:04 2021 GMT"), Some(Utc.with_ymd_and_hms(2021, 8, 5, 9, 36, 4).unwrap()));
        assert_eq!(parse_validity("May 28 12:30:02 2019 GMT"), Some(Utc.with_ymd_and_hms(2019, 5, 28, 12, 30, 2).unwrap()));
        assert_eq!(parse_validity("2019-05-28T12:30:02Z"), None);
    }

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let hex = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(ClientCertPin::parse_sha256(&format!("{hex}, {colons}")), Ok(ClientCertPin::Sha256(vec![[0xab; 32], [0xab; 32]])));
        assert!(ClientCertPin::parse_sha256("").is_err());
        assert!(ClientCertPin::parse_sha256("abcd").is_err());
    }
}
