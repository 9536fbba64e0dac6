//! The merchant's webhook endpoints and their delivery log: `/v1/webhook-endpoints`, `/v1/webhook-deliveries`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::requests::{self, RotateSecret, WebhookEndpointInput, WebhookEndpointUpdate};
use super::views::{self, ListOf};
use super::{Api, ApiError, ApiRequest, ApiResponse};
use crate::domain::ids::{WebhookEndpointId, WebhookMessageId};
use crate::domain::merchant::Merchant;
use crate::service::merchant_webhooks::{self, ReplayError, WebhookEndpoint, DEFAULT_ROTATION_GRACE};

fn endpoint_not_found() -> ApiError {
    ApiError::new(404, "not_found", "endpoint de webhook não encontrado / webhook endpoint not found")
}

fn delivery_not_found() -> ApiError {
    ApiError::new(404, "not_found", "entrega não encontrada / delivery not found")
}

impl From<merchant_webhooks::FieldError> for ApiError {
    fn from(e: merchant_webhooks::FieldError) -> Self {
        ApiError::invalid(&e.field, e.message)
    }
}

impl Api<'_> {
    async fn endpoint(&self, merchant: &Merchant, id: &str) -> Result<WebhookEndpoint, ApiError> {
        let id = WebhookEndpointId::parse(id).map_err(|_| endpoint_not_found())?;
        self.store.get_webhook_endpoint(&merchant.id, &id).await?.ok_or_else(endpoint_not_found)
    }

    pub(super) async fn create_webhook_endpoint(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: WebhookEndpointInput = requests::parse(&req.body)?;
        let (endpoint, secret) = WebhookEndpoint::create(&body.to_value(), &merchant.id, self.webhook_urls, now)?;
        let registered = self.store.webhook_endpoints_of(&merchant.id).await?.len();
        if registered >= merchant_webhooks::MAX_ENDPOINTS_PER_MERCHANT {
            let max = merchant_webhooks::MAX_ENDPOINTS_PER_MERCHANT;
            return Err(ApiError::new(
                409,
                "webhook_endpoint_limit",
                format!("o lojista já tem {registered} endpoints (máximo {max}); apague um antes / the merchant already has {registered} endpoints (at most {max}); delete one first"),
            ));
        }
        self.store.add_webhook_endpoint(&endpoint).await?;
        // Shown once: only a rotation shows a secret again.
        Ok(ApiResponse::json(201, &views::WebhookEndpoint::of(&endpoint, merchant.mode.is_live()).with_secret(secret)))
    }

    pub(super) async fn list_webhook_endpoints(&self, merchant: &Merchant) -> Result<ApiResponse, ApiError> {
        let endpoints = self.store.webhook_endpoints_of(&merchant.id).await?;
        let data = endpoints.iter().map(|e| views::WebhookEndpoint::of(e, merchant.mode.is_live())).collect();
        Ok(ApiResponse::json(200, &ListOf::whole(data)))
    }

    pub(super) async fn get_webhook_endpoint(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        Ok(ApiResponse::json(200, &views::WebhookEndpoint::of(&self.endpoint(merchant, id).await?, merchant.mode.is_live())))
    }

    /// Reads, changes and writes back an endpoint under optimistic concurrency, retrying a lost race.
    async fn change_endpoint<T>(
        &self,
        merchant: &Merchant,
        id: &str,
        change: impl Fn(&mut WebhookEndpoint) -> Result<T, ApiError>,
    ) -> Result<(WebhookEndpoint, T), ApiError> {
        for _ in 0..3 {
            let mut endpoint = self.endpoint(merchant, id).await?;
            let expected = endpoint.version;
            let out = change(&mut endpoint)?;
            match self.store.update_webhook_endpoint(&endpoint, expected).await {
                Ok(()) => return Ok((endpoint, out)),
                Err(crate::ports::store::StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::ports::store::StoreError::Conflict.into())
    }

    pub(super) async fn update_webhook_endpoint(
        &self,
        merchant: &Merchant,
        id: &str,
        req: &ApiRequest,
        now: DateTime<Utc>,
    ) -> Result<ApiResponse, ApiError> {
        let body = requests::parse::<WebhookEndpointUpdate>(&req.body)?.to_value();
        let (endpoint, ()) = self.change_endpoint(merchant, id, |e| Ok(e.update(&body, self.webhook_urls, now)?)).await?;
        Ok(ApiResponse::json(200, &views::WebhookEndpoint::of(&endpoint, merchant.mode.is_live())))
    }

    pub(super) async fn delete_webhook_endpoint(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let endpoint = self.endpoint(merchant, id).await?;
        self.store.delete_webhook_endpoint(&merchant.id, &endpoint.id).await?;
        Ok(ApiResponse::json(200, &views::WebhookEndpointDeleted::of(endpoint.id, merchant.mode.is_live())))
    }

    /// `{"grace_hours"?: 0..168}` (default 24): the old secret keeps signing alongside the new one that long.
    pub(super) async fn rotate_webhook_secret(
        &self,
        merchant: &Merchant,
        id: &str,
        req: &ApiRequest,
        now: DateTime<Utc>,
    ) -> Result<ApiResponse, ApiError> {
        let body: RotateSecret = if req.body.is_empty() { RotateSecret::default() } else { requests::parse(&req.body)? };
        let grace = match &body.grace_hours {
            None | Some(Value::Null) => DEFAULT_ROTATION_GRACE,
            Some(v) => match v.as_u64().filter(|h| *h <= 168) {
                Some(h) => chrono::Duration::hours(h as i64),
                None => return Err(ApiError::invalid("grace_hours", "horas, de 0 a 168 / hours, 0 to 168")),
            },
        };
        let (endpoint, secret) = self.change_endpoint(merchant, id, |e| Ok(e.rotate_secret(grace, now))).await?;
        Ok(ApiResponse::json(200, &views::WebhookEndpoint::of(&endpoint, merchant.mode.is_live()).with_secret(secret)))
    }

    /// `GET /v1/webhook-endpoints/{id}/deliveries?limit=&cursor=`: newest first.
    pub(super) async fn list_webhook_deliveries(&self, merchant: &Merchant, id: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let endpoint = self.endpoint(merchant, id).await?;
        let limit = match req.query("limit") {
            None => 20,
            Some(l) => {
                l.parse::<usize>().ok().filter(|l| (1..=100).contains(l)).ok_or_else(|| ApiError::invalid("limit", "de 1 a 100 / 1 to 100"))?
            }
        };
        let page = self.store.webhook_deliveries_of(&merchant.id, &endpoint.id, limit, req.query("cursor")).await?;
        let data = page.items.iter().map(|d| views::WebhookDelivery::of(d, merchant.mode.is_live())).collect();
        Ok(ApiResponse::json(200, &ListOf::page(data, page.next)))
    }

    pub(super) async fn get_webhook_delivery(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let id = WebhookMessageId::parse(id).map_err(|_| delivery_not_found())?;
        let delivery = self.store.get_webhook_delivery(&merchant.id, &id).await?.ok_or_else(delivery_not_found)?;
        Ok(ApiResponse::json(200, &views::WebhookDelivery::of(&delivery, merchant.mode.is_live())))
    }

    pub(super) async fn replay_webhook_delivery(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let id = WebhookMessageId::parse(id).map_err(|_| delivery_not_found())?;
        match merchant_webhooks::replay(self.store, self.queue, &merchant.id, &id).await {
            Ok(delivery) => Ok(ApiResponse::json(202, &views::WebhookDelivery::of(&delivery, merchant.mode.is_live()))),
            Err(ReplayError::NotFound) => Err(delivery_not_found()),
            Err(e @ ReplayError::EndpointNotEnabled(_)) => Err(ApiError::new(409, "endpoint_not_enabled", e.to_string())),
            Err(ReplayError::Webhook(e)) => Err(ApiError::internal(e)),
        }
    }
}
