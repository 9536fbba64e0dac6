//! Customers: `POST /v1/customers`, `GET /v1/customers/{id}`, the payer's erasure (`DELETE …/personal-data`), and
//! reading a customer from a body (inline on a charge, or on its own).

use super::requests;
use super::*;

impl Api<'_> {
    pub(super) async fn create_customer(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: requests::CustomerInput = requests::parse(&req.body)?;
        let customer = new_customer(&body, merchant, now, "")?;
        self.store.put_customer(&customer).await?;
        Ok(ApiResponse::json(201, &views::Customer::of(&customer, merchant.mode.is_live())))
    }

    pub(super) async fn get_customer(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cliente não encontrado / customer not found");
        let id = CustomerId::parse(id).map_err(|_| not_found())?;
        let customer = self.store.get_customer(&merchant.id, &id).await?.ok_or_else(not_found)?;
        Ok(ApiResponse::json(200, &views::Customer::of(&customer, merchant.mode.is_live())))
    }

    /// `DELETE /v1/customers/{id}/personal-data`: the payer's right to erasure (LGPD art. 18, VI). Refused while
    /// the customer has open charges (collecting a debt is a legal basis of its own, art. 7, X); cancel or settle
    /// them first. Charges, ledger and reports stay, naming the anonymised customer.
    pub(super) async fn erase_customer(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cliente não encontrado / customer not found");
        let id = CustomerId::parse(id).map_err(|_| not_found())?;
        let mut customer = self.store.get_customer(&merchant.id, &id).await?.ok_or_else(not_found)?;
        let open = self.store.charges_of_customer(&merchant.id, &id).await?.into_iter().filter(|c| c.status.is_open()).count();
        if open > 0 {
            return Err(ApiError::new(
                409,
                "open_charges",
                format!("o cliente tem {open} cobrança(s) em aberto; cancele ou receba antes de apagar os dados / the customer has {open} open charge(s); cancel or settle them before erasing"),
            ));
        }
        if customer.erased_at.is_none() {
            // Copies first, from the intact record: a retry after a failure part-way finds everything to erase again.
            let copies = crate::service::erasure::erase_copies(self.store, &customer).await?;
            customer.erase(now);
            self.store.put_customer(&customer).await?;
            tracing::info!(customer_id = %customer.id, ?copies, "customer personal data erased");
        }
        Ok(ApiResponse::json(200, &views::Customer::of(&customer, merchant.mode.is_live())))
    }
}

/// A new customer of `merchant` from its request; `prefix` is where the body has it (`customer.` inline on a charge).
pub(super) fn new_customer(body: &requests::CustomerInput, merchant: &Merchant, now: DateTime<Utc>, prefix: &str) -> Result<Customer, ApiError> {
    Ok(Customer {
        id: CustomerId::generate(),
        merchant_id: merchant.id.clone(),
        name: body.name.clone(),
        document: body.document.clone(),
        email: body.email.clone(),
        phone: body.phone.clone(),
        address: body.address.as_ref().map(|a| address(a, prefix)).transpose()?,
        opt_out: Default::default(),
        erased_at: None,
        created_at: now,
    })
}

/// An address from its request, checked; a refusal names the field under `prefix`.
pub(super) fn address(a: &requests::AddressInput, prefix: &str) -> Result<Address, ApiError> {
    a.parse().map_err(|(field, e)| ApiError::invalid(&format!("{prefix}address.{field}"), e))
}
