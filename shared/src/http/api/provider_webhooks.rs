//! Payment providers' webhooks in (`POST /v1/webhooks/{provider}`): the `cobranca` protocol, the BCB Pix API,
//! Cielo's notifications and the message providers' status callbacks.

use super::*;

/// Payment providers' webhooks (`POST /v1/webhooks/{provider}`).
pub struct WebhookApi<'a> {
    pub settlement: Settlement<'a>,
    pub secrets: &'a [WebhookSecret],
    /// How PSPs' BCB Pix webhooks prove who they are; None turns `/v1/webhooks/pix` off.
    pub pix_auth: Option<&'a PixWebhookAuth>,
    /// Card acquirers' notifications (`/v1/webhooks/cielo`); None turns them off.
    pub acquirers: Option<AcquirerNotices<'a>>,
    /// Message status callbacks (`/v1/webhooks/notifications/{provider}`); None turns them off.
    pub channel_callbacks: Option<&'a dyn crate::domain::tracking::ChannelCallbacks>,
}

/// What acquirer notifications need: the acquirers to ask about the sale, and the static header value the
/// acquirer was set up to send (`x-webhook-secret`; Cielo signs nothing).
#[derive(Clone, Copy)]
pub struct AcquirerNotices<'a> {
    pub providers: &'a Providers,
    pub secret: &'a str,
}

/// PSPs post the BCB Pix webhook without a signature: in AWS, API Gateway's mutual TLS checks their client
/// certificate's chain (custom domain with a truststore, default endpoint disabled) and forwards it, and the pin
/// says it is the PSP's; without it, a shared secret in the `x-webhook-secret` header (development, or PSPs that
/// support custom headers).
#[derive(Clone)]
pub enum PixWebhookAuth {
    MutualTls(crate::http::mtls::ClientCertPin),
    SharedSecret(String),
}

impl WebhookApi<'_> {
    /// A channel provider's status callback: verified, then each update applied to its message's record
    /// (unknown message ids are acknowledged and ignored: other systems may share the sender).
    async fn channel_status(&self, provider: &str, merchant: Option<&str>, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let unknown = || ApiError::new(404, "unknown_provider", "provedor desconhecido / unknown provider");
        let callbacks = self.channel_callbacks.ok_or_else(unknown)?;
        let channel = callbacks.channel_of(provider).ok_or_else(unknown)?;
        let merchant = merchant.map(|m| crate::domain::ids::MerchantId::parse(m).map_err(|_| unknown())).transpose()?;
        let source = crate::domain::tracking::CallbackSource { provider, merchant: merchant.as_ref() };
        let query: Vec<(String, String)> = req.path.split_once('?').and_then(|(_, q)| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
        let refused = |e: crate::domain::tracking::CallbackError| match e {
            crate::domain::tracking::CallbackError::Unauthorized(m) => ApiError::new(401, "invalid_signature", m),
            crate::domain::tracking::CallbackError::Malformed(m) => ApiError::new(400, "malformed_callback", m),
        };
        if req.method == "GET" {
            return match callbacks.handshake(source, &query).await {
                Some(Ok(answer)) => {
                    Ok(ApiResponse { status: 200, body: answer, content_type: Some("text/plain; charset=utf-8"), headers: Vec::new() })
                }
                Some(Err(e)) => Err(ApiError { status: 403, ..refused(e) }),
                None => Err(ApiError::new(405, "method_not_allowed", "método não permitido / method not allowed")),
            };
        }
        if req.method != "POST" {
            return Err(ApiError::new(405, "method_not_allowed", "método não permitido / method not allowed"));
        }
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(413, "body_too_large", "corpo da requisição muito grande / request body too large"));
        }
        let updates = callbacks.parse(source, &query, &req.headers, &req.body).await.map_err(refused)?;
        let mut applied = 0;
        for update in &updates {
            if crate::service::delivery::apply_status(self.settlement.store, channel, merchant.as_ref(), update, now).await? {
                applied += 1;
            }
        }
        Ok(ApiResponse::json(200, &json!({"received": updates.len(), "applied": applied})))
    }

    pub async fn handle(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        match self.route(req, now).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    }

    async fn route(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let segments: Vec<&str> = req.route_path().trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["v1", "webhooks", "notifications", provider] => return self.channel_status(provider, None, req, now).await,
            ["v1", "webhooks", "notifications", provider, merchant] => return self.channel_status(provider, Some(merchant), req, now).await,
            _ => {}
        }
        // The BCB Pix API has PSPs post to the configured URL plus "/pix".
        let provider = match segments.as_slice() {
            ["v1", "webhooks", provider] => *provider,
            ["v1", "webhooks", "pix", "pix"] => "pix",
            _ => return Err(ApiError::new(404, "not_found", "recurso não encontrado / resource not found")),
        };
        if req.method != "POST" {
            return Err(ApiError::new(405, "method_not_allowed", "método não permitido / method not allowed"));
        }
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(413, "body_too_large", "corpo da requisição muito grande / request body too large"));
        }
        match provider {
            "cobranca" => {}
            "pix" => return self.bcb_pix(req, now).await,
            "cielo" => return self.cielo(req, now).await,
            _ => return Err(ApiError::new(404, "unknown_provider", "provedor desconhecido / unknown provider")),
        }
        let id = req.header("webhook-id");
        standard_webhooks::verify(self.secrets, id, req.header("webhook-timestamp"), req.header("webhook-signature"), &req.body, now)
            .map_err(|e| ApiError::new(401, "invalid_signature", e.to_string()))?;
        let id = id.unwrap_or_default();
        let event = payment_notice::parse_cobranca(id, &req.body).map_err(|e| match e {
            payment_notice::PayloadError::Malformed(m) => ApiError::new(400, "malformed_json", format!("JSON inválido / malformed JSON: {m}")),
            payment_notice::PayloadError::UnsupportedType(t) => ApiError::invalid("type", format!("tipo não suportado / unsupported type: {t}")),
            payment_notice::PayloadError::Field { field, message } => ApiError::invalid(field, message),
        })?;
        let notice = match event {
            payment_notice::CobrancaEvent::Money(notice) => notice,
            // No money moved: acknowledged so the provider stops resending, and nothing changes.
            payment_notice::CobrancaEvent::Status { kind, charge_ref } => {
                tracing::info!(%kind, charge_ref = %charge_ref, "payment status without money: acknowledged");
                return Ok(ApiResponse::json(200, &json!({"result": "acknowledged", "type": kind})));
            }
        };
        let raw = String::from_utf8_lossy(&req.body);
        let settled = self.settlement.apply(&notice, &raw, now).await.map_err(ApiError::internal)?;
        let status = match settled {
            Settled::Paid { .. } | Settled::Duplicate { .. } | Settled::Reversed { .. } => 200,
            _ => 202,
        };
        Ok(ApiResponse::json(status, &settled.to_json()))
    }
}

impl WebhookApi<'_> {
    /// `POST /v1/webhooks/cielo`: Cielo's notification post `{"PaymentId","ChangeType","RecurrentPaymentId"?}`.
    /// ChangeType 1 (status change) and 25 (cancelled or partly refunded) read the sale and apply what it says;
    /// 7 is a chargeback; the others (recurrence, anti-fraud) are acknowledged.
    async fn cielo(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let Some(acquirers) = self.acquirers else {
            return Err(ApiError::new(404, "unknown_provider", "notificações da Cielo não configuradas / Cielo notifications not configured"));
        };
        if !secret_matches(req.header("x-webhook-secret"), acquirers.secret) {
            return Err(ApiError::new(401, "unauthorized", "origem da notificação não autenticada / notification sender not authenticated"));
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Notification {
            payment_id: String,
            change_type: Value,
        }
        let n: Notification =
            serde_json::from_slice(&req.body).map_err(|e| ApiError::new(400, "malformed_json", format!("JSON inválido / malformed JSON: {e}")))?;
        let change_type = match &n.change_type {
            Value::Number(v) => v.as_u64(),
            Value::String(v) => v.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ApiError::invalid("ChangeType", "número / number"))?;
        let uuid_like = n.payment_id.len() == 36 && n.payment_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !uuid_like {
            return Err(ApiError::invalid("PaymentId", "GUID de 36 caracteres / 36-character GUID"));
        }
        let change = match change_type {
            1 | 25 => crate::service::checkout::SaleChange::Status,
            7 => crate::service::checkout::SaleChange::Chargeback,
            other => return Ok(ApiResponse::json(200, &json!({"result": "acknowledged", "ChangeType": other}))),
        };
        let checkout = crate::service::checkout::Checkout {
            store: self.settlement.store,
            queue: self.settlement.queue,
            events: self.settlement.events,
            providers: acquirers.providers,
        };
        let results = match checkout.acquirer_notice(crate::ports::providers::Provider::Cielo, &n.payment_id, change, now).await {
            Ok(r) => r,
            // Cielo retries a notification that did not get 200; a sale it cannot tell us about now may later.
            Err(crate::service::checkout::CheckoutError::Provider(ProviderError::Unavailable(m))) => {
                tracing::warn!(error = %m, "cielo unavailable while reading a notified sale");
                return Err(ApiError::new(503, "provider_unavailable", "Cielo indisponível, tente novamente / Cielo unavailable, retry"));
            }
            Err(e) => return Err(ApiError::internal(e)),
        };
        Ok(ApiResponse::json(200, &json!({"results": results.iter().map(Settled::to_json).collect::<Vec<_>>()})))
    }

    /// `POST /v1/webhooks/pix`: the BCB Pix API webhook, one or more received Pix, each matched by txid.
    async fn bcb_pix(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let unauthorized = || ApiError::new(401, "unauthorized", "origem do webhook Pix não autenticada / Pix webhook sender not authenticated");
        match self.pix_auth {
            None => return Err(ApiError::new(404, "unknown_provider", "webhook Pix não configurado / Pix webhook not configured")),
            Some(PixWebhookAuth::MutualTls(pin)) => {
                if let Err(why) = pin.admits(req.client_cert.as_ref(), now) {
                    let presented = req.client_cert.as_ref().map(|c| (c.subject_dn.as_str(), c.issuer_dn.as_str(), c.fingerprint_hex()));
                    tracing::warn!(reason = why, ?presented, "pix webhook refused");
                    return Err(unauthorized());
                }
            }
            Some(PixWebhookAuth::SharedSecret(secret)) => {
                if !secret_matches(req.header("x-webhook-secret"), secret) {
                    return Err(unauthorized());
                }
            }
        }
        let notices = payment_notice::parse_bcb_pix(&req.body).map_err(|e| match e {
            payment_notice::PayloadError::Field { field, message } => ApiError::invalid(field, message),
            other => ApiError::new(400, "malformed_json", other.to_string()),
        })?;
        let raw = String::from_utf8_lossy(&req.body);
        let mut results = Vec::new();
        for notice in &notices {
            let mut result = self.settlement.apply(notice, &raw, now).await.map_err(ApiError::internal)?.to_json();
            let id_field = if notice.kind.is_reversal() { "rtrId" } else { "endToEndId" };
            result[id_field] = json!(notice.provider_payment_id);
            results.push(result);
        }
        Ok(ApiResponse::json(200, &json!({"results": results})))
    }
}
