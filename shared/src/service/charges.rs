//! Making a charge: the one path for a single charge, a carnê's installment, a renegotiation's installment and a
//! subscription's cycle. The caller hands over what it already checked (amount, due date, description, the payer
//! and the terms, in domain types) and the charge's origin; this resolves the payer, issues the payment setup,
//! plans the régua, stores it all, publishes the event and queues what is due now.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use crate::domain::charge::{Charge, ChargeOrigin, ChargeStatus, Description, DueDate, IllegalTransition, PaymentMethod};
use crate::domain::customer::Customer;
use crate::domain::document::Document;
use crate::domain::events::{DomainEvent, EventBus};
use crate::domain::ids::{ChargeId, CustomerId, WalletId};
use crate::domain::merchant::Merchant;
use crate::domain::money::Money;
use crate::domain::notification::NotificationJob;
use crate::domain::pay::installments::FeeMode;
use crate::domain::pay::late_fees::{LateFees, TermsError};
use crate::domain::ruler::{self, Action, Reminder, ReminderState, Ruler};
use crate::domain::wallet::Wallet;
use crate::ports::providers::{ProviderError, Providers};
use crate::ports::queue::JobQueue;
use crate::ports::store::{Store, StoreError};
use crate::service::checkout::{Checkout, CheckoutError};
use crate::service::schedule::Schedules;

/// What making charges needs: where they are stored, announced and queued, and the payment providers.
pub struct ChargeService<'a> {
    pub store: &'a dyn Store,
    pub events: &'a dyn EventBus,
    pub queue: &'a dyn JobQueue,
    pub providers: &'a Providers,
}

/// Who pays a new charge.
pub enum Payer {
    /// One of the merchant's customers, already found billable (`ChargeService::billable_customer`).
    Existing(Customer),
    /// A customer given with the charge: stored only once the whole charge is accepted.
    Inline(Customer),
}

impl Payer {
    pub fn customer(&self) -> &Customer {
        match self {
            Payer::Existing(c) | Payer::Inline(c) => c,
        }
    }
}

/// The charge terms' fields, declared once: every request taking charge terms (`POST /v1/charges`,
/// `/v1/installment-plans`, `/v1/renegotiations`, `/v1/subscriptions`) has them among its own fields, and
/// `TermFields` carries them to `ChargeService::terms`. Called with a macro to receive the list
/// (`charge_terms!(my_macro! { … })`), because serde's `flatten` does not work with `deny_unknown_fields`: the
/// fields must be each request's own for an unknown one to be refused with its name. Adding a term is one line
/// here, its reading in `ChargeService::terms`, and the domain: carnês, renegotiations and subscriptions accept it
/// and pass it on to their charges with no change of theirs (`tests/charge_fields.rs` holds them to it).
macro_rules! charge_terms {
    ($callback:ident! { $($input:tt)* }) => {
        $callback! { { $($input)* }
            /// `["pix", "boleto", "credit_card"]`, at least one.
            #[schema(schema_with = crate::service::charges::schema_refs::payment_methods, required = true)]
            payment_methods,
            /// Card installments the payer may choose, 1 to 12 (above 1 needs `credit_card`).
            #[schema(value_type = Option<u8>, minimum = 1, maximum = 12)]
            max_installments,
            /// Fine, interest, discount and abatement, within the law for the payer (CPF: fine ≤ 2 %, interest ≤ 1 % a month).
            #[schema(schema_with = crate::service::charges::schema_refs::late_fees)]
            late_fees,
            /// The charge's own régua, instead of the customer's or the merchant's.
            #[schema(schema_with = crate::service::charges::schema_refs::ruler)]
            ruler,
            /// The wallets to issue through; all of the merchant's for the methods when absent.
            #[schema(value_type = Option<Vec<String>>)]
            wallet_ids,
            /// Who pays the card installments' fees: `merchant_absorbs` or `payer_pays`.
            #[schema(schema_with = crate::service::charges::schema_refs::fee_mode)]
            fee_mode,
            /// The merchant's own reference, up to 100 characters.
            #[schema(value_type = Option<String>, max_length = 100)]
            external_reference,
        }
    };
}
pub(crate) use charge_terms;

macro_rules! term_fields {
    ({} $($(#[$meta:meta])* $name:ident,)*) => {
        /// The charge terms as a request gives them (and a subscription keeps them for its cycles): each field's
        /// JSON as given, read and checked by `ChargeService::terms`.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct TermFields {
            $(pub $name: Option<Value>,)*
        }

        impl TermFields {
            /// The fields' names, as requests spell them.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The terms' fields of a request body (its other fields are left to the request).
            pub fn from_map(body: &Map<String, Value>) -> Self {
                Self { $($name: body.get(stringify!($name)).cloned(),)* }
            }

            /// The fields given, as a body has them; a null is as good as absent and left out.
            pub fn to_map(&self) -> Map<String, Value> {
                let mut out = Map::new();
                $(if let Some(v) = self.$name.as_ref().filter(|v| !v.is_null()) {
                    out.insert(stringify!($name).into(), v.clone());
                })*
                out
            }
        }
    };
}

charge_terms!(term_fields! {});

/// The OpenAPI schemas of the terms that are documents of their own (`api::openapi` defines them).
pub(crate) mod schema_refs {
    use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};
    use utoipa::openapi::Ref;

    fn nullable(name: &str) -> Schema {
        Schema::AnyOf(AnyOfBuilder::new().item(Ref::from_schema_name(name)).item(ObjectBuilder::new().schema_type(Type::Null)).build())
    }

    pub fn payment_methods() -> Schema {
        Schema::Array(ArrayBuilder::new().items(Ref::from_schema_name("PaymentMethod")).min_items(Some(1)).build())
    }

    pub fn late_fees() -> Schema {
        nullable("LateFees")
    }

    pub fn ruler() -> Schema {
        nullable("Ruler")
    }

    pub fn fee_mode() -> Schema {
        use utoipa::openapi::schema::SchemaType;
        let values = [serde_json::json!("merchant_absorbs"), serde_json::json!("payer_pays"), serde_json::Value::Null];
        Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .enum_values(Some(values))
                .description(Some("Who pays the card installments' fees."))
                .build(),
        )
    }

    pub fn address() -> Schema {
        nullable("Address")
    }
}

/// What a charge carries besides its amount, dates and payer, checked (`ChargeService::terms`).
#[derive(Clone)]
pub struct Terms {
    pub own_ruler: Option<Ruler>,
    pub payment_methods: Vec<PaymentMethod>,
    pub max_installments: u8,
    pub late_fees: LateFees,
    pub fee_mode: Option<FeeMode>,
    pub wallets: Vec<Wallet>,
    pub external_reference: Option<String>,
}

/// A charge to make, already checked.
pub struct NewCharge {
    pub payer: Payer,
    pub amount: Money,
    pub due_date: DueDate,
    pub description: Description,
    pub terms: Terms,
    pub expires_at: Option<DateTime<Utc>>,
    /// A single charge, a carnê's installment, a subscription's cycle.
    pub origin: ChargeOrigin,
    /// What the charge's id (and an inline payer's) is derived from, so that making it again (a retried request,
    /// a resumed carnê, a racing generator run) finds it made rather than making another; None: fresh ids.
    pub key: Option<String>,
}

/// A charge made (or found made under its key), with its reminders.
pub struct Created {
    pub charge: Charge,
    pub reminders: Vec<Reminder>,
}

/// Why a charge was not made. `refusal` says which are the caller's to fix and which are faults to retry.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// A field's value is not acceptable.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A required field is absent.
    #[error("campo obrigatório / required field")]
    Missing(&'static str),
    #[error("cliente não encontrado / customer not found")]
    CustomerNotFound,
    #[error("os dados deste cliente foram apagados (LGPD) / this customer's personal data was erased (LGPD)")]
    CustomerErased,
    /// An inline customer, made by an earlier run of the same keyed request, has been erased since.
    #[error("os dados deste cliente foram apagados a pedido dele / this customer's personal data was erased at their request")]
    InlineCustomerErased,
    /// `field`: where the payer was given (`customer_id`, `customer.address`).
    #[error("boleto registrado exige o endereço do pagador / a registered boleto needs the payer's address")]
    AddressRequired { field: &'static str },
    #[error("chave de idempotência já usada com outro cliente / idempotency key reused with another customer")]
    KeyReusedWithAnotherCustomer,
    #[error("{0}")]
    WalletNotFound(String),
    #[error("nenhuma carteira de {method} cadastrada: crie uma em POST /v1/wallets / no {method} wallet: create one with POST /v1/wallets", method = .0.as_str())]
    NoWalletFor(PaymentMethod),
    /// The charge is stored but its event is not: making it again under the same key publishes it.
    #[error("cobrança criada, aviso pendente; repita com a mesma Idempotency-Key / charge created, event pending; retry with the same Idempotency-Key ({0})")]
    EventNotPublished(String),
    /// A subscription being generated was deleted meanwhile.
    #[error("assinatura não encontrada / subscription not found")]
    SubscriptionGone,
    #[error("cobrança não encontrada / charge not found")]
    ChargeNotFound,
    /// The charge is closed (paid, cancelled, expired…): it can no longer be changed, cancelled or renegotiated.
    #[error("cobrança está {} / charge is {}", .0.as_str(), .0.as_str())]
    NotOpen(ChargeStatus),
    /// Stored data that contradicts itself (a charge without its customer): a fault, never the caller's.
    #[error("{0}")]
    Internal(&'static str),
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TermsError> for ChargeError {
    /// A refused term, naming its field (`late_fees.fine`, `late_fees.interest`, …) and the limit it broke.
    fn from(e: TermsError) -> Self {
        ChargeError::Invalid { field: e.field().into(), message: e.to_string() }
    }
}

impl From<IllegalTransition> for ChargeError {
    fn from(e: IllegalTransition) -> Self {
        ChargeError::NotOpen(e.from)
    }
}

impl ChargeError {
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        ChargeError::Invalid { field: field.into(), message: message.to_string() }
    }

    /// The field the error is about, if one.
    pub fn field(&self) -> Option<String> {
        match self {
            ChargeError::Invalid { field, .. } => Some(field.clone()),
            ChargeError::Missing(field) => Some((*field).into()),
            ChargeError::CustomerNotFound | ChargeError::CustomerErased => Some("customer_id".into()),
            ChargeError::AddressRequired { field } => Some((*field).into()),
            ChargeError::WalletNotFound(_) => Some("wallet_ids".into()),
            ChargeError::NoWalletFor(_) => Some("payment_methods".into()),
            _ => None,
        }
    }

    /// For a refusal (the request as it is will not be made: fix it first), its code and message, as the API
    /// shows them; None for a fault, which the same request may get past later.
    pub fn refusal(&self) -> Option<(&'static str, String)> {
        let code = match self {
            ChargeError::Invalid { .. } => "invalid_field",
            ChargeError::Missing(_) => "missing_field",
            ChargeError::CustomerNotFound => "customer_not_found",
            ChargeError::CustomerErased | ChargeError::InlineCustomerErased => "customer_erased",
            ChargeError::AddressRequired { .. } => "customer_address_required",
            ChargeError::KeyReusedWithAnotherCustomer => "idempotency_key_reused",
            ChargeError::WalletNotFound(_) => "wallet_not_found",
            ChargeError::NoWalletFor(_) => "no_wallet_for_method",
            ChargeError::SubscriptionGone | ChargeError::ChargeNotFound => "not_found",
            ChargeError::NotOpen(_) => "charge_not_open",
            ChargeError::EventNotPublished(_) | ChargeError::Internal(_) => return None,
            // As `api` maps them (`From<CheckoutError>`, `From<StoreError>` for `ApiError`).
            ChargeError::Checkout(e) => match e {
                CheckoutError::Invalid { .. } => "invalid_field",
                CheckoutError::NotOpen(_) => "charge_not_open",
                CheckoutError::CardNotAllowed => "method_not_allowed",
                CheckoutError::PaymentInProgress => "payment_in_progress",
                CheckoutError::TooManyAttempts { .. } => "too_many_card_attempts",
                CheckoutError::Declined { .. } => "card_declined",
                CheckoutError::Provider(ProviderError::Rejected { .. }) => "provider_rejected",
                CheckoutError::Store(e) => return store_refusal(e),
                CheckoutError::Provider(ProviderError::Unavailable(_)) | CheckoutError::Internal(_) => return None,
            },
            ChargeError::Store(e) => return store_refusal(e),
        };
        Some((code, self.to_string()))
    }
}

fn store_refusal(e: &StoreError) -> Option<(&'static str, String)> {
    match e {
        StoreError::Conflict => Some(("conflict", "conflito de concorrência, tente novamente / concurrent update, please retry".into())),
        StoreError::InvalidCursor => Some((
            "invalid_field",
            "cursor inválido: use o next_cursor da página anterior / invalid cursor: use the previous page's next_cursor".into(),
        )),
        StoreError::LimitExceeded(limit) => {
            Some(("too_large", format!("o pedido excede um limite de armazenamento / the request exceeds a storage limit ({limit})")))
        }
        _ => None,
    }
}

impl ChargeService<'_> {
    pub fn checkout(&self) -> Checkout<'_> {
        Checkout { store: self.store, queue: self.queue, events: self.events, providers: self.providers }
    }

    fn schedules(&self) -> Schedules<'_> {
        Schedules { store: self.store }
    }

    /// The existing customer a new charge names: one of the merchant's, with its data intact.
    pub async fn billable_customer(&self, merchant: &Merchant, id: &str) -> Result<Customer, ChargeError> {
        let id = CustomerId::parse(id).map_err(|_| ChargeError::CustomerNotFound)?;
        let customer = self.store.get_customer(&merchant.id, &id).await?.ok_or(ChargeError::CustomerNotFound)?;
        if customer.erased_at.is_some() {
            return Err(ChargeError::CustomerErased);
        }
        Ok(customer)
    }

    /// What a charge carries besides its amount, dates and customer, read from its terms as a request gives
    /// them: the one reading of these fields, for single charges, carnês and the charges subscriptions generate.
    /// `payer` decides what late fees the law allows (CPF or CNPJ).
    pub async fn terms(
        &self,
        merchant: &Merchant,
        fields: &TermFields,
        amount: Money,
        due_date: DueDate,
        payer: &Document,
    ) -> Result<Terms, ChargeError> {
        let own_ruler = match fields.ruler.as_ref() {
            None | Some(Value::Null) => None,
            Some(v) => Some(Ruler::parse(v).map_err(|e| ChargeError::invalid(&format!("ruler.{}", e.field), e.message))?),
        };
        let payment_methods = parse_methods(fields.payment_methods.as_ref())?;
        let max_installments = match fields.max_installments.as_ref() {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=12).contains(n))
                .ok_or_else(|| ChargeError::invalid("max_installments", "parcelas de 1 a 12 / installments must be 1 to 12"))?
                as u8,
        };
        if max_installments > 1 && !payment_methods.contains(&PaymentMethod::CreditCard) {
            return Err(ChargeError::invalid("max_installments", "parcelamento exige credit_card / installments require credit_card"));
        }
        let late_fees = late_fees(fields.late_fees.as_ref(), amount, due_date, payer)?;
        let fee_mode = match fields.fee_mode.as_ref() {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value::<FeeMode>(v.clone())
                    .map_err(|_| ChargeError::invalid("fee_mode", "merchant_absorbs ou payer_pays / merchant_absorbs or payer_pays"))?,
            ),
        };
        let wallets = self.wallets_for(merchant, &payment_methods, fields.wallet_ids.as_ref()).await?;
        let external_reference = match fields.external_reference.as_ref() {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= 100 => Some(s.clone()),
            _ => return Err(ChargeError::invalid("external_reference", "texto de até 100 caracteres / string up to 100 chars")),
        };
        Ok(Terms { own_ruler, payment_methods, max_installments, late_fees, fee_mode, wallets, external_reference })
    }

    /// The wallets a new charge may use: the ones it names (`wallet_ids`), else all of the merchant's; each
    /// allowed method needs at least one, and a named wallet must serve an allowed method.
    async fn wallets_for(&self, merchant: &Merchant, methods: &[PaymentMethod], requested: Option<&Value>) -> Result<Vec<Wallet>, ChargeError> {
        // Only wallets the merchant's mode serves: a live merchant never defaults to a sandbox wallet (one stored
        // before modes existed), a test merchant never to a real institution's.
        let all: Vec<Wallet> = self.store.wallets_of(&merchant.id).await?.into_iter().filter(|w| merchant.mode.serves(w.provider)).collect();
        let chosen: Vec<Wallet> = match requested {
            None | Some(Value::Null) => all.into_iter().filter(|w| methods.contains(&w.method())).collect(),
            Some(Value::Array(ids)) => {
                let mut out = Vec::new();
                for id in ids {
                    let wallet = id
                        .as_str()
                        .and_then(|s| WalletId::parse(s).ok())
                        .and_then(|id| all.iter().find(|w| w.id == id))
                        .ok_or_else(|| ChargeError::WalletNotFound(format!("carteira não encontrada / wallet not found: {id}")))?;
                    if !methods.contains(&wallet.method()) {
                        return Err(ChargeError::invalid(
                            "wallet_ids",
                            format!(
                                "a carteira {} é de {}, que a cobrança não aceita / wallet {} is for {}, which the charge does not allow",
                                wallet.id,
                                wallet.method().as_str(),
                                wallet.id,
                                wallet.method().as_str()
                            ),
                        ));
                    }
                    if !out.iter().any(|w: &Wallet| w.id == wallet.id) {
                        out.push(wallet.clone());
                    }
                }
                out
            }
            Some(_) => return Err(ChargeError::invalid("wallet_ids", "lista de ids de carteira / list of wallet ids")),
        };
        if let Some(m) = methods.iter().find(|m| !chosen.iter().any(|w| w.method() == **m)) {
            return Err(ChargeError::NoWalletFor(*m));
        }
        Ok(chosen)
    }

    /// A charge of a series — a carnê's installment, a renegotiation's, a subscription's cycle — from the series'
    /// payer and charge terms (as a request gives them) and this charge's amount, due date and
    /// description, checked as a single charge's are and in the same order, made under `key`.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_in_series(
        &self,
        merchant: &Merchant,
        customer_id: &str,
        fields: &TermFields,
        amount: Money,
        due_date: NaiveDate,
        description: &str,
        origin: ChargeOrigin,
        key: String,
        now: DateTime<Utc>,
    ) -> Result<Created, ChargeError> {
        let due_date = DueDate::parse_new(&due_date.to_string(), now).map_err(|e| ChargeError::invalid("due_date", e))?;
        let description = Description::parse(description).map_err(|e| ChargeError::invalid("description", e))?;
        let customer = self.billable_customer(merchant, customer_id).await?;
        let terms = self.terms(merchant, fields, amount, due_date, &customer.document).await?;
        let new = NewCharge { payer: Payer::Existing(customer), amount, due_date, description, terms, expires_at: None, origin, key: Some(key) };
        self.create(merchant, new, now).await
    }

    /// Makes the charge: the payer (an inline one stored now), the payment setup issued through its wallets, the
    /// régua planned, all stored, `ChargeCreated` published and the reminders due at once queued. Under a key, a
    /// charge already made with it is finished (its registrations, its event, its due notices) rather than made
    /// twice.
    pub async fn create(&self, merchant: &Merchant, new: NewCharge, now: DateTime<Utc>) -> Result<Created, ChargeError> {
        let NewCharge { payer, amount, due_date, description, terms, expires_at, origin, key } = new;
        let Terms { own_ruler, payment_methods, max_installments, late_fees, fee_mode, wallets, external_reference } = terms;
        let inline = matches!(payer, Payer::Inline(_));
        if payment_methods.contains(&PaymentMethod::Boleto) && payer.customer().address.is_none() {
            return Err(ChargeError::AddressRequired { field: if inline { "customer.address" } else { "customer_id" } });
        }
        let customer = match payer {
            Payer::Existing(customer) => customer,
            Payer::Inline(customer) => match self.store.get_customer(&merchant.id, &customer.id).await? {
                None => {
                    self.store.put_customer(&customer).await?;
                    customer
                }
                // A keyed request run again (its first run died, or was refused after storing the customer):
                // the customer stands as it is — never overwritten, so an erasure or an edit is not undone.
                Some(existing) if existing.erased_at.is_some() => return Err(ChargeError::InlineCustomerErased),
                Some(existing)
                    if (&existing.name, &existing.document, &existing.email, &existing.phone, &existing.address)
                        == (&customer.name, &customer.document, &customer.email, &customer.phone, &customer.address) =>
                {
                    existing
                }
                Some(_) => return Err(ChargeError::KeyReusedWithAnotherCustomer),
            },
        };

        let mut charge = Charge {
            max_installments,
            external_reference,
            ruler: own_ruler,
            late_fees,
            expires_at,
            wallet_ids: wallets.iter().map(|w| w.id.clone()).collect(),
            origin,
            ..Charge::new_pending(merchant.id.clone(), customer.id.clone(), amount, due_date, description, payment_methods, now)
        };
        if let Some(key) = &key {
            charge.id = ChargeId::derived(key);
        }
        let mut setup_jobs = Vec::new();
        for wallet in crate::service::checkout::default_wallets(&charge.payment_methods, &wallets) {
            setup_jobs.extend(self.checkout().issue(&mut charge, &wallet, now).await?);
        }
        if let (Some(mode), Some(card)) = (fee_mode, charge.setup.card.as_mut()) {
            card.fee_mode = mode;
        }
        let ruler = self.schedules().ruler_for(charge.ruler.as_ref(), &merchant.id, &customer.id).await?;
        let mut reminders = ruler::plan(&charge, &customer, &ruler, now);
        match self.store.create_charge(&charge, &reminders).await {
            Ok(()) => self.checkout().queue_setup(&setup_jobs).await,
            // Made before under the same key (a request that died after storing it, a resumed carnê, a racing
            // run): finish that one instead of making another.
            Err(StoreError::Conflict) if key.is_some() => {
                charge = self.store.get_charge(&merchant.id, &charge.id).await?.ok_or(StoreError::Conflict)?;
                reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
                self.checkout().queue_setup(&crate::service::registration::pending_setup(&charge)).await;
            }
            Err(e) => return Err(e.into()),
        }

        let created = DomainEvent {
            id: format!("{}:created", charge.id),
            kind: crate::domain::events::EventKind::ChargeCreated,
            merchant_id: charge.merchant_id.clone(),
            charge_id: charge.id.clone(),
            occurred_at: charge.created_at,
            data: json!({"amount": charge.amount, "due_date": charge.due_date, "customer_id": charge.customer_id}),
        };
        if let Err(e) = self.events.publish(&[created]).await {
            if key.is_some() {
                // The caller will make it again under its key, and that run publishes it.
                return Err(ChargeError::EventNotPublished(e.to_string()));
            }
            // Without a key a retry would create another charge: the charge stands, the event is logged as lost.
            tracing::error!(charge_id = %charge.id, error = %e, "ChargeCreated not published");
        }
        self.send_now(&mut reminders, now).await;
        Ok(Created { charge, reminders })
    }

    /// Reminders already due (the "new charge" notice) go straight to the queue; if that fails the next tick
    /// finds them, so the change that made them still stands.
    pub async fn send_now(&self, reminders: &mut [Reminder], now: DateTime<Utc>) {
        let mut jobs = Vec::new();
        for r in reminders.iter_mut().filter(|r| r.due_at <= now && matches!(r.action, Action::Notify(_))) {
            let queued = ReminderState::Queued { lease_until: now + crate::service::tick::LEASE, attempt: 1 };
            if let Ok(true) = self.store.transition_reminder(r, &["planned"], queued.clone(), now).await {
                r.state = queued;
                jobs.push(NotificationJob { merchant_id: r.merchant_id.clone(), charge_id: r.charge_id.clone(), reminder_id: r.id(), as_of: now });
            }
        }
        if let Err(e) = self.queue.enqueue(&jobs).await {
            tracing::warn!(error = %e, "immediate reminders left for the next tick");
        }
    }
}

/// `late_fees`: `{"fine":{"kind":"percent","value":"2"},"interest":{"kind":"percent_per_month","value":"1"},
/// "discount":{"until":"2026-12-05","value":{"kind":"fixed","value":"5.00"}},"abatement":"10.00","consumer_cap":true}`,
/// admitted for a charge of `amount` due on `due_date` to `payer` (`LateFees::admit`: bounds and legal ceilings).
pub fn late_fees(v: Option<&Value>, amount: Money, due_date: DueDate, payer: &Document) -> Result<LateFees, ChargeError> {
    let late_fees: LateFees = match v {
        None | Some(Value::Null) => return Ok(LateFees::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            ChargeError::invalid("late_fees", format!("multa, juros ou desconto inválidos / invalid fine, interest or discount: {e}"))
        })?,
    };
    late_fees.admit(amount, due_date.date(), payer)?;
    Ok(late_fees)
}

fn parse_methods(v: Option<&Value>) -> Result<Vec<PaymentMethod>, ChargeError> {
    let field = "payment_methods";
    let Some(v) = v else { return Err(ChargeError::Missing(field)) };
    let items = v
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ChargeError::invalid(field, "lista não vazia de pix, boleto, credit_card / non-empty list of pix, boleto, credit_card"))?;
    let mut out = Vec::new();
    for item in items {
        let m = item
            .as_str()
            .and_then(PaymentMethod::parse)
            .ok_or_else(|| ChargeError::invalid(field, format!("forma de pagamento desconhecida / unknown payment method: {item}")))?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}
