//! Customers: `POST /v1/customers`, `GET /v1/customers/{id}`, the payer's erasure (`DELETE …/personal-data`), and
//! reading a customer from a body (inline on a charge, or on its own).

use super::*;

impl Api<'_> {
    pub(super) async fn create_customer(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        reject_unknown(&body, CUSTOMER_FIELDS, "")?;
        let customer = parse_customer(&body, merchant, now, "")?;
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
            let copies = crate::erasure::erase_copies(self.store, &customer).await?;
            customer.erase(now);
            self.store.put_customer(&customer).await?;
            tracing::info!(customer_id = %customer.id, ?copies, "customer personal data erased");
        }
        Ok(ApiResponse::json(200, &views::Customer::of(&customer, merchant.mode.is_live())))
    }
}

pub(super) fn parse_customer(body: &Map<String, Value>, merchant: &Merchant, now: DateTime<Utc>, prefix: &str) -> Result<Customer, ApiError> {
    let f = |name: &str| format!("{prefix}{name}");
    let str_of = |name: &str| -> Result<&str, ApiError> {
        match body.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ApiError::invalid(&f(name), "deve ser texto / must be a string")),
            None => Err(missing(&f(name))),
        }
    };
    let optional = |name: &str| -> Result<Option<&str>, ApiError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(&f(name), "deve ser texto / must be a string")),
        }
    };
    Ok(Customer {
        id: CustomerId::generate(),
        merchant_id: merchant.id.clone(),
        name: PersonName::parse(str_of("name")?).map_err(|e| ApiError::invalid(&f("name"), e))?,
        document: Document::parse(str_of("document")?).map_err(|e| ApiError::invalid(&f("document"), e))?,
        email: optional("email")?.map(Email::parse).transpose().map_err(|e| ApiError::invalid(&f("email"), e))?,
        phone: optional("phone")?.map(Phone::parse).transpose().map_err(|e| ApiError::invalid(&f("phone"), e))?,
        address: match body.get("address") {
            None | Some(Value::Null) => None,
            Some(Value::Object(a)) => {
                reject_unknown(a, &["street", "number", "complement", "district", "city", "state", "cep"], &f("address."))?;
                Some(Address::parse(a).map_err(|(field, e)| ApiError::invalid(&f(&format!("address.{field}")), e))?)
            }
            Some(_) => return Err(ApiError::invalid(&f("address"), "deve ser um objeto / must be an object")),
        },
        opt_out: Default::default(),
        erased_at: None,
        created_at: now,
    })
}

pub(super) const CUSTOMER_FIELDS: &[&str] = &["name", "document", "email", "phone", "address"];
