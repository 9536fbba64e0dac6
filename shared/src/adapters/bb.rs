//! Banco do Brasil, for wallets on provider `banco_do_brasil`:
//! - API Cobranças v2 (`POST /boletos`, `POST /boletos/{id}/baixar`) to register and write off boletos;
//! - API Pix v2 (`PUT /cobv/{txid}`, the BCB Pix API) for charges with a due date.
//!
//! Both authenticate with OAuth 2 client credentials (`oauth.bb.com.br/oauth/token`, HTTP Basic) and the
//! developer application key as the `gw-dev-app-key` query parameter. The token is cached until shortly before
//! it expires. Errors: 400/404/409/422 are refusals of this request (`Rejected`, with BB's own code); 401 gets
//! one token refresh; 429, 5xx, timeouts and network failures are `Unavailable` (the queue retries).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDate;
use reqwest::{Method, RequestBuilder, StatusCode};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::document::Document;
use crate::pay::late_fees::{round_cents, DiscountValue, Fine, Interest};
use crate::pay::pix::CobvBody;
use crate::providers::{BankApi, BoletoAgreement, BoletoRegistered, BoletoRegistration, CobvRegistered, ProviderError};

#[derive(Clone)]
pub struct BbConfig {
    /// `https://oauth.bb.com.br/oauth/token` (sandbox: `https://oauth.sandbox.bb.com.br/oauth/token`).
    pub oauth_url: String,
    /// `https://api.bb.com.br/cobrancas/v2`.
    pub cobranca_base_url: String,
    /// `https://api.bb.com.br/pix/v2`.
    pub pix_base_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub developer_application_key: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for BbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BbConfig")
            .field("oauth_url", &self.oauth_url)
            .field("cobranca_base_url", &self.cobranca_base_url)
            .field("pix_base_url", &self.pix_base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("developer_application_key", &"***")
            .finish()
    }
}

pub struct BancoDoBrasil {
    config: BbConfig,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

const SCOPES: &str = "cobrancas.boletos-requisicao cobrancas.boletos-info cobv.write cobv.read";

impl BancoDoBrasil {
    pub fn new(config: BbConfig) -> Self {
        let http = reqwest::Client::builder().timeout(config.timeout).build().expect("HTTP client");
        Self { config, http, token: Mutex::new(None) }
    }

    /// A valid access token, fetched once and reused until a minute before it expires.
    async fn token(&self, refresh: bool) -> Result<String, ProviderError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if !refresh && Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let response = self
            .http
            .post(&self.config.oauth_url)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", SCOPES)])
            .send()
            .await
            .map_err(network)?;
        let body = checked(response).await?;
        let token = body["access_token"].as_str().ok_or_else(|| ProviderError::Unavailable("oauth: no access_token".into()))?.to_string();
        let lifetime = body["expires_in"].as_u64().unwrap_or(600).saturating_sub(60).max(1);
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(lifetime)));
        Ok(token)
    }

    /// Sends a call with the bearer token and the application key; a 401 refreshes the token once.
    async fn call(&self, method: Method, url: String, body: &Value) -> Result<Value, ProviderError> {
        let build = |token: &str| -> RequestBuilder {
            self.http.request(method.clone(), &url).query(&[("gw-dev-app-key", &self.config.developer_application_key)]).bearer_auth(token).json(body)
        };
        let response = build(&self.token(false).await?).send().await.map_err(network)?;
        if response.status() == StatusCode::UNAUTHORIZED {
            tracing::info!("bb: token refused, refreshing once");
            let response = build(&self.token(true).await?).send().await.map_err(network)?;
            return checked(response).await;
        }
        checked(response).await
    }
}

fn network(e: reqwest::Error) -> ProviderError {
    ProviderError::Unavailable(if e.is_timeout() { "timeout".into() } else { format!("network: {e}") })
}

/// The one place BB's answers become ours.
async fn checked(response: reqwest::Response) -> Result<Value, ProviderError> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let (code, message) = error_of(&body, status);
    tracing::warn!(status = status.as_u16(), %code, "bb error");
    match status.as_u16() {
        400 | 401 | 403 | 404 | 409 | 422 => Err(ProviderError::Rejected { code, message }),
        _ => Err(ProviderError::Unavailable(format!("{}: {code}: {message}", status.as_u16()))),
    }
}

/// BB answers errors in three shapes: `{"erros":[{"codigo","mensagem"}]}` (Cobranças),
/// `{"errors":[{"code","message"}]}` (gateway) and the BCB problem+json `{"title","detail","violacoes"}` (Pix).
fn error_of(body: &Value, status: StatusCode) -> (String, String) {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if let Some(e) = body["erros"].get(0) {
        return (text(&e["codigo"]), text(&e["mensagem"]));
    }
    if let Some(e) = body["errors"].get(0) {
        return (text(&e["code"]), text(&e["message"]));
    }
    if body["title"].is_string() {
        let violations: Vec<String> = body["violacoes"].as_array().into_iter().flatten().map(|v| format!("{}: {}", text(&v["propriedade"]), text(&v["razao"]))).collect();
        let detail = [text(&body["detail"]), violations.join("; ")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" — ");
        return (text(&body["title"]), detail);
    }
    (status.as_u16().to_string(), status.canonical_reason().unwrap_or("error").to_string())
}

fn bb_date(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

/// A decimal as the JSON number BB expects, with two places. The number is parsed from the exact decimal text
/// and serde_json writes it back by the shortest representation, so "1234.56" goes out as 1234.56.
fn amount(d: Decimal) -> Value {
    serde_json::from_str(&format!("{:.2}", round_cents(d))).unwrap_or(Value::Null)
}

/// `numeroTituloCliente`: "000" + convênio (7) + sequence (10) = 20 digits.
fn title_id(nosso_numero: &str) -> String {
    format!("000{nosso_numero}")
}

/// The `POST /boletos` body, in BB's field names and formats.
fn registration_body(r: &BoletoRegistration) -> Value {
    let terms = &r.terms;
    let debt = terms.amount.as_decimal() - terms.abatement.unwrap_or_default();
    let desconto = match terms.discount {
        None => json!({"tipo": 0}),
        Some(d) => match d.value {
            DiscountValue::Fixed(v) => json!({"tipo": 1, "dataExpiracao": bb_date(d.until), "valor": amount(v)}),
            DiscountValue::Percent(p) => json!({"tipo": 2, "dataExpiracao": bb_date(d.until), "porcentagem": amount(p)}),
        },
    };
    let juros = match terms.interest {
        None => json!({"tipo": 0}),
        Some(Interest::FixedPerDay(v)) => json!({"tipo": 1, "valor": amount(v)}),
        Some(Interest::PercentPerMonth(p)) => json!({"tipo": 2, "porcentagem": amount(p)}),
        // BB takes a monthly rate; 30 days × the daily rate is the same pro rata die charge.
        Some(Interest::PercentPerDay(p)) => json!({"tipo": 2, "porcentagem": amount(p * Decimal::from(30))}),
    };
    let first_late_day = terms.effective_due_date.succ_opt().unwrap_or(terms.effective_due_date);
    let multa = match terms.fine.map(|f| f.capped(debt, terms.consumer_cap)) {
        None => json!({"tipo": 0}),
        Some(Fine::Fixed(v)) => json!({"tipo": 1, "data": bb_date(first_late_day), "valor": amount(v)}),
        Some(Fine::Percent(p)) => json!({"tipo": 2, "data": bb_date(first_late_day), "porcentagem": amount(p)}),
    };
    let payer = &r.payer;
    let (kind, number) = match &payer.document {
        Document::Cpf(c) => (1, c.as_str().parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(c.as_str()))),
        // An alphanumeric CNPJ cannot be a number: BB's 2026 layout takes it as text.
        Document::Cnpj(c) => (2, c.as_str().parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(c.as_str()))),
    };
    let a = &payer.address;
    let street = [Some(a.street.as_str()), Some(a.number.as_str()), a.complement.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
    let seu_numero: String = r.seu_numero.chars().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<String>().to_uppercase();
    json!({
        "numeroConvenio": r.agreement.convenio,
        "numeroCarteira": r.agreement.carteira,
        "numeroVariacaoCarteira": r.agreement.variacao,
        "codigoModalidade": 1,
        "dataEmissao": bb_date(r.issue_date),
        "dataVencimento": bb_date(r.due_date),
        "valorOriginal": amount(terms.amount.as_decimal()),
        "valorAbatimento": amount(terms.abatement.unwrap_or_default()),
        "quantidadeDiasProtesto": 0,
        "quantidadeDiasNegativacao": 0,
        "indicadorAceiteTituloVencido": if r.days_payable_after_due > 0 { "S" } else { "N" },
        "numeroDiasLimiteRecebimento": r.days_payable_after_due,
        "codigoAceite": "N",
        "codigoTipoTitulo": 2,
        "descricaoTipoTitulo": "DM",
        "indicadorPermissaoRecebimentoParcial": "N",
        "numeroTituloBeneficiario": seu_numero,
        "numeroTituloCliente": title_id(&r.nosso_numero),
        "mensagemBloquetoOcorrencia": r.description.chars().take(165).collect::<String>(),
        "desconto": desconto,
        "jurosMora": juros,
        "multa": multa,
        "pagador": {
            "tipoInscricao": kind,
            "numeroInscricao": number,
            "nome": payer.name.chars().take(60).collect::<String>(),
            "endereco": street.chars().take(60).collect::<String>(),
            "cep": a.cep.as_str().parse::<u64>().unwrap_or_default(),
            "cidade": a.city,
            "bairro": a.district,
            "uf": a.state,
        },
        "indicadorPix": "S",
    })
}

#[async_trait]
impl BankApi for BancoDoBrasil {
    async fn register_boleto(&self, r: &BoletoRegistration) -> Result<BoletoRegistered, ProviderError> {
        let url = format!("{}/boletos", self.config.cobranca_base_url.trim_end_matches('/'));
        let body = self.call(Method::POST, url, &registration_body(r)).await?;
        let field = |k: &str| body[k].as_str().map(str::to_string).ok_or_else(|| ProviderError::Unavailable(format!("bb: response without {k}")));
        Ok(BoletoRegistered {
            barcode: field("codigoBarraNumerico")?,
            digitable_line: field("linhaDigitavel")?,
            pix_copy_paste: body["qrCode"]["emv"].as_str().filter(|s| !s.is_empty()).map(str::to_string),
        })
    }

    async fn write_off_boleto(&self, agreement: &BoletoAgreement, nosso_numero: &str) -> Result<(), ProviderError> {
        let url = format!("{}/boletos/{}/baixar", self.config.cobranca_base_url.trim_end_matches('/'), title_id(nosso_numero));
        self.call(Method::POST, url, &json!({"numeroConvenio": agreement.convenio})).await.map(|_| ())
    }

    async fn register_cobv(&self, txid: &str, body: &CobvBody) -> Result<CobvRegistered, ProviderError> {
        let url = format!("{}/cobv/{txid}", self.config.pix_base_url.trim_end_matches('/'));
        let payload = serde_json::to_value(body).map_err(|e| ProviderError::Rejected { code: "body".into(), message: e.to_string() })?;
        let answer = self.call(Method::PUT, url, &payload).await?;
        let location = answer["location"].as_str().ok_or_else(|| ProviderError::Unavailable("bb: cobv without location".into()))?;
        Ok(CobvRegistered { location: location.trim_start_matches("https://").to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{Address, Cep};
    use crate::money::Money;
    use crate::pay::late_fees::{ChargeTerms, Discount};
    use crate::providers::BoletoPayer;
    use rust_decimal_macros::dec;
    use wiremock::matchers::{body_partial_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn bank(server: &MockServer, timeout: Duration) -> BancoDoBrasil {
        BancoDoBrasil::new(BbConfig {
            oauth_url: format!("{}/oauth/token", server.uri()),
            cobranca_base_url: format!("{}/cobrancas/v2", server.uri()),
            pix_base_url: format!("{}/pix/v2", server.uri()),
            client_id: "client".into(),
            client_secret: "secret".into(),
            developer_application_key: "app-key".into(),
            timeout,
        })
    }

    async fn oauth(server: &MockServer, times: u64) {
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(header("authorization", "Basic Y2xpZW50OnNlY3JldA=="))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 600})))
            .expect(times)
            .mount(server)
            .await;
    }

    fn registration(document: &str) -> BoletoRegistration {
        let due = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        BoletoRegistration {
            agreement: BoletoAgreement { convenio: 3128557, carteira: 17, variacao: 35 },
            nosso_numero: "31285570000000042".into(),
            seu_numero: "chg_01jd5x7k2m3n4p5q6r7s8t9v0w".into(),
            issue_date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            due_date: due,
            terms: ChargeTerms {
                amount: Money::parse("150.00").unwrap(),
                effective_due_date: due,
                fine: Some(Fine::Percent(dec!(10))),
                interest: Some(Interest::PercentPerMonth(dec!(1))),
                discount: Some(Discount { until: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(), value: DiscountValue::Fixed(dec!(5)) }),
                abatement: None,
                consumer_cap: true,
            },
            days_payable_after_due: 30,
            payer: BoletoPayer {
                document: Document::parse(document).unwrap(),
                name: "Maria Silva".into(),
                address: Address {
                    street: "Av. Paulista".into(),
                    number: "1000".into(),
                    complement: Some("ap 12".into()),
                    district: "Bela Vista".into(),
                    city: "São Paulo".into(),
                    state: "SP".into(),
                    cep: Cep::parse("01310-100").unwrap(),
                },
            },
            description: "Mensalidade".into(),
        }
    }

    fn registered() -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(json!({
            "numero": "00031285570000000042", "numeroCarteira": 17, "numeroVariacaoCarteira": 35, "codigoCliente": 704948389,
            "linhaDigitavel": "00190000090312855700000000042172716580000015000",
            "codigoBarraNumerico": "00197165800000150000000003128557000000004217",
            "numeroContratoCobranca": 17414296,
            "qrCode": {"url": "qrcodepix.bb.com.br/pix/v2/abc", "txId": "BOLETO00031285570000000042", "emv": "00020101021226870014br.gov.bcb.pix"}
        }))
    }

    #[tokio::test]
    async fn registers_a_boleto_in_bbs_own_fields_and_formats() {
        let server = MockServer::start().await;
        oauth(&server, 1).await;
        Mock::given(method("POST"))
            .and(path("/cobrancas/v2/boletos"))
            .and(query_param("gw-dev-app-key", "app-key"))
            .and(header("authorization", "Bearer tok-1"))
            .and(body_partial_json(json!({
                "numeroConvenio": 3128557, "numeroCarteira": 17, "numeroVariacaoCarteira": 35,
                "dataEmissao": "22.11.2026", "dataVencimento": "10.12.2026", "valorOriginal": 150.00,
                "numeroTituloCliente": "00031285570000000042", "numeroTituloBeneficiario": "N4P5Q6R7S8T9V0W",
                "numeroDiasLimiteRecebimento": 30, "indicadorAceiteTituloVencido": "S",
                "multa": {"tipo": 2, "data": "11.12.2026", "porcentagem": 2.00},
                "jurosMora": {"tipo": 2, "porcentagem": 1.00},
                "desconto": {"tipo": 1, "dataExpiracao": "05.12.2026", "valor": 5.00},
                "pagador": {"tipoInscricao": 1, "numeroInscricao": 52998224725u64, "nome": "Maria Silva", "endereco": "Av. Paulista, 1000, ap 12", "cep": 1310100, "cidade": "São Paulo", "bairro": "Bela Vista", "uf": "SP"},
                "indicadorPix": "S"
            })))
            .respond_with(registered())
            .expect(1)
            .mount(&server)
            .await;
        let done = bank(&server, Duration::from_secs(5)).register_boleto(&registration("52998224725")).await.unwrap();
        assert_eq!(done.barcode, "00197165800000150000000003128557000000004217");
        assert_eq!(done.digitable_line.len(), 47);
        assert_eq!(done.pix_copy_paste.as_deref(), Some("00020101021226870014br.gov.bcb.pix"));
    }

    #[tokio::test]
    async fn a_company_payer_is_tipo_2_and_the_token_is_reused() {
        let server = MockServer::start().await;
        oauth(&server, 1).await;
        Mock::given(method("POST"))
            .and(path("/cobrancas/v2/boletos"))
            .and(body_partial_json(json!({"pagador": {"tipoInscricao": 2, "numeroInscricao": 11222333000181u64}})))
            .respond_with(registered())
            .expect(2)
            .mount(&server)
            .await;
        let bb = bank(&server, Duration::from_secs(5));
        bb.register_boleto(&registration("11222333000181")).await.unwrap();
        bb.register_boleto(&registration("11222333000181")).await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_token_is_refreshed_once() {
        let server = MockServer::start().await;
        oauth(&server, 2).await;
        Mock::given(method("POST")).and(path("/cobrancas/v2/boletos")).respond_with(ResponseTemplate::new(401)).up_to_n_times(1).mount(&server).await;
        Mock::given(method("POST")).and(path("/cobrancas/v2/boletos")).respond_with(registered()).mount(&server).await;
        assert!(bank(&server, Duration::from_secs(5)).register_boleto(&registration("52998224725")).await.is_ok());
    }

    #[tokio::test]
    async fn bb_refusals_are_rejections_and_outages_are_retryable() {
        let server = MockServer::start().await;
        oauth(&server, 1).await;
        Mock::given(method("POST"))
            .and(path("/cobrancas/v2/boletos"))
            .and(body_partial_json(json!({"pagador": {"numeroInscricao": 52998224725u64}})))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"erros": [{"codigo": "4874915", "versao": "1", "mensagem": "Nosso número já incluído anteriormente.", "ocorrencia": "CA1"}]})))
            .mount(&server)
            .await;
        Mock::given(method("POST")).and(path("/cobrancas/v2/boletos")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
        let bb = bank(&server, Duration::from_secs(5));
        assert_eq!(
            bb.register_boleto(&registration("52998224725")).await,
            Err(ProviderError::Rejected { code: "4874915".into(), message: "Nosso número já incluído anteriormente.".into() })
        );
        assert!(matches!(bb.register_boleto(&registration("11222333000181")).await, Err(ProviderError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_bank_that_hangs_is_unavailable() {
        let server = MockServer::start().await;
        oauth(&server, 1).await;
        Mock::given(method("POST")).and(path("/cobrancas/v2/boletos")).respond_with(registered().set_delay(Duration::from_secs(3))).mount(&server).await;
        let outcome = bank(&server, Duration::from_millis(300)).register_boleto(&registration("52998224725")).await;
        assert_eq!(outcome, Err(ProviderError::Unavailable("timeout".into())));
    }

    #[tokio::test]
    async fn puts_the_cobv_and_returns_its_location_without_scheme() {
        let server = MockServer::start().await;
        oauth(&server, 1).await;
        let terms = registration("52998224725").terms;
        let debtor = crate::pay::pix::Debtor { document: Document::parse("52998224725").unwrap(), name: "Maria Silva".into() };
        let body = crate::pay::pix::cobv_body(&terms, &debtor, "financeiro@example.com", 30).unwrap();
        Mock::given(method("PUT"))
            .and(path("/pix/v2/cobv/01JD5X7K2M3N4P5Q6R7S8T9V0W"))
            .and(body_partial_json(serde_json::to_value(&body).unwrap()))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"txid": "01JD5X7K2M3N4P5Q6R7S8T9V0W", "location": "https://qrcodepix.bb.com.br/pix/v2/cobv/9d36b84f", "status": "ATIVA"})))
            .expect(1)
            .mount(&server)
            .await;
        let done = bank(&server, Duration::from_secs(5)).register_cobv("01JD5X7K2M3N4P5Q6R7S8T9V0W", &body).await.unwrap();
        assert_eq!(done.location, "qrcodepix.bb.com.br/pix/v2/cobv/9d36b84f");
    }

    #[tokio::test]
    async fn a_pix_problem_detail_becomes_a_rejection() {
        let server = MockServer::start().await;
        oauth(&server, 1).await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"type": "https://pix.bcb.gov.br/api/v2/error/CobVOperacaoInvalida", "title": "Cobrança inválida.", "status": 400, "detail": "A requisição que busca alterar ou criar uma cobrança com vencimento não respeita o schema.", "violacoes": [{"razao": "O campo cobv.devedor.cpf não é válido.", "propriedade": "cobv.devedor.cpf"}]})))
            .mount(&server)
            .await;
        let terms = registration("52998224725").terms;
        let debtor = crate::pay::pix::Debtor { document: Document::parse("52998224725").unwrap(), name: "Maria".into() };
        let body = crate::pay::pix::cobv_body(&terms, &debtor, "financeiro@example.com", 30).unwrap();
        let Err(ProviderError::Rejected { code, message }) = bank(&server, Duration::from_secs(5)).register_cobv("01JD5X7K2M3N4P5Q6R7S8T9V0W", &body).await else { panic!() };
        assert_eq!(code, "Cobrança inválida.");
        assert!(message.contains("cobv.devedor.cpf"));
    }

    #[tokio::test]
    async fn writes_a_boleto_off_by_its_title_number() {
        let server = MockServer::start().await;
        oauth(&server, 1).await;
        Mock::given(method("POST"))
            .and(path("/cobrancas/v2/boletos/00031285570000000042/baixar"))
            .and(body_partial_json(json!({"numeroConvenio": 3128557})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"numeroContratoCobranca": "17414296", "dataBaixa": "22.11.2026", "horarioBaixa": "10:00:00"})))
            .expect(1)
            .mount(&server)
            .await;
        let agreement = BoletoAgreement { convenio: 3128557, carteira: 17, variacao: 35 };
        bank(&server, Duration::from_secs(5)).write_off_boleto(&agreement, "31285570000000042").await.unwrap();
    }

    #[test]
    fn debug_hides_the_secrets() {
        let config = BbConfig {
            oauth_url: "o".into(),
            cobranca_base_url: "c".into(),
            pix_base_url: "p".into(),
            client_id: "id".into(),
            client_secret: "very-secret".into(),
            developer_application_key: "app-key-secret".into(),
            timeout: Duration::from_secs(1),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("app-key-secret"));
    }
}
