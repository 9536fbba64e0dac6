//! The ports: what the use cases need from the world — the stores (one trait per aggregate), the work queues and
//! their messages, the institutions that move money. (The event bus and the message sender are declared with their
//! domain types, in `domain::events` and `domain::notification`.)

pub mod jobs;
pub mod port_error;
pub mod providers;
pub mod queue;
pub mod store;
