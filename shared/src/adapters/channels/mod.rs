//! The channels' connectors, one folder each (`<name>/`: the sender, its status callbacks and `connector.rs`,
//! what it declares about itself), listed once with the channels (`channel::for_each_channel!`) and found through
//! `registry`. And the router that picks each message's adapter by its channel: the deployment's providers,
//! turned on one channel at a time by their credentials. A channel without one is not served (`serves` is false): a live merchant's message on it
//! is not sent (`delivery::CHANNEL_NOT_CONFIGURED`); test merchants' messages go to the outbox, not here.

pub mod letter;
pub mod outbox;
#[cfg(feature = "aws")]
pub mod registry;
#[cfg(feature = "aws")]
pub mod ses;
pub mod sms;
pub mod voice;
pub mod whatsapp;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};

pub struct ChannelRouter {
    pub adapters: HashMap<Channel, Arc<dyn NotificationSender>>,
}

#[async_trait]
impl NotificationSender for ChannelRouter {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        match self.adapters.get(&m.channel) {
            Some(adapter) => adapter.send(m).await,
            None => Err(SendError::Permanent(crate::service::delivery::CHANNEL_NOT_CONFIGURED.into())),
        }
    }

    fn serves(&self, channel: Channel) -> bool {
        self.adapters.contains_key(&channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChargeId, MerchantId};
    use std::sync::Mutex;

    struct Recorder(&'static str, Mutex<Vec<Channel>>);

    #[async_trait]
    impl NotificationSender for Recorder {
        async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
            self.1.lock().unwrap().push(m.channel);
            Ok(SendReceipt::new(self.0))
        }
    }

    #[tokio::test]
    async fn a_configured_channel_goes_to_its_provider_and_no_other_is_served() {
        let whatsapp = Arc::new(Recorder("wamid.1", Mutex::default()));
        let router = ChannelRouter { adapters: HashMap::from([(Channel::Whatsapp, whatsapp.clone() as Arc<dyn NotificationSender>)]) };
        let message = |channel| OutgoingMessage {
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            reminder_id: "r".into(),
            step: "before_due".into(),
            channel,
            recipient: "x".into(),
            subject: String::new(),
            text: String::new(),
            template_params: vec![],
            payer_name: "Maria Silva".into(),
            postal_address: None,
            boleto: None,
        };
        assert_eq!(router.send(&message(Channel::Whatsapp)).await.unwrap().provider_message_id, "wamid.1");
        assert!(router.serves(Channel::Whatsapp) && !router.serves(Channel::Email));
        assert!(matches!(router.send(&message(Channel::Email)).await, Err(SendError::Permanent(_))));
        assert_eq!(*whatsapp.1.lock().unwrap(), vec![Channel::Whatsapp]);
    }
}
