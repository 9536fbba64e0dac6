//! Voice robot (a text-to-speech call) through TotalVoice, now Zenvia Voice: `POST {api}/tts` with the
//! `Access-Token` header and `{"numero_destino": DDD + number, "mensagem": the text spoken, "tipo_voz":
//! "br-Vitoria", "resposta_usuario": false, "gravar_audio": false, "detecta_caixa": …, "bina"?: caller id}`.
//!
//! What is spoken: the message's `text` — the voice templates are written to be heard: a greeting, who is calling
//! (the merchant's name and CPF/CNPJ, CDC art. 42-A), the amount and date, and that the payment link went by
//! message — with any URL removed (a link read aloud helps nobody). A text that is empty once URLs are gone is
//! built from `template_params` and the subject instead.
//!
//! Answers: `{"status": 200, "sucesso": true, "motivo": 0, "mensagem": "tts criado com sucesso", "dados":
//! {"id": 1234}}` → the call was queued (`dados.id` is the provider message id). Failures carry the same
//! envelope with `sucesso: false` and a `motivo`: 400 / 405 (invalid JSON or parameter, motivo 10/11), 403
//! (motivo 8, no permission), 404 and motivo 40 (authentication failed — an operator must fix the token) are
//! permanent; 402 (motivo 9, no balance: an operator must top up, the queue keeps the call meanwhile), 429, 5xx,
//! network errors and timeouts are retried.
//!
//! Status callbacks: the "TTS Fim" webhook, set in the Zenvia Voice panel, posts the finished call (`id`,
//! `status`, `data_inicio`, `duracao_segundos`, …). `atendida` → delivered; `sem resposta`, `ocupado`,
//! `congestionado` (and a voicemail, `caixa postal`) → no answer, which may be retried the same day (see
//! [`next_voice_attempt`]); `falha`, `cancelada` → failed; `não existe` → failed and the number suppressed.
//! TotalVoice signs nothing and the panel's webhook takes no custom header, so the URL registered there carries a
//! secret: `…/v1/webhooks/notifications/totalvoice?token=<secret>`; `parse_status_callback` compares that
//! `token` in constant time.

/// What it declares about itself, for the registry of channels.
#[cfg(feature = "aws")]
pub mod connector;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::domain::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};
use crate::domain::tracking::{CallbackError, MessageStatus, StatusUpdate};

/// The provider name in `StatusUpdate::provider`.
pub const PROVIDER: &str = "totalvoice";
/// The query parameter of the callback URL that carries the shared secret.
pub const TOKEN_PARAMETER: &str = "token";

// The retry rule for unanswered calls is domain policy, kept with the other channel rules.
pub use crate::domain::channel_policy::{next_voice_attempt, MAX_CALLS_PER_DAY, RETRY_AFTER_NO_ANSWER};

#[derive(Clone)]
pub struct TotalVoiceConfig {
    /// `https://voice-api.zenvia.com` (formerly `https://api2.totalvoice.com.br`).
    pub api_url: String,
    pub access_token: String,
    /// `tipo_voz`: "br-Vitoria", "br-Camila" or "br-Ricardo".
    pub voice: String,
    /// `bina`: the number shown to the payer (DDD + number), if the account has one.
    pub caller_id: Option<String>,
    /// `detecta_caixa`: hang up on a voicemail instead of speaking to it (extra cost at the provider).
    pub detect_voicemail: bool,
    pub timeout: Duration,
}

impl std::fmt::Debug for TotalVoiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotalVoiceConfig")
            .field("api_url", &self.api_url)
            .field("access_token", &"***")
            .field("voice", &self.voice)
            .field("caller_id", &self.caller_id)
            .field("detect_voicemail", &self.detect_voicemail)
            .finish()
    }
}

pub struct TotalVoiceTts {
    config: TotalVoiceConfig,
    http: reqwest::Client,
}

/// A Brazilian number as `numero_destino`: DDD + number, without the country code.
pub fn destination(raw: &str) -> Result<String, SendError> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        10 | 11 => Ok(digits),
        12 | 13 if digits.starts_with("55") => Ok(digits[2..].to_string()),
        n => Err(SendError::Permanent(format!("not a Brazilian phone number ({n} digits)"))),
    }
}

/// What the robot says for a message (see the module documentation).
pub fn spoken_text(m: &OutgoingMessage) -> String {
    let words: Vec<&str> =
        m.text.split_whitespace().filter(|w| !(w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www."))).collect();
    let spoken = words.join(" ");
    if !spoken.is_empty() {
        return spoken;
    }
    let param = |i: usize| m.template_params.get(i).map(String::as_str).unwrap_or_default();
    let mut parts = vec![format!("Olá, {}.", param(0))];
    if !param(4).is_empty() {
        parts.push(format!("Aqui é o atendimento automático de {}.", param(4)));
    }
    if !m.subject.is_empty() {
        parts.push(format!("{}.", m.subject.trim_end_matches('.')));
    }
    if !param(1).is_empty() && !param(2).is_empty() {
        parts.push(format!("Cobrança no valor de {}, com vencimento em {}.", param(1), param(2)));
    }
    parts.push("O link para pagamento foi enviado por mensagem. Obrigado.".into());
    parts.join(" ")
}

impl TotalVoiceTts {
    pub fn new(config: TotalVoiceConfig) -> Self {
        let http = reqwest::Client::builder().timeout(config.timeout).build().expect("HTTP client");
        Self { config, http }
    }

    /// The request body for one call (public for the tests and the docs).
    pub fn body(&self, m: &OutgoingMessage) -> Result<Value, SendError> {
        let mut body = json!({
            "numero_destino": destination(&m.recipient)?,
            "mensagem": spoken_text(m),
            "tipo_voz": self.config.voice,
            "resposta_usuario": false,
            "gravar_audio": false,
            "detecta_caixa": self.config.detect_voicemail,
        });
        if let Some(bina) = &self.config.caller_id {
            body["bina"] = json!(bina);
        }
        Ok(body)
    }
}

#[async_trait]
impl NotificationSender for TotalVoiceTts {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        if m.channel != Channel::Voice {
            return Err(SendError::Permanent(format!("the voice adapter cannot send {}", m.channel.as_str())));
        }
        let body = self.body(m)?;
        let url = format!("{}/tts", self.config.api_url.trim_end_matches('/'));
        let response = self
            .http
            .post(url)
            .header("Access-Token", &self.config.access_token)
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::Transient(if e.is_timeout() { "totalvoice: timeout".into() } else { format!("totalvoice: network: {e}") }))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let motivo = answer["motivo"].as_i64().unwrap_or(-1);
        if (200..300).contains(&status) && answer["sucesso"].as_bool().unwrap_or(true) {
            let id = &answer["dados"]["id"];
            return id
                .as_i64()
                .map(|n| n.to_string())
                .or_else(|| id.as_str().map(str::to_string))
                .map(SendReceipt::new)
                .ok_or_else(|| SendError::Transient(format!("totalvoice: 2xx without a call id: {answer}")));
        }
        let detail = format!("totalvoice {status}: motivo {motivo} {}", answer["mensagem"].as_str().unwrap_or("error"));
        tracing::warn!(status, motivo, "totalvoice call failed");
        match (status, motivo) {
            (_, 40) | (401 | 403, _) => Err(SendError::Permanent(format!("{detail} (check the access token and the account's permissions)"))),
            (402, _) | (_, 9) | (429, _) | (500..=599, _) | (_, 50) => Err(SendError::Transient(detail)),
            _ => Err(SendError::Permanent(detail)),
        }
    }
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// A "TTS Fim" callback as a status update, once the callback URL's `token` matches `secret`.
pub fn parse_status_callback(token: Option<&str>, body: &[u8], secret: &str) -> Result<Vec<StatusUpdate>, CallbackError> {
    if !super::sms::secret_matches(token, secret) {
        return Err(CallbackError::Unauthorized(format!("totalvoice: missing or wrong {TOKEN_PARAMETER} in the callback URL")));
    }
    let call: Value = serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("totalvoice: {e}")))?;
    let id = match &call["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err(CallbackError::Malformed("totalvoice: id missing".into())),
    };
    let result = call["status"].as_str().ok_or_else(|| CallbackError::Malformed("totalvoice: status missing".into()))?;
    let (status, suppress) = match result.to_lowercase().as_str() {
        "atendida" => (MessageStatus::Delivered, false),
        "sem resposta" | "ocupado" | "congestionado" | "caixa postal" => (MessageStatus::NoAnswer, false),
        "não existe" | "nao existe" => (MessageStatus::Failed, true),
        "falha" | "cancelada" => (MessageStatus::Failed, false),
        // Still ringing or unknown: nothing to record.
        _ => return Ok(vec![]),
    };
    let started = instant(&call["data_inicio"])
        .or_else(|| instant(&call["data_criacao"]))
        .ok_or_else(|| CallbackError::Malformed("totalvoice: data_inicio missing".into()))?;
    let at = chrono::Duration::try_seconds(call["duracao_segundos"].as_i64().unwrap_or(0))
        .and_then(|d| started.checked_add_signed(d))
        .ok_or_else(|| CallbackError::Malformed("totalvoice: duracao_segundos out of range".into()))?;
    let detail = (status != MessageStatus::Delivered).then(|| {
        let reason = call["motivo_desconexao"].as_str().filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default();
        format!("totalvoice: {result}{reason}")
    });
    Ok(vec![StatusUpdate { provider: PROVIDER.into(), provider_message_id: id, status, at, detail, suppress_recipient: suppress }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChargeId, MerchantId};

    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn tts(server: &MockServer) -> TotalVoiceTts {
        TotalVoiceTts::new(TotalVoiceConfig {
            api_url: server.uri(),
            access_token: "tv-token".into(),
            voice: "br-Vitoria".into(),
            caller_id: Some("1140040000".into()),
            detect_voicemail: true,
            timeout: Duration::from_secs(2),
        })
    }

    const SPOKEN: &str = "Olá, Maria. Aqui é o atendimento automático de Loja Exemplo. Lembramos que a cobrança Mensalidade, no valor de R$ 1.234,56, vence em 10/12/2026. O link para pagamento foi enviado por mensagem. Se você já pagou, desconsidere esta ligação. Obrigado. Esta ligação é de Loja Exemplo, CNPJ 11.222.333/0001-81.";

    fn message(text: &str) -> OutgoingMessage {
        OutgoingMessage {
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            reminder_id: "before_due_5d.0.voice".into(),
            step: "before_due".into(),
            channel: Channel::Voice,
            recipient: "+55 11 99999-8888".into(),
            subject: "Lembrete de vencimento".into(),
            text: text.into(),
            template_params: vec![
                "Maria".into(),
                "R$ 1.234,56".into(),
                "10/12/2026".into(),
                "https://pay.example.com/pay/t".into(),
                "Loja Exemplo".into(),
            ],
            payer_name: "Maria Silva".into(),
            postal_address: None,
            boleto: None,
        }
    }

    fn envelope(status: u16, sucesso: bool, motivo: i64, mensagem: &str) -> ResponseTemplate {
        ResponseTemplate::new(status)
            .set_body_json(json!({"status": status, "sucesso": sucesso, "motivo": motivo, "mensagem": mensagem, "dados": null}))
    }

    #[tokio::test]
    async fn places_a_tts_call_with_the_spoken_text_voice_and_caller_id() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/tts"))
            .and(header("access-token", "tv-token"))
            .and(header("content-type", "application/json"))
            .and(body_json(json!({
                "numero_destino": "11999998888", "mensagem": SPOKEN, "tipo_voz": "br-Vitoria", "resposta_usuario": false,
                "gravar_audio": false, "detecta_caixa": true, "bina": "1140040000"
            })))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"status": 200, "sucesso": true, "motivo": 0, "mensagem": "tts criado com sucesso", "dados": {"id": 37784550}}),
                ),
            )
            .expect(1)
            .mount(&server)
            .await;
        let receipt = tts(&server).send(&message(&format!("{SPOKEN}\nhttps://pay.example.com/pay/t"))).await.unwrap();
        assert_eq!(receipt.provider_message_id, "37784550");
        assert_eq!(receipt.segments, None);
    }

    #[test]
    fn never_reads_a_link_aloud() {
        let spoken = spoken_text(&message("Pague em https://pay.example.com/pay/t hoje. Esta ligação é de Loja Exemplo, CNPJ 11.222.333/0001-81."));
        assert_eq!(spoken, "Pague em hoje. Esta ligação é de Loja Exemplo, CNPJ 11.222.333/0001-81.");
        let built = spoken_text(&message("https://pay.example.com/pay/t"));
        assert_eq!(built, "Olá, Maria. Aqui é o atendimento automático de Loja Exemplo. Lembrete de vencimento. Cobrança no valor de R$ 1.234,56, com vencimento em 10/12/2026. O link para pagamento foi enviado por mensagem. Obrigado.");
    }

    #[tokio::test]
    async fn maps_totalvoices_errors_to_retry_or_give_up() {
        let cases = [
            (envelope(405, false, 11, "Algum dos parâmetros enviados está inválido"), false),
            (envelope(400, false, 10, "Você não enviou todos os parâmetros obrigatórios."), false),
            (envelope(403, false, 8, "Sua conta não tem permissão para realizar esse procedimento."), false),
            (envelope(401, false, 40, "Houve uma falha na autenticação, seu Token está correto?"), false),
            (envelope(402, false, 9, "Sua conta não tem saldo suficiente."), true),
            (envelope(429, false, 100, "Limite de Requisições por segundo excedido"), true),
            (envelope(500, false, 50, "Erro interno dentro do nosso sistema."), true),
        ];
        for (response, transient) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST")).respond_with(response).mount(&server).await;
            let got = tts(&server).send(&message(SPOKEN)).await;
            assert_eq!(matches!(got, Err(SendError::Transient(_))), transient, "{got:?}");
            assert!(got.is_err());
        }
    }

    #[tokio::test]
    async fn a_bad_number_is_not_called_and_a_timeout_is_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).mount(&server).await;
        let mut bad = message(SPOKEN);
        bad.recipient = "999".into();
        assert!(matches!(tts(&server).send(&bad).await, Err(SendError::Permanent(_))));
        assert!(matches!(tts(&server).send(&message(SPOKEN)).await, Err(SendError::Transient(m)) if m.contains("timeout")));
    }

    #[test]
    fn reads_the_tts_fim_callback() {
        let answered = include_bytes!("../../../../tests/fixtures/providers/totalvoice_tts_fim_atendida.json");
        let updates = parse_status_callback(Some("s3cret"), answered, "s3cret").unwrap();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].provider_message_id, "37784550");
        assert_eq!(updates[0].status, MessageStatus::Delivered);
        assert_eq!(updates[0].at.to_rfc3339(), "2019-09-06T16:35:15+00:00", "start plus 17 s");
        for (result, status, suppress) in [
            ("sem resposta", MessageStatus::NoAnswer, false),
            ("ocupado", MessageStatus::NoAnswer, false),
            ("congestionado", MessageStatus::NoAnswer, false),
            ("falha", MessageStatus::Failed, false),
            ("não existe", MessageStatus::Failed, true),
        ] {
            let body = String::from_utf8_lossy(answered).replace("\"atendida\"", &format!("\"{result}\""));
            let update = &parse_status_callback(Some("s3cret"), body.as_bytes(), "s3cret").unwrap()[0];
            assert_eq!((update.status, update.suppress_recipient), (status, suppress), "{result}");
            assert!(update.detail.as_deref().unwrap().contains(result));
        }
    }

    #[test]
    fn refuses_callbacks_without_the_url_token() {
        let answered = include_bytes!("../../../../tests/fixtures/providers/totalvoice_tts_fim_atendida.json");
        assert!(matches!(parse_status_callback(None, answered, "s3cret"), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(parse_status_callback(Some("s3cre"), answered, "s3cret"), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(parse_status_callback(Some("s3cret"), b"{}", "s3cret"), Err(CallbackError::Malformed(_))));
    }

    #[test]
    fn a_duration_past_the_calendar_is_malformed() {
        // Caught by fuzz/webhook_payloads (seed totalvoice-huge-duration): a huge duracao_segundos panicked (TimeDelta::seconds out of bounds).
        let answered = String::from_utf8_lossy(include_bytes!("../../../../tests/fixtures/providers/totalvoice_tts_fim_atendida.json")).into_owned();
        for huge in [i64::MAX, i64::MIN, 9_000_000_000_000_000] {
            let body = answered.replace("\"duracao_segundos\": 17", &format!("\"duracao_segundos\": {huge}"));
            assert!(matches!(parse_status_callback(Some("s3cret"), body.as_bytes(), "s3cret"), Err(CallbackError::Malformed(_))), "{huge}");
        }
    }
}
