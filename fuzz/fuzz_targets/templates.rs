//! Message rendering (`cobranca::domain::templates::render`, `notification::render_combined`) with arbitrary context
//! strings, and merchants' own templates (`templates::validate`, then `render`) from arbitrary sources.
//! The defaults render for any context; nothing panics; every message that renders names the merchant
//! (CDC art. 42-A: the footer is appended, so no template can leave it out).
//!
//! Input fields (NUL-separated): channel NUL step NUL first_name NUL merchant_name NUL document NUL description
//! NUL amount NUL payment_url NUL boleto_line NUL days NUL other charge's description NUL subject NUL body.
#![no_main]

use cobranca::domain::notification::{render_combined, Channel, ChargeLine, MessageContext};
use cobranca::domain::ruler::Step;
use cobranca::domain::templates::{render, validate, MessageTemplate, MAX_TEMPLATE_CHARS};
use cobranca_fuzz::{fields, int, text};
use libfuzzer_sys::fuzz_target;

fn names_the_merchant(channel: Channel, body: &str, ctx: &MessageContext) {
    let name = ctx.merchant_name.trim();
    assert!(body.contains(name), "{channel:?}: the merchant {name:?} is missing from {body:?}");
}

fuzz_target!(|data: &[u8]| {
    let [channel, step, first_name, merchant_name, document, description, amount, url, line, days, other, subject, body] = fields::<13>(data);
    let channel = Channel::ALL[usize::from(channel.first().copied().unwrap_or(0)) % Channel::ALL.len()];
    let days = int(days).unwrap_or(5);
    let n = u16::try_from(days.unsigned_abs() % 1000).unwrap_or(5);
    let steps = [
        Step::OnCreated,
        Step::OnChanged,
        Step::BeforeDue { days: n },
        Step::BeforeDueHours { hours: n },
        Step::OnDue,
        Step::AfterDue,
        Step::OnPaid,
        Step::OnExpired,
        Step::MarkOverdue,
        Step::Expire,
    ];
    let step = steps[usize::from(step.first().copied().unwrap_or(0)) % steps.len()];
    let sample = MessageContext::sample();
    let ctx = MessageContext {
        first_name: text(first_name),
        merchant_name: if merchant_name.is_empty() { sample.merchant_name.clone() } else { text(merchant_name) },
        merchant_document: text(document),
        description: text(description),
        amount: text(amount),
        payment_url: text(url),
        boleto_line: text(line),
        pix_copy_paste: text(line),
        days_to_due: days,
        days_after_due: days.checked_neg().unwrap_or(i64::MAX),
        ..sample
    };

    // The defaults: every step that sends a message renders, whatever the context holds.
    let sends = !matches!(step, Step::MarkOverdue | Step::Expire);
    match render(channel, step, &ctx, None) {
        Ok((subject, message)) => {
            assert!(sends, "{step:?} sends nothing");
            names_the_merchant(channel, &message, &ctx);
            let others = [ChargeLine {
                description: text(other),
                amount: ctx.amount.clone(),
                due_date: ctx.due_date.clone(),
                payment_url: ctx.payment_url.clone(),
            }];
            let (_, combined) = render_combined((subject, message), &ctx, &others).expect("the combined list renders");
            names_the_merchant(channel, &combined, &ctx);
        }
        Err(e) => assert!(!sends, "{channel:?} {step:?}: the default does not render: {e}"),
    }

    // A merchant's template: refused with a reason, or saved and then rendered for any charge.
    let template = MessageTemplate { subject: text(subject), body: text(body) };
    if template.subject.chars().count() > MAX_TEMPLATE_CHARS || template.body.chars().count() > MAX_TEMPLATE_CHARS {
        assert!(validate(channel, "on_due", &template).is_err(), "over the size limit");
        return;
    }
    let step_name = cobranca::domain::templates::step_name(step);
    if validate(channel, step_name, &template).is_ok() {
        if let Ok((_, message)) = render(channel, step, &ctx, Some(&template)) {
            names_the_merchant(channel, &message, &ctx);
        }
        let (_, message) = render(channel, step, &MessageContext::sample(), Some(&template)).expect("a validated template renders for the sample");
        names_the_merchant(channel, &message, &MessageContext::sample());
    }
});
