//! Banco do Brasil as a `BankApi`: boletos through BB's **API Cobranças v2** (`POST /boletos`, `POST
//! /boletos/{id}/baixar`) and Pix charges with due date through BB's **API Pix v2**, the BCB Pix API
//! (`PUT /cobv/{txid}`). Both take an OAuth 2.0 client-credentials token from BB's token endpoint and the
//! application's `gw-dev-app-key` as a query parameter.
//!
//! The endpoints come from `BbConfig` (see `adapters::config`). Tokens are cached per scope until shortly
//! before they expire; a 401 gets one new token and one retry. Logs carry the operation, HTTP status and BB's
//! error codes, never the payer's name, document or address.

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

use crate::pay::late_fees::{DiscountValue, Fine, Interest};
use crate::pay::pix::CobvBody;
use crate::providers::{BankApi, BoletoAgreement, BoletoPayer, BoletoRegistered, BoletoRegistration, CobvRegistered, ProviderError};

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
mod tests {
    use super::*;
    use crate::address::{Address, Cep};
    use crate::document::Document;
    use crate::money::Money;
    use crate::pay::late_fees::{ChargeTerms, Discount};
    use crate::pay::pix::{cobv_body, Debtor};
    use base64::Engine;
    use rust_decimal_macros::dec;
    use wiremock::matchers::{body_json, body_string_contains, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn config(server: &MockServer) -> BbConfig {
        BbConfig {
            oauth_url: format!("{}/oauth/token", server.uri()),
            cobranca_base_url: format!("{}/cobrancas/v2", server.uri()),
            pix_base_url: format!("{}/pix/v2", server.uri()),
            client_id: "client-id".into(),
            client_secret: "s3cret".into(),
            developer_application_key: "app-key".into(),
            timeout: Duration::from_secs(2),
        }
    }

    fn granted(token: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": 600 }))
    }

    /// BB's token endpoint for `client-id:s3cret`, answering `token` `times` times.
    async fn oauth(server: &MockServer, token: &str, times: u64) {
        let basic = base64::engine::general_purpose::STANDARD.encode("client-id:s3cret");
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(header("authorization", format!("Basic {basic}").as_str()))
            .and(body_string_contains("grant_type=client_credentials"))
            .respond_with(granted(token))
            .up_to_n_times(times)
            .expect(times)
            .mount(server)
            .await;
    }

    fn registered(emv: &str) -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(json!({
            "numero": "00031285570000000123",
            "numeroCarteira": 17,
            "numeroVariacaoCarteira": 35,
            "codigoCliente": 704948825,
            "linhaDigitavel": "00190000090312855700000001231172710670000015000",
            "codigoBarraNumerico": "00197106700000150000000003128557000000012317",
            "numeroContratoCobranca": 19581316,
            "beneficiario": { "agencia": 452, "contaCorrente": 123873 },
            "qrCode": { "url": "", "txId": "", "emv": emv },
        }))
    }

    fn registration() -> BoletoRegistration {
        let due = day(2025, 5, 12);
        BoletoRegistration {
            agreement: BoletoAgreement { convenio: 3128557, carteira: 17, variacao: 35 },
            nosso_numero: "31285570000000123".into(),
            seu_numero: "chg_01jv3k8q6m2x9d7e5c4b3a2z1y".into(),
            issue_date: day(2025, 5, 2),
            due_date: due,
            terms: ChargeTerms {
                amount: Money::parse("150.00").unwrap(),
                effective_due_date: due,
                fine: Some(Fine::Percent(dec!(10))),
                interest: Some(Interest::PercentPerMonth(dec!(1))),
                discount: Some(Discount { until: day(2025, 5, 7), value: DiscountValue::Fixed(dec!(5.00)) }),
                abatement: None,
                consumer_cap: true,
            },
            days_payable_after_due: 30,
            payer: BoletoPayer {
                document: Document::parse("529.982.247-25").unwrap(),
                name: "Maria da Silva".into(),
                address: Address {
                    street: "Av. Paulista".into(),
                    number: "1000".into(),
                    complement: Some("Apto 12".into()),
                    district: "Bela Vista".into(),
                    city: "São Paulo".into(),
                    state: "SP".into(),
                    cep: Cep::parse("01310-100").unwrap(),
                },
            },
            description: "Mensalidade de maio".into(),
        }
    }

    async fn received_json(server: &MockServer, path_suffix: &str) -> Vec<Value> {
        let requests = server.received_requests().await.unwrap();
        requests.iter().filter(|r| r.url.path().ends_with(path_suffix)).map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
    }

    #[tokio::test]
    async fn registers_a_boleto_in_bbs_field_names_and_date_format_and_returns_its_codes() {
        let server = MockServer::start().await;
        oauth(&server, "tok-1", 1).await;
        Mock::given(method("POST"))
            .and(path("/cobrancas/v2/boletos"))
            .and(query_param("gw-dev-app-key", "app-key"))
            .and(header("authorization", "Bearer tok-1"))
            .respond_with(registered("00020101021226870014br.gov.bcb.pix2565qrcodepix.bb.com.br/pix/v2/cobv/abc"))
            .expect(1)
            .mount(&server)
            .await;

        let boleto = BancoDoBrasil::new(config(&server)).register_boleto(&registration()).await.unwrap();

        assert_eq!(boleto.barcode, "00197106700000150000000003128557000000012317");
        assert_eq!(boleto.digitable_line, "00190000090312855700000001231172710670000015000");
        assert_eq!(boleto.pix_copy_paste.as_deref(), Some("00020101021226870014br.gov.bcb.pix2565qrcodepix.bb.com.br/pix/v2/cobv/abc"));
        let sent = received_json(&server, "/boletos").await;
        assert_eq!(
            sent,
            [json!({
                "numeroConvenio": 3128557,
                "numeroCarteira": 17,
                "numeroVariacaoCarteira": 35,
                "codigoModalidade": 1,
                "dataEmissao": "02.05.2025",
                "dataVencimento": "12.05.2025",
                "valorOriginal": 150.0,
                "quantidadeDiasProtesto": 0,
                "quantidadeDiasNegativacao": 0,
                "indicadorAceiteTituloVencido": "S",
                "numeroDiasLimiteRecebimento": 30,
                "codigoAceite": "N",
                "codigoTipoTitulo": 2,
                "descricaoTipoTitulo": "DM",
                "indicadorPermissaoRecebimentoParcial": "N",
                "numeroTituloBeneficiario": "X9D7E5C4B3A2Z1Y",
                "numeroTituloCliente": "00031285570000000123",
                "mensagemBloquetoOcorrencia": "Mensalidade de maio",
                "desconto": { "tipo": 1, "dataExpiracao": "07.05.2025", "valor": 5.0 },
                "jurosMora": { "tipo": 2, "porcentagem": 1.0 },
                // The consumer's 10 % fine goes capped at 2 %, from the day after the due date.
                "multa": { "tipo": 2, "data": "13.05.2025", "porcentagem": 2.0 },
                "pagador": {
                    "tipoInscricao": 1,
                    "numeroInscricao": 52998224725u64,
                    "nome": "Maria da Silva",
                    "endereco": "Av. Paulista 1000 Apto 12",
                    "cep": 1310100,
                    "cidade": "São Paulo",
                    "bairro": "Bela Vista",
                    "uf": "SP",
                },
                "indicadorPix": "S",
            })]
        );
    }

    #[test]
    fn a_company_payer_goes_as_cnpj_with_its_fine_uncapped_and_daily_interest_as_monthly() {
        let mut r = registration();
        r.payer.document = Document::parse("11.222.333/0001-81").unwrap();
        r.terms.consumer_cap = false;
        r.terms.fine = Some(Fine::Fixed(dec!(20)));
        r.terms.interest = Some(Interest::PercentPerDay(dec!(0.033)));
        r.terms.discount = Some(Discount { until: day(2025, 5, 10), value: DiscountValue::Percent(dec!(5)) });
        r.terms.abatement = Some(dec!(10.50));

        let body = boleto_body(&r).unwrap();

        assert_eq!(body["pagador"]["tipoInscricao"], 2);
        assert_eq!(body["pagador"]["numeroInscricao"], 11222333000181u64);
        assert_eq!(body["multa"], json!({ "tipo": 1, "data": "13.05.2025", "valor": 20.0 }));
        assert_eq!(body["jurosMora"], json!({ "tipo": 2, "porcentagem": 0.99 }));
        assert_eq!(body["desconto"], json!({ "tipo": 2, "dataExpiracao": "10.05.2025", "porcentagem": 5.0 }));
        assert_eq!(body["valorAbatimento"], 10.5);
    }

    #[test]
    fn a_consumers_fixed_fine_is_capped_at_2_percent_of_the_debt_after_abatement() {
        let mut r = registration();
        r.terms.fine = Some(Fine::Fixed(dec!(50)));
        r.terms.abatement = Some(dec!(50));
        let body = boleto_body(&r).unwrap();
        assert_eq!(body["multa"], json!({ "tipo": 1, "data": "13.05.2025", "valor": 2.0 }));
    }

    #[test]
    fn no_fine_interest_discount_or_abatement_go_as_tipo_0_and_no_abatement_field() {
        let mut r = registration();
        (r.terms.fine, r.terms.interest, r.terms.discount) = (None, None, None);
        let body = boleto_body(&r).unwrap();
        for field in ["multa", "jurosMora", "desconto"] {
            assert_eq!(body[field], json!({ "tipo": 0 }), "{field}");
        }
        assert!(body.get("valorAbatimento").is_none());
    }

    #[test]
    fn an_alphanumeric_cnpj_goes_as_a_string() {
        let mut r = registration();
        r.payer.document = Document::parse("12.ABC.345/01DE-35").unwrap();
        let body = boleto_body(&r).unwrap();
        assert_eq!(body["pagador"]["tipoInscricao"], 2);
        assert_eq!(body["pagador"]["numeroInscricao"], "12ABC34501DE35");
    }

    #[test]
    fn texts_are_cut_to_bbs_limits_on_one_line() {
        let mut r = registration();
        r.description = format!("Linha 1\r\nLinha 2 {}", "x".repeat(200));
        r.payer.name = "N".repeat(70);
        r.payer.address.district = "B".repeat(40);
        let body = boleto_body(&r).unwrap();
        let message = body["mensagemBloquetoOcorrencia"].as_str().unwrap();
        assert_eq!(message.chars().count(), 165);
        assert!(message.starts_with("Linha 1  Linha 2 x"));
        assert_eq!(body["pagador"]["nome"].as_str().unwrap().len(), 60);
        assert_eq!(body["pagador"]["bairro"].as_str().unwrap().len(), 30);
    }

    #[tokio::test]
    async fn a_nosso_numero_outside_the_agreement_is_rejected_without_calling_bb() {
        let server = MockServer::start().await;
        let mut r = registration();
        r.nosso_numero = "99999990000000123".into();
        let err = BancoDoBrasil::new(config(&server)).register_boleto(&r).await.unwrap_err();
        assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "nosso_numero"), "{err:?}");
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn reuses_the_cached_token_for_later_and_concurrent_calls() {
        let server = MockServer::start().await;
        oauth(&server, "tok-1", 1).await;
        Mock::given(method("POST")).and(path("/cobrancas/v2/boletos")).respond_with(registered("")).expect(3).mount(&server).await;
        let bb = BancoDoBrasil::new(config(&server));
        let r = registration();

        let (a, b) = tokio::join!(bb.register_boleto(&r), bb.register_boleto(&r));
        let c = bb.register_boleto(&r).await;

        for result in [a, b, c] {
            assert_eq!(result.unwrap().pix_copy_paste, None, "an empty emv is no Pix");
        }
        let requests = server.received_requests().await.unwrap();
        let token_request = requests.iter().find(|r| r.url.path() == "/oauth/token").unwrap();
        assert!(String::from_utf8_lossy(&token_request.body).contains("scope=cobrancas.boletos-requisicao"));
    }

    #[tokio::test]
    async fn after_a_401_fetches_a_new_token_once_and_retries() {
        let server = MockServer::start().await;
        Mock::given(path("/oauth/token")).respond_with(granted("revoked")).up_to_n_times(1).expect(1).mount(&server).await;
        Mock::given(path("/oauth/token")).respond_with(granted("fresh")).expect(1).mount(&server).await;
        Mock::given(header("authorization", "Bearer revoked")).respond_with(ResponseTemplate::new(401)).expect(1).mount(&server).await;
        Mock::given(header("authorization", "Bearer fresh")).respond_with(registered("")).expect(1).mount(&server).await;

        let boleto = BancoDoBrasil::new(config(&server)).register_boleto(&registration()).await.unwrap();

        assert_eq!(boleto.barcode, "00197106700000150000000003128557000000012317");
    }

    #[tokio::test]
    async fn a_second_401_is_rejected() {
        let server = MockServer::start().await;
        Mock::given(path("/oauth/token")).respond_with(granted("tok")).expect(2).mount(&server).await;
        Mock::given(path("/cobrancas/v2/boletos")).respond_with(ResponseTemplate::new(401)).expect(2).mount(&server).await;

        let err = BancoDoBrasil::new(config(&server)).register_boleto(&registration()).await.unwrap_err();

        assert_eq!(err, ProviderError::Rejected { code: "http_401".into(), message: "Unauthorized".into() });
    }

    #[tokio::test]
    async fn maps_a_400_with_bbs_erros_to_rejected_with_its_codigo() {
        let server = MockServer::start().await;
        oauth(&server, "tok", 1).await;
        let erros = json!({ "erros": [{
            "codigo": "4874915",
            "versao": "1",
            "mensagem": "Nosso Número já incluído anteriormente.",
            "ocorrencia": "CHOM00000000000000000001"
        }]});
        Mock::given(path("/cobrancas/v2/boletos")).respond_with(ResponseTemplate::new(400).set_body_json(erros)).mount(&server).await;

        let err = BancoDoBrasil::new(config(&server)).register_boleto(&registration()).await.unwrap_err();

        assert_eq!(err, ProviderError::Rejected { code: "4874915".into(), message: "Nosso Número já incluído anteriormente.".into() });
    }

    #[test]
    fn reads_the_gateway_and_oauth_error_shapes_too() {
        let gateway = json!({ "errors": [{ "code": "4678420", "message": "Convênio não habilitado" }] });
        assert_eq!(
            outcome("op", StatusCode::UNPROCESSABLE_ENTITY, gateway.to_string().as_bytes()),
            Err(rejected("4678420", "Convênio não habilitado"))
        );
        let oauth = json!({ "error": "invalid_client", "error_description": "Client authentication failed" });
        assert_eq!(
            outcome("op", StatusCode::UNAUTHORIZED, oauth.to_string().as_bytes()),
            Err(rejected("invalid_client", "Client authentication failed"))
        );
        assert_eq!(outcome("op", StatusCode::NOT_FOUND, b""), Err(rejected("http_404", "Not Found")));
    }

    #[tokio::test]
    async fn maps_429_and_5xx_to_unavailable() {
        for status in [429, 500, 503] {
            let server = MockServer::start().await;
            oauth(&server, "tok", 1).await;
            Mock::given(path("/cobrancas/v2/boletos")).respond_with(ResponseTemplate::new(status)).mount(&server).await;

            let err = BancoDoBrasil::new(config(&server)).register_boleto(&registration()).await.unwrap_err();

            assert!(matches!(err, ProviderError::Unavailable(_)), "{status}: {err:?}");
        }
    }

    #[tokio::test]
    async fn a_bank_that_hangs_past_the_timeout_is_unavailable_without_leaking_the_app_key() {
        let server = MockServer::start().await;
        oauth(&server, "tok", 1).await;
        Mock::given(path("/cobrancas/v2/boletos")).respond_with(registered("").set_delay(Duration::from_secs(5))).mount(&server).await;
        let bb = BancoDoBrasil::new(BbConfig { timeout: Duration::from_millis(200), ..config(&server) });

        let err = bb.register_boleto(&registration()).await.unwrap_err();

        let ProviderError::Unavailable(reason) = err else { panic!("{err:?}") };
        assert!(reason.contains("timeout") && !reason.contains("app-key"), "{reason}");
    }

    #[tokio::test]
    async fn a_bank_that_refuses_the_connection_is_unavailable() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let server = MockServer::start().await;
        let bb = BancoDoBrasil::new(BbConfig { oauth_url: format!("http://{closed}/oauth/token"), ..config(&server) });

        let err = bb.register_boleto(&registration()).await.unwrap_err();

        assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    }

    fn cobv() -> CobvBody {
        let debtor = Debtor { document: Document::parse("52998224725").unwrap(), name: "Maria da Silva".into() };
        cobv_body(&registration().terms, &debtor, "cobranca@example.com", 30).unwrap()
    }

    const TXID: &str = "cob01JV3K8Q6M2X9D7E5C4B3A2Z1Y";

    #[tokio::test]
    async fn registers_a_cobv_with_the_bcb_body_and_returns_the_location_without_scheme() {
        let server = MockServer::start().await;
        oauth(&server, "pix-tok", 1).await;
        let body = cobv();
        Mock::given(method("PUT"))
            .and(path(format!("/pix/v2/cobv/{TXID}")))
            .and(query_param("gw-dev-app-key", "app-key"))
            .and(header("authorization", "Bearer pix-tok"))
            .and(body_json(serde_json::to_value(&body).unwrap()))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "txid": TXID,
                "revisao": 0,
                "status": "ATIVA",
                "location": format!("https://qrcodepix.bb.com.br/pix/v2/cobv/{TXID}"),
                "loc": { "id": 7768, "location": format!("qrcodepix.bb.com.br/pix/v2/cobv/{TXID}"), "tipoCob": "cobv" },
            })))
            .expect(1)
            .mount(&server)
            .await;

        let registered = BancoDoBrasil::new(config(&server)).register_cobv(TXID, &body).await.unwrap();

        assert_eq!(registered.location, format!("qrcodepix.bb.com.br/pix/v2/cobv/{TXID}"));
        let token_request = &server.received_requests().await.unwrap()[0];
        assert!(String::from_utf8_lossy(&token_request.body).contains("scope=cobv.write"));
    }

    #[tokio::test]
    async fn a_cobv_refused_with_bcb_problem_json_is_rejected_with_its_type_and_violations() {
        let server = MockServer::start().await;
        oauth(&server, "pix-tok", 1).await;
        let problem = json!({
            "type": "https://pix.bcb.gov.br/api/v2/error/CobVOperacaoInvalida",
            "title": "Cobrança inválida.",
            "status": 400,
            "detail": "A requisição não respeita o schema ou está semanticamente errada.",
            "violacoes": [{ "razao": "Data de vencimento anterior à data atual.", "propriedade": "calendario.dataDeVencimento" }]
        });
        Mock::given(method("PUT")).respond_with(ResponseTemplate::new(400).set_body_json(problem)).mount(&server).await;

        let err = BancoDoBrasil::new(config(&server)).register_cobv(TXID, &cobv()).await.unwrap_err();

        let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
        assert_eq!(code, "CobVOperacaoInvalida");
        assert!(message.contains("calendario.dataDeVencimento: Data de vencimento anterior à data atual."), "{message}");
    }

    #[tokio::test]
    async fn writes_off_by_the_20_digit_titulo_number_with_the_convenio_in_the_body() {
        let server = MockServer::start().await;
        oauth(&server, "tok", 1).await;
        Mock::given(method("POST"))
            .and(path("/cobrancas/v2/boletos/00031285570000000123/baixar"))
            .and(query_param("gw-dev-app-key", "app-key"))
            .and(header("authorization", "Bearer tok"))
            .and(body_json(json!({ "numeroConvenio": 3128557 })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "numeroContratoCobranca": "19581316", "dataBaixa": "13.05.2025", "horarioBaixa": "10:15:00"
            })))
            .expect(1)
            .mount(&server)
            .await;

        BancoDoBrasil::new(config(&server)).write_off_boleto(&registration().agreement, "31285570000000123").await.unwrap();
    }

    #[test]
    fn debug_shows_no_secrets() {
        let config = BbConfig {
            oauth_url: "https://oauth.bb.com.br/oauth/token".into(),
            cobranca_base_url: "https://api.bb.com.br/cobrancas/v2".into(),
            pix_base_url: "https://api-pix.bb.com.br/pix/v2".into(),
            client_id: "client-id".into(),
            client_secret: "s3cret".into(),
            developer_application_key: "app-key".into(),
            timeout: Duration::from_secs(10),
        };
        let shown = format!("{:?}", BancoDoBrasil::new(config));
        assert!(!shown.contains("s3cret") && !shown.contains("app-key"), "{shown}");
        assert!(shown.contains("client-id"));
    }
}
