//! The failure of a use case whose only failures are its ports': the store, a queue or the event bus. One type
//! for the tick, settlement and webhook deliveries alike (each keeps its name as an alias), so a caller running one
//! inside another passes the error on as it is.

use crate::domain::events::PublishError;
use crate::ports::queue::EnqueueError;
use crate::ports::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] EnqueueError),
    #[error(transparent)]
    Events(#[from] PublishError),
}
