//! Message templates: Portuguese defaults for every step and channel, and a merchant's own per channel and
//! step, written in minijinja. Every message ends with the merchant's name and CPF/CNPJ (CDC art. 42-A) —
//! appended here, so no template can leave it out.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::channel::TemplateStyle;
use crate::domain::notification::{Channel, MessageContext, RenderError};
use crate::domain::ruler::Step;

/// A merchant's template for one channel and step: the subject (e-mail, and the outbox's title) and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTemplate {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    pub body: String,
}

/// The steps that send a message, by their API name.
pub const STEPS: [&str; 7] = ["on_created", "on_changed", "before_due", "on_due", "after_due", "on_paid", "on_expired"];

/// The variables a template may use (the fields of `MessageContext`).
pub fn variables() -> BTreeSet<String> {
    let sample = serde_json::to_value(MessageContext::sample()).expect("context serialises");
    sample.as_object().expect("context is an object").keys().cloned().collect()
}

/// Where a merchant's template is kept among its documents.
pub fn document_key(channel: Channel, step: &str) -> String {
    format!("template#{}#{step}", channel.as_str())
}

pub fn step_name(step: Step) -> &'static str {
    match step {
        Step::BeforeDueHours { .. } => "before_due",
        other => other.name(),
    }
}

/// The merchant's saved template for a channel and step, if any.
pub async fn merchant_template(
    store: &dyn crate::ports::store::DocumentStore,
    merchant: &crate::domain::ids::MerchantId,
    channel: Channel,
    step: Step,
) -> Result<Option<MessageTemplate>, crate::ports::store::StoreError> {
    match store.get_merchant_document(merchant, &document_key(channel, step_name(step))).await? {
        None => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| crate::ports::store::StoreError::Corrupt { key: document_key(channel, step_name(step)), message: e.to_string() }),
    }
}

/// The default template of a step on a channel ("subject\nbody"), None for steps that send nothing.
pub fn default_source(channel: Channel, step: &str) -> Option<&'static str> {
    macro_rules! by_step {
        ($dir:literal) => {
            match step {
                "on_created" => {
                    include_str!(concat!("../../templates/pt-BR/", $dir, "on_created.txt"))
                }
                "on_changed" => {
                    include_str!(concat!("../../templates/pt-BR/", $dir, "on_changed.txt"))
                }
                "before_due" => {
                    include_str!(concat!("../../templates/pt-BR/", $dir, "before_due.txt"))
                }
                "on_due" => include_str!(concat!("../../templates/pt-BR/", $dir, "on_due.txt")),
                "after_due" => include_str!(concat!("../../templates/pt-BR/", $dir, "after_due.txt")),
                "on_paid" => include_str!(concat!("../../templates/pt-BR/", $dir, "on_paid.txt")),
                "on_expired" => {
                    include_str!(concat!("../../templates/pt-BR/", $dir, "on_expired.txt"))
                }
                _ => return None,
            }
        };
    }
    // The channel's profile says in which style its defaults are written; WhatsApp sends the merchant's approved
    // templates, and its text is what the outbox and previews show.
    Some(match channel.profile().style {
        TemplateStyle::Sms => by_step!("sms/"),
        TemplateStyle::Voice => by_step!("voice/"),
        TemplateStyle::Text => by_step!(""),
    })
}

fn footer(channel: Channel) -> &'static str {
    match channel.profile().style {
        TemplateStyle::Sms => include_str!("../../templates/pt-BR/sms/_footer.txt"),
        TemplateStyle::Voice => include_str!("../../templates/pt-BR/voice/_footer.txt"),
        TemplateStyle::Text => include_str!("../../templates/pt-BR/_footer.txt"),
    }
}

/// The default of a step on a channel as a template.
pub fn default_template(channel: Channel, step: &str) -> Option<MessageTemplate> {
    let source = default_source(channel, step)?;
    let (subject, body) = source.split_once('\n').unwrap_or((source, ""));
    Some(MessageTemplate { subject: subject.trim().to_string(), body: body.trim().to_string() })
}

fn environment() -> minijinja::Environment<'static> {
    // Merchant templates are untrusted input to a renderer that runs in every send: bound their work (fuel) and
    // their memory. Fuel counts steps, not bytes, so nothing may grow a string faster than the template's own
    // length: no built-in filters, tests or functions (replace, join, indent, … multiply a string, and chained
    // they exhaust memory in a few hundred characters), only these; `validate` refuses the rest (`unsafe_tag`).
    let mut env = minijinja::Environment::empty();
    env.add_filter("upper", minijinja::filters::upper);
    env.add_filter("lower", minijinja::filters::lower);
    env.add_filter("title", minijinja::filters::title);
    env.add_filter("capitalize", minijinja::filters::capitalize);
    env.add_filter("trim", minijinja::filters::trim);
    env.add_filter("default", minijinja::filters::default);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(false);
    env.set_fuel(Some(50_000));
    env
}

/// The first tag of a merchant's template that could grow a string without bound: a statement other than
/// `if`/`elif`/`else`/`endif` (`set` and `with` can double a value at each step), or a `*` (string and list
/// repetition). Tags are read as minijinja's lexer reads them: string literals skipped, brackets balanced,
/// comments ignored.
fn unsafe_tag(source: &str) -> Option<String> {
    let b = source.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        let open = &b[i..i + 2];
        if open == b"{#" {
            i = source[i + 2..].find("#}").map_or(b.len(), |end| i + 2 + end + 2);
            continue;
        }
        if open != b"{{" && open != b"{%" {
            i += 1;
            continue;
        }
        let close: &[u8] = if open == b"{%" { b"%}" } else { b"}}" };
        let start = i;
        i += 2;
        let (mut code, mut quote, mut depth) = (String::new(), None, 0usize);
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(_) if c == b'\\' => i += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None if depth == 0 && b[i..].starts_with(close) => break,
                None => {
                    match c {
                        b'(' | b'[' | b'{' => depth += 1,
                        b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    code.push(char::from(c));
                }
            }
            i += 1;
        }
        i += 2;
        let tag = || source[start..i.min(source.len())].chars().take(40).collect::<String>();
        if code.contains('*') {
            return Some(tag());
        }
        let keyword: String =
            code.trim_start_matches(['-', '+']).trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if open == b"{%" && !["if", "elif", "else", "endif"].contains(&keyword.as_str()) {
            return Some(tag());
        }
    }
    None
}

/// Renders a message: the merchant's template if given, else the channel's default; then the footer.
pub fn render(channel: Channel, step: Step, ctx: &MessageContext, custom: Option<&MessageTemplate>) -> Result<(String, String), RenderError> {
    let name = step_name(step);
    let template = match custom {
        Some(t) => t.clone(),
        None => default_template(channel, name).ok_or_else(|| RenderError::NoTemplate(step.key()))?,
    };
    let env = environment();
    let subject = env.render_str(&template.subject, ctx).map_err(|e| RenderError::Template(e.to_string()))?;
    let body = env.render_str(&template.body, ctx).map_err(|e| RenderError::Template(e.to_string()))?;
    let identity = env.render_str(footer(channel), ctx).map_err(|e| RenderError::Template(e.to_string()))?;
    let body = body.trim();
    let body = match channel.profile().style {
        TemplateStyle::Sms | TemplateStyle::Voice => format!("{body} {}", identity.trim()),
        // The text footer starts with its own "\n--" separator line.
        _ => format!("{body}\n{}", identity.trim_end()),
    };
    Ok((subject.trim().to_string(), body))
}

/// Why a merchant's template was refused (→ 422 with the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub field: &'static str,
    pub message: String,
}

/// The largest template a merchant may save.
pub const MAX_TEMPLATE_CHARS: usize = 4_000;

/// Checks a merchant's template: it parses, uses only known variables, renders for a sample charge, and fits
/// its channel (an SMS body of at most 3 segments).
pub fn validate(channel: Channel, step: &str, template: &MessageTemplate) -> Result<(), TemplateError> {
    if !STEPS.contains(&step) {
        return Err(TemplateError { field: "step", message: format!("etapa desconhecida / unknown step: {step}") });
    }
    let known = variables();
    for (field, source) in [("subject", &template.subject), ("body", &template.body)] {
        if source.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(TemplateError { field, message: format!("até {MAX_TEMPLATE_CHARS} caracteres / at most {MAX_TEMPLATE_CHARS} characters") });
        }
        if let Some(tag) = unsafe_tag(source) {
            return Err(TemplateError {
                field,
                message: format!("use apenas {{{{ variáveis }}}}, filtros upper, lower, title, capitalize, trim, default e {{% if %}} / use only {{{{ variables }}}}, the filters upper, lower, title, capitalize, trim, default and {{% if %}}: {tag}"),
            });
        }
        let mut env = environment();
        env.add_template("t", source).map_err(|e| TemplateError { field, message: format!("modelo inválido / invalid template: {e}") })?;
        let used = env.get_template("t").expect("just added").undeclared_variables(false);
        let mut unknown: Vec<&String> = used.iter().filter(|v| !known.contains(*v)).collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            return Err(TemplateError { field, message: format!("variável desconhecida / unknown variable: {first}") });
        }
    }
    if template.body.trim().is_empty() {
        return Err(TemplateError { field: "body", message: "obrigatório / required".into() });
    }
    let step_value = Step::parse_key(step).unwrap_or(Step::OnDue);
    let (_, body) = render(channel, step_value, &MessageContext::sample(), Some(template))
        .map_err(|e| TemplateError { field: "body", message: e.to_string() })?;
    if channel.profile().style == TemplateStyle::Sms {
        // Counted as Brazilian carriers bill (accents make a message UCS-2): what the merchant will pay.
        let fit = crate::domain::sms_text::analyze_in(&body, crate::domain::sms_text::Alphabet::Portable);
        if fit.segments > MAX_SMS_SEGMENTS {
            return Err(TemplateError {
                field: "body",
                message: format!(
                    "SMS de {} partes (máximo {MAX_SMS_SEGMENTS}) / SMS of {} segments (at most {MAX_SMS_SEGMENTS})",
                    fit.segments, fit.segments
                ),
            });
        }
    }
    Ok(())
}

/// Longest SMS a template may produce for the sample charge.
pub const MAX_SMS_SEGMENTS: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_a_default_on_every_channel_and_names_the_merchant() {
        let ctx = MessageContext::sample();
        for channel in Channel::ALL {
            for step in STEPS {
                let (subject, body) = render(channel, Step::parse_key(step).unwrap_or(Step::BeforeDue { days: 3 }), &ctx, None).unwrap();
                assert!(!subject.is_empty() && !body.is_empty(), "{channel:?} {step}");
                assert!(body.contains(&ctx.merchant_name) && body.contains(&ctx.merchant_document), "{channel:?} {step}: {body}");
            }
        }
    }

    #[test]
    fn an_unknown_variable_is_refused_with_its_name() {
        let t = MessageTemplate { subject: String::new(), body: "Olá {{ first_name }}, pague {{ valor }}".into() };
        let err = validate(Channel::Email, "on_due", &t).unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.message.contains("valor"), "{}", err.message);
        let broken = MessageTemplate { subject: "{{ oops".into(), body: "x".into() };
        assert_eq!(validate(Channel::Email, "on_due", &broken).unwrap_err().field, "subject");
        let ok = MessageTemplate { subject: "Vence hoje".into(), body: "{{ first_name }}, {{ amount }} vence hoje: {{ payment_url }}".into() };
        validate(Channel::Sms, "on_due", &ok).unwrap();
    }

    #[test]
    fn templates_that_could_exhaust_memory_are_refused() {
        // Caught with fuzz/templates (seed template-doubling): 40 × `{% set x = x ~ x %}` passed validation
        // within the fuel and allocated terabytes; a chain of `|replace("a", "aa")` or `"a" * 100000000` too.
        let doubling = format!("{{% set x = \"aaaaaaaaaaaaaaaa\" %}}{}{{{{ x }}}}", "{% set x = x ~ x %}".repeat(40));
        for body in [
            doubling.as_str(),
            "{{ first_name|replace(\"a\", \"aa\")|replace(\"a\", \"aa\") }}",
            "{{ \"a\" * 100000000 }}",
            "{{ {\"k\": {\"k\": \"ab\"}}[\"k\"][\"k\"] * 9 }}",
            "{# {{ #}{% set x = 1 %}{# }} #}",
            "{% for c in first_name %}{{ first_name }}{% endfor %}",
            "{%- with x = first_name ~ first_name %}{{ x }}{% endwith %}",
        ] {
            let t = MessageTemplate { subject: String::new(), body: body.into() };
            let err = validate(Channel::Email, "on_due", &t).expect_err(body);
            assert_eq!(err.field, "body", "{body}");
        }
        let fine = MessageTemplate {
            subject: "{{ description|upper }}".into(),
            body: "{%- if days_to_due > 1 %}{{ first_name|title }}, faltam {{ days_to_due }} dias{% else %}Hoje{% endif %}: \"*\" {{ \"*\" }} {{ payment_url|default(\"\") }}".into(),
        };
        validate(Channel::Email, "on_due", &fine).unwrap();
    }

    #[test]
    fn a_merchant_template_cannot_drop_the_senders_identity() {
        let ctx = MessageContext::sample();
        let t = MessageTemplate { subject: "Oi".into(), body: "Pague {{ amount }}".into() };
        let (_, body) = render(Channel::Email, Step::OnDue, &ctx, Some(&t)).unwrap();
        assert!(body.starts_with("Pague R$ 1.234,56"));
        assert!(body.contains("Loja Exemplo Ltda · CNPJ 11.222.333/0001-81"), "{body}");
    }

    #[test]
    fn an_sms_template_too_long_is_refused_with_its_segment_count() {
        let t = MessageTemplate { subject: String::new(), body: "{{ first_name }}, ".repeat(60) };
        let err = validate(Channel::Sms, "on_due", &t).unwrap_err();
        assert!(err.message.contains("SMS de") && err.message.contains("partes"), "{}", err.message);
        // Every default SMS fits in the limit.
        for step in STEPS {
            validate(Channel::Sms, step, &default_template(Channel::Sms, step).unwrap()).unwrap();
        }
    }

    #[test]
    fn a_runaway_template_is_stopped() {
        let t =
            MessageTemplate { subject: String::new(), body: "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}".into() };
        assert!(validate(Channel::Email, "on_due", &t).is_err());
    }
}
