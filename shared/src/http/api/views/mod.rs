//! What the merchant API answers with, as types: each object's fields, and its OpenAPI schema derived from
//! them (`schemas`), so the document cannot describe an object the handlers do not build.
//!
//! Every object carries `livemode`, its merchant's mode, set when the view is built from the merchant the
//! request authenticated (objects have no mode of their own: a merchant is test or live as a whole).
//!
//! Parts still JSON values or domain types serialised as they are (in the schema only as `object`, `string` or
//! arrays of them, by `value_type`): a charge's payment part (`amount_due`, `received`, `refunded`,
//! `balance_due`, `credit`, `late_fees`, `expires_at`, `wallets`, `pix`, `boleto`, `card`), built by
//! `checkout::payment_view`, which the payer's page shares; a subscription's charge terms, kept as the request
//! gave them; a customer's address; a charge's `origin`; a wallet's `settings`; ledger entries, schedule entries,
//! a notification's `history`, a régua, price tables and a delivery's attempts and `payload`.

use serde::Serialize;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

mod api_key;
mod card_payment;
mod charge;
mod charge_log;
mod customer;
mod error;
mod merchant;
mod messaging;
mod plan;
mod replan;
mod subscription;
#[cfg(test)]
mod tests;
mod wallet;
mod webhook;

pub(crate) use api_key::ApiKey;
pub(crate) use card_payment::CardPaymentApproved;
pub(crate) use charge::Charge;
pub(crate) use charge_log::{ChargeLedger, ChargeNotifications, ChargeSchedule, Notification, SchedulePreview};
pub(crate) use customer::Customer;
pub(crate) use error::Error;
pub(crate) use merchant::{Merchant, MerchantCreated};
pub(crate) use messaging::{
    BudgetUse, ChannelSpendLine, MerchantNotificationSettings, MessageTemplate, NotificationSpend, NotificationSpendObject, RenderedTemplate,
    SmsSize, TemplateList, TemplateObject, TemplatePreviewObject,
};
pub(crate) use plan::{InstallmentPlan, InstallmentPlanSummary, PlanInstallmentView};
pub(crate) use replan::{OptedOut, Replan, RulerAnswer};
pub(crate) use subscription::{Subscription, SubscriptionCharge};
pub(crate) use wallet::Wallet;
pub(crate) use webhook::{WebhookDelivery, WebhookEndpoint, WebhookEndpointDeleted};

/// The routes whose answers are built from `views`, each object with its `livemode`: these skip
/// `ApiResponse::mark_livemode`, which re-parses the others' answers. A route not listed (a new one included) still
/// gets it; today that is the six reports `crate::service::reports` builds (`/v1/reports/…`, notification-spend aside) and
/// the CNAB 240 import.
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys/{key_id}/rotate"),
    ("DELETE", "/v1/api-keys/{key_id}"),
    ("POST", "/v1/customers"),
    ("GET", "/v1/customers"),
    ("PATCH", "/v1/customers/{customer_id}"),
    ("GET", "/v1/customers/{customer_id}"),
    ("DELETE", "/v1/customers/{customer_id}/personal-data"),
    ("GET", "/v1/customers/{customer_id}/ruler"),
    ("PUT", "/v1/customers/{customer_id}/ruler"),
    ("PUT", "/v1/customers/{customer_id}/opt-out"),
    ("POST", "/v1/charges"),
    ("GET", "/v1/charges"),
    ("GET", "/v1/charges/{charge_id}"),
    ("PATCH", "/v1/charges/{charge_id}"),
    ("POST", "/v1/charges/{charge_id}/cancel"),
    ("POST", "/v1/charges/{charge_id}/wallet"),
    ("POST", "/v1/charges/{charge_id}/card-payments"),
    ("GET", "/v1/charges/{charge_id}/schedule"),
    ("GET", "/v1/charges/{charge_id}/ledger"),
    ("GET", "/v1/charges/{charge_id}/notifications"),
    ("POST", "/v1/wallets"),
    ("GET", "/v1/wallets"),
    ("GET", "/v1/wallets/{wallet_id}"),
    ("POST", "/v1/installment-plans"),
    ("GET", "/v1/installment-plans"),
    ("GET", "/v1/installment-plans/{plan_id}"),
    ("POST", "/v1/installment-plans/{plan_id}/cancel"),
    ("POST", "/v1/renegotiations"),
    ("POST", "/v1/subscriptions"),
    ("GET", "/v1/subscriptions"),
    ("GET", "/v1/subscriptions/{subscription_id}"),
    ("PATCH", "/v1/subscriptions/{subscription_id}"),
    ("POST", "/v1/subscriptions/{subscription_id}/pause"),
    ("POST", "/v1/subscriptions/{subscription_id}/resume"),
    ("POST", "/v1/subscriptions/{subscription_id}/cancel"),
    ("GET", "/v1/reports/notification-spend"),
    ("GET", "/v1/notification-settings"),
    ("PUT", "/v1/notification-settings"),
    ("GET", "/v1/templates"),
    ("POST", "/v1/templates/preview"),
    ("GET", "/v1/templates/{channel}/{step}"),
    ("PUT", "/v1/templates/{channel}/{step}"),
    ("DELETE", "/v1/templates/{channel}/{step}"),
    ("GET", "/v1/ruler"),
    ("PUT", "/v1/ruler"),
    ("POST", "/v1/ruler/preview"),
    ("POST", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"),
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"),
    ("GET", "/v1/webhook-deliveries/{delivery_id}"),
    ("POST", "/v1/webhook-deliveries/{delivery_id}/replay"),
];

/// The `object` field of a view: one variant, so its schema is the constant it always is.
macro_rules! object_kind {
    ($(#[$doc:meta])* $name:ident = $value:tt) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, serde::Serialize, utoipa::ToSchema)]
        pub(crate) enum $name {
            #[default]
            #[serde(rename = $value)]
            Is,
        }
    };
}
pub(crate) use object_kind;

object_kind!(ListObject = "list");

/// The schema of a field whose type is the domain's (no schema of its own): a string, one of `values` as they
/// serialise.
pub(crate) fn string_enum<T: Serialize>(values: &[T]) -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let names = values.iter().map(|v| serde_json::to_value(v).expect("a unit variant serialises"));
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).enum_values(Some(names))
}

/// A page of a list: `{object: "list", data, has_more, next_cursor}`.
// One schema, `List`, whatever the items (derived from `ListOf<Value>`): the document says each route's items
// where it names the route.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = List)]
pub(crate) struct ListOf<T> {
    #[schema(inline)]
    pub object: ListObject,
    #[schema(inline)]
    pub data: Vec<T>,
    /// Whether another page follows; absent from a list that comes whole (a merchant's webhook endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool)]
    pub has_more: Option<bool>,
    /// What to pass as `cursor` for the next page; null on the last; absent from a list that comes whole.
    // Two levels: absent (a whole list) and null (the last page) are both on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub next_cursor: Option<Option<String>>,
}

impl<T> ListOf<T> {
    /// One page of a list read a page at a time; `next_cursor` None on the last.
    pub(crate) fn page(data: Vec<T>, next_cursor: Option<String>) -> Self {
        Self { object: ListObject::Is, data, has_more: Some(next_cursor.is_some()), next_cursor: Some(next_cursor) }
    }

    /// A list that comes whole, without paging fields.
    pub(crate) fn whole(data: Vec<T>) -> Self {
        Self { object: ListObject::Is, data, has_more: None, next_cursor: None }
    }
}

/// Every view's schema, by its name: what `components.schemas` of the generated document holds for responses.
pub(crate) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    fn named<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((T::name().into_owned(), T::schema()));
        T::schemas(out);
    }
    let mut out = Vec::new();
    named::<Error>(&mut out);
    named::<ListOf<serde_json::Value>>(&mut out);
    named::<Customer>(&mut out);
    named::<Charge>(&mut out);
    named::<ChargeNotifications>(&mut out);
    named::<ChargeLedger>(&mut out);
    named::<ChargeSchedule>(&mut out);
    named::<SchedulePreview>(&mut out);
    named::<InstallmentPlan>(&mut out);
    named::<InstallmentPlanSummary>(&mut out);
    named::<Subscription>(&mut out);
    named::<ApiKey>(&mut out);
    named::<MerchantCreated>(&mut out);
    named::<CardPaymentApproved>(&mut out);
    named::<Replan>(&mut out);
    named::<RulerAnswer>(&mut out);
    named::<OptedOut>(&mut out);
    named::<Wallet>(&mut out);
    named::<MerchantNotificationSettings>(&mut out);
    named::<NotificationSpend>(&mut out);
    named::<TemplateList>(&mut out);
    named::<RenderedTemplate>(&mut out);
    named::<WebhookEndpoint>(&mut out);
    named::<WebhookEndpointDeleted>(&mut out);
    named::<WebhookDelivery>(&mut out);
    // A view nested in several (Customer, ApiKey, …) is collected by each: once is enough.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|(name, _)| seen.insert(name.clone()));
    out
}
