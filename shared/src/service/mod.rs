//! The use cases, called with domain types by whoever needs them — the HTTP API (`api`), the scheduled functions
//! (ruler-tick) and any future console alike — never through HTTP-shaped requests. Each returns domain values and
//! a domain error; turning those into status codes and JSON is the caller's business.

pub mod charges;
pub mod checkout;
pub mod delivery;
pub mod erasure;
pub mod lifecycle;
pub mod merchant_webhooks;
pub mod registration;
pub mod reports;
pub mod schedule;
pub mod settlement;
pub mod subscriptions;
pub mod tick;

pub use charges::{ChargeError, ChargeService, Created, NewCharge, Payer, TermFields, Terms};
pub use subscriptions::{SubscriptionRun, MAX_SUBSCRIPTIONS_PER_RUN};
