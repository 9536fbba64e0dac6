//! DynamoDB's hard limits, in one place: the DynamoDB adapter maps DynamoDB's refusals to them and the in-memory
//! store enforces them itself, so both refuse the same writes with `StoreError::LimitExceeded`.
//! (Measured against DynamoDB Local 3.3: a 2048-byte partition key, a 1024-byte sort key, an item of exactly
//! 409 600 bytes and a 100-action transaction are accepted; one byte or one action more is refused.)

pub use crate::ports::store::Limit;
use crate::ports::store::{StoreError, StoreResult};

/// Actions in one TransactWriteItems / TransactGetItems call.
pub const MAX_TRANSACTION_ACTIONS: usize = 100;
/// Requests in one BatchWriteItem call.
pub const MAX_BATCH_WRITE_ITEMS: usize = 25;
/// Keys in one BatchGetItem call.
pub const MAX_BATCH_GET_KEYS: usize = 100;
/// An item's size: the UTF-8 bytes of every attribute name and value.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
pub const MAX_SORT_KEY_BYTES: usize = 1024;

/// The size DynamoDB gives an item made of these (attribute name, value bytes) pairs.
pub fn item_size<'a>(attributes: impl IntoIterator<Item = (&'a str, usize)>) -> usize {
    attributes.into_iter().map(|(name, value)| name.len() + value).sum()
}

/// The byte length DynamoDB gives a number: about one byte per two significant digits, plus one.
pub fn number_size(n: &str) -> usize {
    let digits = n.trim_start_matches('-').replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

pub fn check_keys(pk: &str, sk: &str) -> StoreResult<()> {
    if pk.len() > MAX_PARTITION_KEY_BYTES || sk.len() > MAX_SORT_KEY_BYTES {
        return Err(StoreError::LimitExceeded(Limit::KeySize));
    }
    Ok(())
}

pub fn check_item_size(bytes: usize) -> StoreResult<()> {
    if bytes > MAX_ITEM_BYTES {
        return Err(StoreError::LimitExceeded(Limit::ItemSize));
    }
    Ok(())
}

pub fn check_transaction(actions: usize) -> StoreResult<()> {
    if actions > MAX_TRANSACTION_ACTIONS {
        return Err(StoreError::LimitExceeded(Limit::TransactionActions));
    }
    Ok(())
}

/// Which limit a DynamoDB error message reports, if any (ValidationException texts, also inside a cancelled
/// transaction's reasons).
pub fn from_dynamodb_message(message: &str) -> Option<Limit> {
    if message.contains("Item size has exceeded") || message.contains("Item size to update has exceeded") {
        Some(Limit::ItemSize)
    } else if message.contains("primary key values must be under")
        || message.contains("Size of hashkey has exceeded")
        || message.contains("size of all range keys has exceeded")
    {
        Some(Limit::KeySize)
    } else if message.contains("transactItems") && message.contains("length less than or equal to 100")
        || message.contains("Member must have length less than or equal to 100")
    {
        Some(Limit::TransactionActions)
    } else if message.contains("Too many items requested for the BatchWriteItem call")
        || message.contains("Too many items requested for the BatchGetItem call")
    {
        Some(Limit::BatchSize)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_messages_map_to_their_limit() {
        let tx = "ValidationException: 1 validation error detected: Value '[...]' at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100";
        assert_eq!(from_dynamodb_message(tx), Some(Limit::TransactionActions));
        assert_eq!(from_dynamodb_message("ValidationException: Item size has exceeded the maximum allowed size"), Some(Limit::ItemSize));
        assert_eq!(
            from_dynamodb_message("Hash primary key values must be under 2048 bytes, and range primary key values must be under 1024 bytes"),
            Some(Limit::KeySize)
        );
        assert_eq!(from_dynamodb_message("ResourceNotFoundException: table"), None);
    }

    #[test]
    fn sizes_are_names_plus_values() {
        assert_eq!(item_size([("PK", 1), ("SK", 1), ("data", 409_590)]), MAX_ITEM_BYTES);
        assert!(check_item_size(MAX_ITEM_BYTES).is_ok());
        assert!(check_item_size(MAX_ITEM_BYTES + 1).is_err());
        assert!(check_keys(&"x".repeat(2048), &"y".repeat(1024)).is_ok());
        assert!(check_keys(&"x".repeat(2049), "y").is_err());
        assert!(check_keys("x", &"y".repeat(1025)).is_err());
        assert!(check_transaction(100).is_ok());
        assert!(check_transaction(101).is_err());
        assert_eq!(number_size("1"), 2);
        assert_eq!(number_size("12345"), 4);
    }
}
