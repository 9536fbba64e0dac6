//! The sample events in tests/events/ stay in the shapes the functions accept.

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use cobranca::domain::notification::NotificationJob;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../tests/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn http_samples_are_api_gateway_v2_requests() {
    for name in ["create-charge.json", "payment-webhook.json"] {
        let req: ApiGatewayV2httpRequest = serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(req.body.is_some(), "{name}");
    }
}

#[test]
fn tick_sample_is_a_scheduled_event_with_a_time() {
    let e: EventBridgeEvent<serde_json::Value> = serde_json::from_str(&read("ruler-tick.json")).unwrap();
    assert_eq!(e.detail_type, "Scheduled Event");
    assert!(e.time.is_some());
}

#[test]
fn notification_sample_carries_a_notification_job() {
    let e: SqsEvent = serde_json::from_str(&read("send-notification.json")).unwrap();
    let job: NotificationJob = serde_json::from_str(e.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(job.reminder_id, "before_due_5d.0.email");
}
