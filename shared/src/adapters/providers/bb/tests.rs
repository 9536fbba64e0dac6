use super::*;
use crate::domain::address::{Address, Cep};
use crate::domain::document::Document;
use crate::domain::money::Money;
use crate::domain::pay::late_fees::{ChargeTerms, Discount};
use crate::domain::pay::pix::{cobv_body, Debtor};
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
    assert_eq!(outcome("op", StatusCode::UNPROCESSABLE_ENTITY, gateway.to_string().as_bytes()), Err(rejected("4678420", "Convênio não habilitado")));
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
