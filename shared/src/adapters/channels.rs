//! Picks each message's adapter by its channel. A channel with no provider configured goes to the development
//! outbox, so `make dev` works with no credentials and a deployment turns channels on one at a time.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};

pub struct ChannelRouter {
    pub adapters: HashMap<Channel, Arc<dyn NotificationSender>>,
    pub outbox: Arc<dyn NotificationSender>,
}

#[async_trait]
impl NotificationSender for ChannelRouter {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        self.adapters.get(&m.channel).unwrap_or(&self.outbox).send(m).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ChargeId, MerchantId};
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
    async fn a_configured_channel_goes_to_its_provider_and_the_rest_to_the_outbox() {
        let whatsapp = Arc::new(Recorder("wamid.1", Mutex::default()));
        let outbox = Arc::new(Recorder("outbox", Mutex::default()));
        let router = ChannelRouter { adapters: HashMap::from([(Channel::Whatsapp, whatsapp.clone() as Arc<dyn NotificationSender>)]), outbox: outbox.clone() };
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
        assert_eq!(router.send(&message(Channel::Email)).await.unwrap().provider_message_id, "outbox");
        assert_eq!(*whatsapp.1.lock().unwrap(), vec![Channel::Whatsapp]);
        assert_eq!(*outbox.1.lock().unwrap(), vec![Channel::Email]);
    }
}
