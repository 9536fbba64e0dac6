//! Banco do Brasil as a `BankApi`: boletos through BB's **API Cobranças v2** (`POST /boletos`, `POST
//! /boletos/{id}/baixar`) and Pix charges with due date through BB's **API Pix v2**, the BCB Pix API
//! (`PUT /cobv/{txid}`). Both take an OAuth 2.0 client-credentials token from BB's token endpoint and the
//! application's `gw-dev-app-key` as a query parameter.
//!
//! The endpoints come from `BbConfig` (see `adapters::config`). Tokens are cached per scope until shortly
//! before they expire; a 401 gets one new token and one retry. Logs carry the operation, HTTP status and BB's
//! error codes, never the payer's name, document or address.

/// What it declares about itself, for the registry of institutions.
pub mod connector;

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDate;
use reqwest::{RequestBuilder, StatusCode};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::domain::pay::late_fees::{DiscountValue, Fine, Interest};
use crate::domain::pay::pix::CobvBody;
use crate::ports::providers::{BankApi, BoletoAgreement, BoletoPayer, BoletoRegistered, BoletoRegistration, CobvRegistered, ProviderError};

/// One token per API, each with only the scope it needs, so a deployment with one of the two APIs enabled
/// still gets tokens for it.
const BOLETO_SCOPE: &str = "cobrancas.boletos-requisicao";
const COBV_SCOPE: &str = "cobv.write";
/// A cached token is replaced this long before BB says it expires (BB's tokens last 600 s).
const REFRESH_MARGIN_SECS: u64 = 60;

#[derive(Clone)]
pub struct BbConfig {
    pub oauth_url: String,
    pub cobranca_base_url: String,
    pub pix_base_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub developer_application_key: String,
    pub timeout: Duration,
}

impl fmt::Debug for BbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BbConfig")
            .field("oauth_url", &self.oauth_url)
            .field("cobranca_base_url", &self.cobranca_base_url)
            .field("pix_base_url", &self.pix_base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("developer_application_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

struct Token {
    value: String,
    refresh_at: Instant,
}

/// The cached token of one scope. The lock is held while fetching, so concurrent callers share one fetch.
struct TokenSlot {
    scope: &'static str,
    token: Mutex<Option<Token>>,
}

impl TokenSlot {
    fn new(scope: &'static str) -> Self {
        Self { scope, token: Mutex::new(None) }
    }

    /// Drops the cached token if it is still the one BB refused (another caller may have replaced it already).
    async fn forget(&self, refused: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == refused) {
            *cached = None;
        }
    }
}

pub struct BancoDoBrasil {
    config: BbConfig,
    http: reqwest::Client,
    boletos: TokenSlot,
    pix: TokenSlot,
}

impl fmt::Debug for BancoDoBrasil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BancoDoBrasil").field("config", &self.config).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: u64,
}

/// The part of BB's `POST /boletos` answer we keep (it also has numero, codigoCliente, numeroContratoCobranca…).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registered {
    linha_digitavel: String,
    codigo_barra_numerico: String,
    #[serde(default)]
    qr_code: Option<QrCode>,
}

#[derive(Deserialize)]
struct QrCode {
    #[serde(default)]
    emv: Option<String>,
}

/// BCB Pix API v2 answers with `location` at the top and inside `loc`.
#[derive(Deserialize)]
struct CobvCreated {
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    loc: Option<Loc>,
}

#[derive(Deserialize)]
struct Loc {
    #[serde(default)]
    location: Option<String>,
}

impl BancoDoBrasil {
    pub fn new(config: BbConfig) -> Self {
        let http = reqwest::Client::builder().timeout(config.timeout).build().expect("the HTTP client builds (rustls needs no system setup)");
        Self { http, boletos: TokenSlot::new(BOLETO_SCOPE), pix: TokenSlot::new(COBV_SCOPE), config }
    }

    async fn token(&self, slot: &TokenSlot) -> Result<String, ProviderError> {
        let mut cached = slot.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let request = self
            .http
            .post(&self.config.oauth_url)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", slot.scope)]);
        let (status, body) = send("oauth", request).await?;
        let granted: Granted = parse("oauth", outcome("oauth", status, &body)?)?;
        let lifetime = granted.expires_in.saturating_sub(REFRESH_MARGIN_SECS).max(granted.expires_in / 2);
        let token = Token { value: granted.access_token, refresh_at: Instant::now() + Duration::from_secs(lifetime) };
        Ok(cached.insert(token).value.clone())
    }

    /// Sends an authorised request. A 401 (token revoked or expired early) gets one new token and one retry.
    async fn call(&self, op: &'static str, slot: &TokenSlot, request: impl Fn(&str) -> RequestBuilder) -> Result<Value, ProviderError> {
        let token = self.token(slot).await?;
        let (mut status, mut body) = send(op, request(&token)).await?;
        if status == StatusCode::UNAUTHORIZED {
            tracing::info!(op, "banco do brasil refused the token, fetching a new one");
            slot.forget(&token).await;
            let token = self.token(slot).await?;
            (status, body) = send(op, request(&token)).await?;
        }
        outcome(op, status, &body)
    }

    fn authorised(&self, request: RequestBuilder, token: &str) -> RequestBuilder {
        request.query(&[("gw-dev-app-key", &self.config.developer_application_key)]).bearer_auth(token)
    }

    fn cobranca_url(&self, path: &str) -> String {
        format!("{}{path}", self.config.cobranca_base_url.trim_end_matches('/'))
    }
}

#[async_trait]
impl BankApi for BancoDoBrasil {
    async fn register_boleto(&self, registration: &BoletoRegistration) -> Result<BoletoRegistered, ProviderError> {
        let body = boleto_body(registration)?;
        let url = self.cobranca_url("/boletos");
        let answer = self.call("register_boleto", &self.boletos, |token| self.authorised(self.http.post(&url), token).json(&body)).await?;
        let registered: Registered = parse("register_boleto", answer)?;
        Ok(BoletoRegistered {
            barcode: registered.codigo_barra_numerico,
            digitable_line: registered.linha_digitavel,
            pix_copy_paste: registered.qr_code.and_then(|q| q.emv).filter(|emv| !emv.is_empty()),
        })
    }

    async fn write_off_boleto(&self, agreement: &BoletoAgreement, nosso_numero: &str) -> Result<(), ProviderError> {
        let url = self.cobranca_url(&format!("/boletos/{}/baixar", numero_titulo(agreement, nosso_numero)?));
        let body = json!({ "numeroConvenio": agreement.convenio });
        self.call("write_off_boleto", &self.boletos, |token| self.authorised(self.http.post(&url), token).json(&body)).await.map(drop)
    }

    async fn register_cobv(&self, txid: &str, body: &CobvBody) -> Result<CobvRegistered, ProviderError> {
        // BCB: txid is [a-zA-Z0-9]{26,35}; checked here as it goes into the path.
        if !(26..=35).contains(&txid.len()) || !txid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(rejected("txid", "txid deve ter de 26 a 35 letras ou dígitos / txid must be 26 to 35 letters or digits"));
        }
        let body = serde_json::to_value(body).map_err(|e| rejected("cobv_body", e.to_string()))?;
        let url = format!("{}/cobv/{txid}", self.config.pix_base_url.trim_end_matches('/'));
        let answer = self.call("register_cobv", &self.pix, |token| self.authorised(self.http.put(&url), token).json(&body)).await?;
        let created: CobvCreated = parse("register_cobv", answer)?;
        let location = created.location.or(created.loc.and_then(|l| l.location)).ok_or_else(|| unexpected("register_cobv"))?;
        Ok(CobvRegistered { location: location.strip_prefix("https://").unwrap_or(&location).to_owned() })
    }
}

/// The `POST /boletos` body in BB's field names.
fn boleto_body(r: &BoletoRegistration) -> Result<Value, ProviderError> {
    let terms = &r.terms;
    terms.check().map_err(|e| rejected("terms", e.to_string()))?;
    let date = |d: NaiveDate| d.format("%d.%m.%Y").to_string();
    let debt = terms.amount.as_decimal() - terms.abatement.unwrap_or_default();
    let desconto = match terms.discount {
        Some(d) => match d.value {
            DiscountValue::Fixed(v) if !v.is_zero() => json!({ "tipo": 1, "dataExpiracao": date(d.until), "valor": number(v) }),
            DiscountValue::Percent(p) if !p.is_zero() => json!({ "tipo": 2, "dataExpiracao": date(d.until), "porcentagem": number(p) }),
            _ => json!({ "tipo": 0 }),
        },
        None => json!({ "tipo": 0 }),
    };
    let juros_mora = match terms.interest {
        Some(Interest::FixedPerDay(v)) if !v.is_zero() => json!({ "tipo": 1, "valor": number(v) }),
        Some(Interest::PercentPerMonth(p)) if !p.is_zero() => json!({ "tipo": 2, "porcentagem": number(p) }),
        // BB has no daily rate. Its tipo 2 is a monthly rate charged pro rata die over 30 days, the convention
        // `late_fees` prices with, so p % a day is sent as 30 × p % a month and each day's interest is the same.
        Some(Interest::PercentPerDay(p)) if !p.is_zero() => json!({ "tipo": 2, "porcentagem": number(p * Decimal::from(30)) }),
        _ => json!({ "tipo": 0 }),
    };
    // BB charges the fine from `data`, which must come after the due date.
    let fine_from = date(r.due_date.succ_opt().unwrap_or(r.due_date));
    let multa = match terms.fine.map(|f| f.capped(debt, terms.consumer_cap)) {
        Some(Fine::Fixed(v)) if !v.is_zero() => json!({ "tipo": 1, "data": fine_from, "valor": number(v) }),
        Some(Fine::Percent(p)) if !p.is_zero() => json!({ "tipo": 2, "data": fine_from, "porcentagem": number(p) }),
        _ => json!({ "tipo": 0 }),
    };
    let mut body = json!({
        "numeroConvenio": r.agreement.convenio,
        "numeroCarteira": r.agreement.carteira,
        "numeroVariacaoCarteira": r.agreement.variacao,
        "codigoModalidade": 1,
        "dataEmissao": date(r.issue_date),
        "dataVencimento": date(r.due_date),
        "valorOriginal": number(terms.amount.as_decimal()),
        "quantidadeDiasProtesto": 0,
        "quantidadeDiasNegativacao": 0,
        "indicadorAceiteTituloVencido": "S",
        "numeroDiasLimiteRecebimento": r.days_payable_after_due,
        "codigoAceite": "N",
        "codigoTipoTitulo": 2,
        "descricaoTipoTitulo": "DM",
        "indicadorPermissaoRecebimentoParcial": "N",
        "numeroTituloBeneficiario": seu_numero(&r.seu_numero),
        "numeroTituloCliente": numero_titulo(&r.agreement, &r.nosso_numero)?,
        "mensagemBloquetoOcorrencia": clip(&r.description, 165),
        "desconto": desconto,
        "jurosMora": juros_mora,
        "multa": multa,
        "pagador": pagador(&r.payer),
        "indicadorPix": "S",
    });
    // BB refuses a valorAbatimento of zero ("se informado, deve ser maior que zero").
    if let Some(abatement) = terms.abatement.filter(|a| !a.is_zero()) {
        body["valorAbatimento"] = number(abatement);
    }
    Ok(body)
}

/// BB's field limits: nome and endereco 60 characters, cidade and bairro 30.
fn pagador(payer: &BoletoPayer) -> Value {
    let address = &payer.address;
    let document = payer.document.as_str();
    let street = [address.street.as_str(), address.number.as_str(), address.complement.as_deref().unwrap_or_default()];
    let endereco = street.map(str::trim).iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
    json!({
        "tipoInscricao": if payer.document.is_company() { 2 } else { 1 },
        // BB wants a number; an alphanumeric CNPJ (2026 format) can only go as a string.
        "numeroInscricao": document.parse::<u64>().map_or_else(|_| json!(document), Value::from),
        "nome": clip(&payer.name, 60),
        "endereco": clip(&endereco, 60),
        "cep": address.cep.as_str().parse::<u32>().map_or_else(|_| json!(address.cep.as_str()), Value::from),
        "cidade": clip(&address.city, 30),
        "bairro": clip(&address.district, 30),
        "uf": address.state,
    })
}

/// BB's `numeroTituloCliente`: "000" + the 17-digit nosso número (7-digit convênio + 10-digit sequence).
fn numero_titulo(agreement: &BoletoAgreement, nosso_numero: &str) -> Result<String, ProviderError> {
    let digits = nosso_numero.len() == 17 && nosso_numero.bytes().all(|b| b.is_ascii_digit());
    if !digits || !nosso_numero.starts_with(&format!("{:07}", agreement.convenio)) {
        return Err(rejected(
            "nosso_numero",
            "o nosso número deve ser o convênio seguido de 10 dígitos / the nosso número must be the convênio followed by 10 digits",
        ));
    }
    Ok(format!("000{nosso_numero}"))
}

/// BB's `numeroTituloBeneficiario` takes 15 characters of A–Z and 0–9: the tail of our id, the part that varies.
fn seu_numero(id: &str) -> String {
    let chars: Vec<char> = id.chars().filter(char::is_ascii_alphanumeric).collect();
    chars[chars.len().saturating_sub(15)..].iter().collect::<String>().to_ascii_uppercase()
}

/// Free text cut to a BB limit, on one line (BB refuses line breaks in its texts).
fn clip(text: &str, max: usize) -> String {
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    one_line.trim().chars().take(max).collect::<String>().trim_end().to_owned()
}

/// BB takes amounts and rates as JSON numbers. The number is parsed from the decimal's exact text; a value of at
/// most 15 significant digits (every amount here is at most 99 999 999.99) is written back as the same shortest
/// text, e.g. 123.45. This is the one place money becomes a binary number, on the wire only.
fn number(d: Decimal) -> Value {
    let d = d.normalize();
    let text = if d.scale() <= 2 { format!("{d:.2}") } else { d.to_string() };
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn send(op: &'static str, request: RequestBuilder) -> Result<(StatusCode, Vec<u8>), ProviderError> {
    let response = request.send().await.map_err(|e| transport_error(op, e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| transport_error(op, e))?;
    Ok((status, body.to_vec()))
}

/// The one mapping from BB's answers to results: 2xx is the JSON body (`null` when empty); 408, 429 and 5xx are
/// `Unavailable`; any other status (400, 401 after the retry, 403, 404, 409, 422…) is `Rejected` with BB's code.
fn outcome(op: &'static str, status: StatusCode, body: &[u8]) -> Result<Value, ProviderError> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if status.is_success() {
        tracing::info!(op, status = status.as_u16(), "banco do brasil");
        return Ok(json);
    }
    let (code, message) =
        error_detail(&json).unwrap_or_else(|| (format!("http_{}", status.as_u16()), status.canonical_reason().unwrap_or_default().to_owned()));
    tracing::warn!(op, status = status.as_u16(), code = %code, "banco do brasil error");
    if status.is_server_error() || matches!(status, StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS) {
        Err(ProviderError::Unavailable(format!("{op}: HTTP {}: {code}: {message}", status.as_u16())))
    } else {
        Err(ProviderError::Rejected { code, message })
    }
}

/// (code, message) from BB's error shapes: Cobranças' `{"erros":[{"codigo","versao","mensagem","ocorrencia"}]}`,
/// the gateway's `{"errors":[{"code","message"}]}`, the BCB Pix problem+json `{"type","title","status","detail",
/// "violacoes":[{"razao","propriedade"}]}` and OAuth's `{"error","error_description"}`.
fn error_detail(json: &Value) -> Option<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let list = |key: &str, code: &str, message: &str| {
        let errors = json.get(key)?.as_array()?;
        let messages: Vec<String> = errors.iter().map(|e| text(&e[message])).filter(|m| !m.is_empty()).collect();
        Some((text(&errors.first()?[code]), messages.join("; ")))
    };
    let problem = || {
        json.get("title").or_else(|| json.get("type"))?;
        let kind = json["type"].as_str().and_then(|t| t.rsplit('/').next()).filter(|k| !k.is_empty());
        let violations = json["violacoes"].as_array().into_iter().flatten();
        let violations = violations.map(|v| format!("{}: {}", text(&v["propriedade"]), text(&v["razao"])));
        let parts = [text(&json["title"]), text(&json["detail"])].into_iter().filter(|s| !s.is_empty()).chain(violations);
        Some((kind.map_or_else(|| text(&json["title"]), str::to_owned), parts.collect::<Vec<_>>().join("; ")))
    };
    let oauth = || {
        let description = [&json["error_description"], &json["message"]].into_iter().map(text).find(|s| !s.is_empty());
        Some((text(json.get("error")?), description.unwrap_or_default()))
    };
    list("erros", "codigo", "mensagem")
        .or_else(|| list("errors", "code", "message"))
        .or_else(problem)
        .or_else(oauth)
        .filter(|(code, _)| !code.is_empty())
}

fn transport_error(op: &'static str, e: reqwest::Error) -> ProviderError {
    // Without the URL: it carries the developer application key.
    let e = e.without_url();
    let mut reason = if e.is_timeout() { "timeout".to_owned() } else { e.to_string() };
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        reason = format!("{reason}: {cause}");
        source = cause.source();
    }
    tracing::warn!(op, reason = %reason, "banco do brasil unreachable");
    ProviderError::Unavailable(format!("{op}: {reason}"))
}

fn parse<T: DeserializeOwned>(op: &'static str, json: Value) -> Result<T, ProviderError> {
    serde_json::from_value(json).map_err(|e| {
        tracing::warn!(op, error = %e, "unexpected answer from banco do brasil");
        unexpected(op)
    })
}

/// A 2xx we cannot read: the operation may or may not have happened, so it is worth asking again.
fn unexpected(op: &'static str) -> ProviderError {
    ProviderError::Unavailable(format!("{op}: resposta inesperada do Banco do Brasil / unexpected answer from Banco do Brasil"))
}

fn rejected(code: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Rejected { code: code.into(), message: message.into() }
}

#[cfg(test)]
mod tests;
