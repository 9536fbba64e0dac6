//! API keys and merchants: `POST|GET /v1/api-keys`, `POST /v1/api-keys/{id}/rotate`, `DELETE /v1/api-keys/{id}`,
//! the operator's `POST /v1/merchants`, and the per-key rate limit every merchant request goes through.
//!
//! A secret is in exactly one response, the one that made it; these POSTs do not take part in `Idempotency-Key`
//! replays, which would keep the secret in the store for 24 h.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::requests::{self, ApiKeyInput, MerchantInput, OperatorKeyInput, RotateApiKey};
use super::views::{self, ApiKey, ListOf, MerchantCreated};
use super::{missing, Api, ApiError, ApiRequest, ApiResponse};
use crate::domain::api_keys::{rate_window, ApiKeyRecord, KeyStatus, DEFAULT_GRACE, MAX_GRACE, MAX_LIVE_KEYS};
use crate::domain::document::Document;
use crate::domain::ids::{ApiKeyId, MerchantId};
use crate::domain::merchant::{ApiKeyHash, Merchant, Mode};

fn key_not_found() -> ApiError {
    ApiError::new(404, "not_found", "chave de API não encontrada / API key not found")
}

fn key_name(v: Option<&Value>, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(n)) if (1..=100).contains(&n.trim().chars().count()) => Ok(Some(n.trim().to_string())),
        Some(_) => Err(ApiError::invalid(field, "nome de 1 a 100 caracteres / a name of 1 to 100 characters")),
    }
}

/// A required text field: absent is missing, anything but a string (`null` included) invalid.
fn text<'b>(v: Option<&'b Value>, field: &str) -> Result<&'b str, ApiError> {
    match v {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::invalid(field, "deve ser texto / must be a string")),
        None => Err(missing(field)),
    }
}

/// A key's own limit. A merchant may hold a key to less than the deployment's default, never to more.
fn rate_limit(v: Option<&Value>, field: &str, ceiling: Option<u32>) -> Result<Option<u32>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    let limit = v
        .as_u64()
        .filter(|l| (1..=1_000_000).contains(l))
        .ok_or_else(|| ApiError::invalid(field, "inteiro de 1 a 1000000 / an integer from 1 to 1000000"))? as u32;
    match ceiling {
        Some(max) if limit > max => Err(ApiError::invalid(field, format!("no máximo {max} por minuto / at most {max} per minute"))),
        _ => Ok(Some(limit)),
    }
}

impl Api<'_> {
    /// Refuses a new key when the merchant already holds `MAX_LIVE_KEYS` working ones (409 `api_key_limit`).
    async fn room_for_a_key(&self, merchant: &MerchantId, now: DateTime<Utc>) -> Result<(), ApiError> {
        let live =
            self.store.api_keys_of(merchant).await?.iter().filter(|k| matches!(k.status(now), KeyStatus::Active | KeyStatus::Expiring)).count();
        if live >= MAX_LIVE_KEYS {
            return Err(ApiError::new(
                409,
                "api_key_limit",
                format!("o lojista já tem {live} chaves em uso (máximo {MAX_LIVE_KEYS}); revogue uma antes / the merchant already has {live} keys in use (at most {MAX_LIVE_KEYS}); revoke one first"),
            ));
        }
        Ok(())
    }

    /// Counts the request against its key's limit (the key's own, else the deployment's): the rate headers to
    /// add to the answer, or the 429 to give instead. A store failure lets the request through — the limiter
    /// protects the API, it must not take it down.
    pub(super) async fn take_request_quota(&self, key: &ApiKeyRecord, now: DateTime<Utc>) -> Result<Vec<(&'static str, String)>, ApiResponse> {
        let Some(limit) = key.rate_limit.or(self.access.default_rate_limit) else { return Ok(Vec::new()) };
        let (window, retry_after) = rate_window(now);
        let reset = (window.timestamp() + crate::domain::api_keys::RATE_WINDOW_SECONDS).to_string();
        match self.store.count_request(&key.id, window, limit).await {
            Ok(Some(count)) => Ok(vec![
                ("x-ratelimit-limit", limit.to_string()),
                ("x-ratelimit-remaining", limit.saturating_sub(count).to_string()),
                ("x-ratelimit-reset", reset),
            ]),
            Ok(None) => {
                let mut r = ApiError::new(429, "rate_limited", format!("limite de {limit} requisições por minuto desta chave atingido; tente em {retry_after} s / this key's limit of {limit} requests per minute was reached; retry in {retry_after} s")).into_response();
                r.headers = vec![
                    ("retry-after", retry_after.to_string()),
                    ("x-ratelimit-limit", limit.to_string()),
                    ("x-ratelimit-remaining", "0".into()),
                    ("x-ratelimit-reset", reset),
                ];
                Err(r)
            }
            Err(e) => {
                tracing::warn!(error = %e, key_id = %key.id, "rate limit not counted; request let through");
                Ok(Vec::new())
            }
        }
    }

    /// `POST /v1/api-keys {"name", "rate_limit_per_minute"?}` → 201 the key with its `secret`, shown this once.
    pub(super) async fn create_api_key(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: ApiKeyInput = requests::parse(&req.body)?;
        let name = key_name(body.name.as_ref(), "name")?.ok_or_else(|| missing("name"))?;
        let limit = rate_limit(body.rate_limit_per_minute.as_ref(), "rate_limit_per_minute", self.access.default_rate_limit)?;
        self.room_for_a_key(&merchant.id, now).await?;
        let (key, secret) = ApiKeyRecord::issue(&merchant.id, merchant.mode, &name, limit, now);
        self.store.add_api_key(&key, None).await?;
        tracing::info!(merchant_id = %merchant.id, key_id = %key.id, "API key created");
        Ok(ApiResponse::json(201, &ApiKey::of(&key, now, Some(merchant.mode.is_live())).with_secret(&secret)))
    }

    /// `GET /v1/api-keys`: every key, oldest first, with its state; never a secret or a hash.
    pub(super) async fn list_api_keys(&self, merchant: &Merchant, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let mut keys = self.store.api_keys_of(&merchant.id).await?;
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let data = keys.iter().map(|k| ApiKey::of(k, now, Some(merchant.mode.is_live()))).collect();
        Ok(ApiResponse::json(200, &ListOf::page(data, None)))
    }

    async fn api_key(&self, merchant: &Merchant, id: &str) -> Result<ApiKeyRecord, ApiError> {
        let id = ApiKeyId::parse(id).map_err(|_| key_not_found())?;
        self.store.get_api_key(&merchant.id, &id).await?.ok_or_else(key_not_found)
    }

    /// `POST /v1/api-keys/{id}/rotate {"grace_seconds"?}` → 201 a new key (same name and limit) with its secret;
    /// the old one keeps working for `grace_seconds` (24 h by default, at most 7 days, 0 ends it now), so clients
    /// can be switched over without an outage.
    pub(super) async fn rotate_api_key(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let old = self.api_key(merchant, id).await?;
        let body: RotateApiKey = requests::parse_or_empty(&req.body)?;
        let grace = match &body.grace_seconds {
            None | Some(Value::Null) => DEFAULT_GRACE,
            Some(v) => v
                .as_i64()
                .map(Duration::seconds)
                .filter(|g| *g >= Duration::zero() && *g <= MAX_GRACE)
                .ok_or_else(|| ApiError::invalid("grace_seconds", "inteiro de 0 a 604800 (7 dias) / an integer from 0 to 604800 (7 days)"))?,
        };
        if old.status(now) != KeyStatus::Active {
            return Err(ApiError::new(
                409,
                "api_key_not_active",
                format!(
                    "só uma chave ativa pode ser rotacionada (esta está {}) / only an active key can be rotated (this one is {})",
                    old.status(now).as_str(),
                    old.status(now).as_str()
                ),
            ));
        }
        let (mut new, secret) = ApiKeyRecord::issue(&merchant.id, merchant.mode, &old.name, old.rate_limit, now);
        new.rotated_from = Some(old.id.clone());
        let retired = ApiKeyRecord { expires_at: Some(now + grace), version: old.version + 1, ..old.clone() };
        self.store.add_api_key(&new, Some((&retired, old.version))).await?;
        tracing::info!(merchant_id = %merchant.id, old = %old.id, new = %new.id, grace_s = grace.num_seconds(), "API key rotated");
        Ok(ApiResponse::json(201, &ApiKey::of(&new, now, Some(merchant.mode.is_live())).with_secret(&secret)))
    }

    /// `DELETE /v1/api-keys/{id}`: revoked at once, the key making the request included — but never the last
    /// active key, which would lock the merchant out (409 `last_api_key`: create or rotate to another first).
    pub(super) async fn revoke_api_key(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let key = self.api_key(merchant, id).await?;
        if key.revoked_at.is_some() {
            return Ok(ApiResponse::json(200, &ApiKey::of(&key, now, Some(merchant.mode.is_live()))));
        }
        let others_active = self.store.api_keys_of(&merchant.id).await?.iter().any(|k| k.id != key.id && k.status(now) == KeyStatus::Active);
        if !others_active {
            return Err(ApiError::new(
                409,
                "last_api_key",
                "esta é a última chave ativa; crie outra antes de revogá-la / this is the last active key; create another before revoking it",
            ));
        }
        let revoked = ApiKeyRecord { revoked_at: Some(now), version: key.version + 1, ..key.clone() };
        self.store.update_api_key(&revoked, key.version).await?;
        tracing::info!(merchant_id = %merchant.id, key_id = %key.id, "API key revoked");
        Ok(ApiResponse::json(200, &ApiKey::of(&revoked, now, Some(merchant.mode.is_live()))))
    }

    /// The operator's key, or why not: 403 when no operator key is configured, 401 when another is presented.
    fn operator(&self, req: &ApiRequest) -> Result<(), ApiError> {
        let Some(operator) = &self.access.operator_key else {
            return Err(ApiError::new(403, "operator_disabled", "rotas do operador desativadas nesta instalação (OperatorKeySha256) / the operator routes are disabled in this deployment (OperatorKeySha256)"));
        };
        let presented = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).map(|t| ApiKeyHash::of(t.trim()));
        if !presented.is_some_and(|p| super::secret_matches(Some(p.as_str()), operator.as_str())) {
            return Err(ApiError::new(401, "unauthorized", "chave de operador ausente ou inválida / missing or invalid operator key"));
        }
        Ok(())
    }

    /// `POST /v1/merchants/{id}/api-keys {"name"?, "rate_limit_per_minute"?}`, operator only: a new key for a
    /// merchant who has none left to make one with (the first one's answer lost, every key revoked or expired).
    /// 201 with its `secret`, shown once; the merchant's other keys are left as they are.
    pub(super) async fn issue_merchant_key(&self, merchant_id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        self.operator(req)?;
        let not_found = || ApiError::new(404, "not_found", "lojista não encontrado / merchant not found");
        let id = MerchantId::parse(merchant_id).map_err(|_| not_found())?;
        let merchant = self.store.get_merchant(&id).await?.ok_or_else(not_found)?;
        let body: OperatorKeyInput = requests::parse_or_empty(&req.body)?;
        let name = key_name(body.name.as_ref(), "name")?.unwrap_or_else(|| "issued by the operator".into());
        let limit = rate_limit(body.rate_limit_per_minute.as_ref(), "rate_limit_per_minute", None)?;
        self.room_for_a_key(&merchant.id, now).await?;
        let (key, secret) = ApiKeyRecord::issue(&merchant.id, merchant.mode, &name, limit, now);
        self.store.add_api_key(&key, None).await?;
        tracing::info!(merchant_id = %merchant.id, key_id = %key.id, "API key issued by the operator");
        Ok(ApiResponse::json(201, &ApiKey::of(&key, now, None).with_secret(&secret)))
    }

    /// `POST /v1/merchants {"name", "document", "livemode"?, "api_key_name"?, "rate_limit_per_minute"?}`, for
    /// whoever runs the deployment, with the operator key (`COBRANCA_OPERATOR_KEY_SHA256`): 201 the merchant and
    /// its first key, secret included, once. A merchant is made in test mode unless `livemode` is true. Without an operator key configured the route is closed (403). Under an
    /// `Idempotency-Key` the merchant's id follows from it, so a retry cannot make a second merchant (409).
    pub(super) async fn create_merchant(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        self.operator(req)?;
        let body: MerchantInput = requests::parse(&req.body)?;
        let name = text(body.name.as_ref(), "name")?.trim().to_string();
        if !(2..=200).contains(&name.chars().count()) {
            return Err(ApiError::invalid("name", "nome de 2 a 200 caracteres / a name of 2 to 200 characters"));
        }
        let document = Document::parse(text(body.document.as_ref(), "document")?).map_err(|e| ApiError::invalid("document", e))?;
        let mode = match &body.livemode {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Mode::Test,
            Some(Value::Bool(true)) => Mode::Live,
            Some(_) => return Err(ApiError::invalid("livemode", "true (produção) ou false (teste) / true (live) or false (test)")),
        };
        let key_name = key_name(body.api_key_name.as_ref(), "api_key_name")?.unwrap_or_else(|| "default".into());
        // The operator sets a merchant's limit, above the default if it likes.
        let limit = rate_limit(body.rate_limit_per_minute.as_ref(), "rate_limit_per_minute", None)?;
        let id = match req.header("idempotency-key") {
            Some(k) if crate::domain::idempotency::valid_key(k) => MerchantId::derived(&format!("operator/{k}")),
            Some(_) => {
                return Err(ApiError::invalid(
                    "Idempotency-Key",
                    "chave de idempotência inválida (1 a 255 caracteres visíveis) / invalid idempotency key",
                ))
            }
            None => MerchantId::generate(),
        };
        let merchant = Merchant { id, name, document, created_at: now, mode };
        let (key, secret) = ApiKeyRecord::issue(&merchant.id, merchant.mode, &key_name, limit, now);
        if !self.store.create_merchant(&merchant, &key).await? {
            return Err(ApiError::new(
                409,
                "merchant_exists",
                format!(
                    "lojista {} já criado com esta Idempotency-Key / merchant {} was already created with this Idempotency-Key",
                    merchant.id, merchant.id
                ),
            ));
        }
        tracing::info!(merchant_id = %merchant.id, "merchant created by the operator");
        let api_key = ApiKey::of(&key, now, None).with_secret(&secret);
        Ok(ApiResponse::json(201, &MerchantCreated { merchant: views::Merchant::of(&merchant), api_key }))
    }
}
