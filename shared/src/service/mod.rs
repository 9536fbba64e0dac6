//! The use cases, called with domain types by whoever needs them — the HTTP API (`api`), the scheduled functions
//! (ruler-tick) and any future console alike — never through HTTP-shaped requests. Each returns domain values and
//! a domain error; turning those into status codes and JSON is the caller's business.

pub mod charges;
pub mod lifecycle;
pub mod subscriptions;

pub use charges::{ChargeError, ChargeService, Created, NewCharge, Payer, TermFields, Terms};
pub use subscriptions::{SubscriptionRun, MAX_SUBSCRIPTIONS_PER_RUN};
