//! Every default message, on every channel and step, exactly as a payer reads it (snapshots in
//! `tests/snapshots/`): a change to a default text shows up in review as a diff.

use cobranca::domain::notification::{Channel, MessageContext};
use cobranca::domain::ruler::Step;
use cobranca::domain::templates::{render, STEPS};

#[test]
fn default_messages_as_payers_read_them() {
    let ctx = MessageContext::sample();
    for channel in Channel::ALL {
        for step in STEPS {
            let step_value = Step::parse_key(step).unwrap_or(Step::BeforeDue { days: 5 });
            let (subject, body) = render(channel, step_value, &ctx, None).unwrap();
            insta::assert_snapshot!(format!("{}__{step}", channel.as_str()), format!("{subject}\n\n{body}"));
        }
    }
}
