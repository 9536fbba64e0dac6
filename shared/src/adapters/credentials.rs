//! A connector's credentials as the wiring hands them over, and the variables connectors read for themselves:
//! below both the connectors and `config`, so neither imports the other for them.

use serde_json::Value;

/// A connector's credentials as read (a JSON object), with the variable they belong to, which errors name.
pub struct Credentials<'a> {
    pub variable: &'a str,
    pub value: &'a Value,
}

impl Credentials<'_> {
    pub fn required(&self, key: &str) -> Result<String, String> {
        self.value[key].as_str().filter(|v| !v.is_empty()).map(str::to_string).ok_or_else(|| format!("{} lacks {key}", self.variable))
    }

    pub fn or(&self, key: &str, default: &str) -> String {
        self.value[key].as_str().unwrap_or(default).to_string()
    }

    pub fn optional(&self, key: &str) -> Option<String> {
        self.value[key].as_str().map(str::to_string)
    }

    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.value[key].as_bool().unwrap_or(default)
    }
}

/// An environment variable's value, if set and not empty.
pub fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
