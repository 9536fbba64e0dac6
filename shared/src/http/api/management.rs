//! Listing and updating what a merchant holds: `GET /v1/customers`, `PATCH /v1/customers/{id}`, `GET /v1/charges`
//! (filters and cursor pagination, as Stripe's lists: `{object: list, data, has_more, next_cursor}`).

use crate::domain::charge::payment_url;
use chrono::{DateTime, NaiveDate, Utc};

use super::views::{self, ListOf};
use super::{Api, ApiError, ApiRequest, ApiResponse};
use crate::domain::charge::ChargeStatus;
use crate::domain::ids::CustomerId;
use crate::domain::merchant::Merchant;
use crate::ports::store::{ChargeQuery, Page};

/// `limit` of a list: 1 to 100, 20 by default.
pub(super) fn page_limit(req: &ApiRequest) -> Result<usize, ApiError> {
    match req.query("limit") {
        None => Ok(20),
        Some(l) => l.parse::<usize>().ok().filter(|l| (1..=100).contains(l)).ok_or_else(|| ApiError::invalid("limit", "de 1 a 100 / 1 to 100")),
    }
}

pub(super) fn list<T, V: serde::Serialize>(page: Page<T>, item: impl Fn(&T) -> V) -> ApiResponse {
    ApiResponse::json(200, &ListOf::page(page.items.iter().map(item).collect(), page.next))
}

fn date_filter(req: &ApiRequest, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    req.query(name)
        .map(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| ApiError::invalid(name, "data AAAA-MM-DD / date YYYY-MM-DD")))
        .transpose()
}

fn customer_not_found() -> ApiError {
    ApiError::new(404, "not_found", "cliente não encontrado / customer not found")
}

impl Api<'_> {
    pub(super) async fn list_customers(&self, merchant: &Merchant, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let page = self.store.list_customers(&merchant.id, page_limit(req)?, req.query("cursor")).await?;
        let livemode = merchant.mode.is_live();
        Ok(list(page, |c| views::Customer::of(c, livemode)))
    }

    /// Changes a customer's name, contacts or address (`null` clears an optional one). The CPF/CNPJ is who the
    /// customer is — boletos were registered and receipts issued under it — so it cannot change: create another
    /// customer. An erased customer (LGPD) has nothing left to change.
    pub(super) async fn update_customer(
        &self,
        merchant: &Merchant,
        id: &str,
        req: &ApiRequest,
        _now: DateTime<Utc>,
    ) -> Result<ApiResponse, ApiError> {
        let id = CustomerId::parse(id).map_err(|_| customer_not_found())?;
        let body: super::requests::CustomerUpdate = super::requests::parse(&req.body)?;
        let current = self.store.get_customer(&merchant.id, &id).await?.ok_or_else(customer_not_found)?;
        if current.erased_at.is_some() {
            return Err(ApiError::new(
                409,
                "customer_erased",
                "os dados deste cliente foram apagados (LGPD) / this customer's personal data was erased (LGPD)",
            ));
        }
        if let Some(document) = &body.document {
            let same = document.as_str().and_then(|d| crate::domain::document::Document::parse(d).ok()).is_some_and(|d| d == current.document);
            if !same {
                return Err(ApiError {
                    status: 422,
                    code: "document_immutable",
                    message: "o CPF/CNPJ de um cliente não muda; crie outro cliente / a customer's CPF/CNPJ cannot change; create another customer"
                        .into(),
                    field: Some("document".into()),
                });
            }
        }
        // The stored customer with the body's fields over it, each checked as a new customer's would be.
        use super::requests::Patch;
        fn patched<T: Clone>(patch: Patch<T>, current: &Option<T>) -> Option<T> {
            match patch {
                Patch::Absent => current.clone(),
                Patch::Null => None,
                Patch::Value(v) => Some(v),
            }
        }
        let address = match body.address {
            Patch::Absent => current.address.clone(),
            Patch::Null => None,
            Patch::Value(a) => Some(super::customers::address(&a, "")?),
        };
        let updated = crate::domain::customer::Customer {
            name: body.name.unwrap_or_else(|| current.name.clone()),
            email: patched(body.email, &current.email),
            phone: patched(body.phone, &current.phone),
            address,
            ..current.clone()
        };
        if updated != current {
            self.store.put_customer(&updated).await?;
        }
        Ok(ApiResponse::json(200, &views::Customer::of(&updated, merchant.mode.is_live())))
    }

    /// A merchant's charges by due date, optionally of one status and customer and within a due-date range.
    pub(super) async fn list_charges(&self, merchant: &Merchant, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let status = req
            .query("status")
            .map(|s| ChargeStatus::parse(&s).ok_or_else(|| ApiError::invalid("status", "status desconhecido / unknown status")))
            .transpose()?;
        let customer = req
            .query("customer_id")
            .map(|c| CustomerId::parse(&c).map_err(|_| ApiError::invalid("customer_id", "id de cliente inválido / invalid customer id")))
            .transpose()?;
        let (due_from, due_to) = (date_filter(req, "due_from")?, date_filter(req, "due_to")?);
        if let (Some(from), Some(to)) = (due_from, due_to) {
            if from > to {
                return Err(ApiError::invalid("due_from", "due_from depois de due_to / due_from after due_to"));
            }
        }
        let query = ChargeQuery { status, customer, due_from, due_to };
        let page = self.store.list_charges(&merchant.id, &query, page_limit(req)?, req.query("cursor")).await?;
        // A list shows each charge, not its régua nor its payment part: GET /v1/charges/{id} has them.
        let livemode = merchant.mode.is_live();
        Ok(list(page, |c| views::Charge::summary(c, payment_url(self.public_base_url, &c.payment_token), livemode)))
    }
}
