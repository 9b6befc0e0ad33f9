//! Every string that came out of Vault, so that no output shows it: a task whose rendered
//! arguments, loop item or result hold one is censored as a `no_log` task is, and the
//! commands that carry one are censored in `-vv` traces and the audit log.
//!
//! Matching is by substring, so a secret pasted into a longer string (`"user:{{ pw }}@db"`)
//! is found too. Strings shorter than `MIN_LEN` are not hunted: a vaulted `"no"` or `"80"`
//! would censor every task that mentions it, and three characters are no secret.

use serde_json::Value;
use std::borrow::Cow;
use std::sync::RwLock;

/// The shortest vaulted string that is hunted in output.
pub const MIN_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remember `secret`: from now on no output shows it.
pub fn register_secret(secret: &str) {
    if secret.chars().count() < MIN_LEN {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_owned());
        // Longest first, so that masking a secret never leaves the tail of a longer one.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
    // A multi-line secret (a key file) is also found line by line, as outputs split it.
    if secret.contains('\n') {
        drop(all);
        for line in secret.lines() {
            register_secret(line.trim());
        }
    }
}

/// Remember every string leaf of `value` (a vaulted vars file's variables).
pub fn register_secrets_in(value: &Value) {
    match value {
        Value::String(s) => register_secret(s),
        Value::Array(items) => items.iter().for_each(register_secrets_in),
        Value::Object(map) => map.values().for_each(register_secrets_in),
        _ => {}
    }
}

static NAMES: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remember that the variable `name` holds a value from Vault: a task that reads it is
/// censored whatever the value's length.
pub fn register_secret_name(name: &str) {
    let mut all = NAMES.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|n| n == name) {
        all.push(name.to_owned());
    }
}

/// Whether any of `names` holds a value from Vault.
pub fn any_secret_name<'a>(mut names: impl Iterator<Item = &'a String>) -> bool {
    let all = NAMES.read().unwrap_or_else(|e| e.into_inner());
    !all.is_empty() && names.any(|n| all.contains(n))
}

/// Whether any variable was registered as holding a value from Vault.
pub fn has_secret_names() -> bool {
    !NAMES.read().unwrap_or_else(|e| e.into_inner()).is_empty()
}

/// Whether `text` holds a registered secret.
pub fn reveals_str(text: &str) -> bool {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    !all.is_empty() && all.iter().any(|s| text.contains(s.as_str()))
}

/// Whether any string in `value` (keys included) holds a registered secret.
pub fn reveals(value: &Value) -> bool {
    if SECRETS.read().unwrap_or_else(|e| e.into_inner()).is_empty() {
        return false;
    }
    match value {
        Value::String(s) => reveals_str(s),
        Value::Array(items) => items.iter().any(reveals),
        Value::Object(map) => map.iter().any(|(k, v)| reveals_str(k) || reveals(v)),
        _ => false,
    }
}

/// `text` with every registered secret replaced by `<censored>`.
pub fn mask(text: &str) -> Cow<'_, str> {
    if !reveals_str(text) {
        return Cow::Borrowed(text);
    }
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_owned();
    for s in all.iter() {
        out = out.replace(s.as_str(), crate::audit::CENSORED);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The registry is process-wide: each test uses secrets of its own.
    #[test]
    fn a_registered_secret_is_found_inside_longer_text_and_masked() {
        register_secret("s3cr3t-alpha");
        assert!(reveals_str("postgres://app:s3cr3t-alpha@db"));
        assert_eq!(mask("pw=s3cr3t-alpha;"), "pw=<censored>;");
        assert!(reveals(&json!({"cmd": ["echo", "x s3cr3t-alpha"]})));
        assert!(!reveals(&json!({"cmd": "echo hello"})));
    }

    #[test]
    fn every_string_leaf_of_a_vaulted_file_is_a_secret() {
        register_secrets_in(&json!({"a": "leaf-one-77", "b": [{"c": "leaf-two-88"}], "n": 5}));
        assert!(reveals_str("leaf-one-77") && reveals_str("leaf-two-88"));
    }

    #[test]
    fn variable_names_are_remembered() {
        register_secret_name("vault_pin_for_test");
        assert!(has_secret_names());
        assert!(any_secret_name(
            ["x".to_owned(), "vault_pin_for_test".to_owned()].iter()
        ));
        assert!(!any_secret_name(["x".to_owned()].iter()));
    }

    #[test]
    fn short_strings_are_not_hunted() {
        register_secret("no");
        assert!(!reveals_str("nothing to see"));
    }

    #[test]
    fn lines_of_a_multi_line_secret_are_found_alone() {
        register_secret("-----BEGIN KEY-----\nAAAAsecretline\n-----END KEY-----\n");
        assert!(reveals_str("stdout: AAAAsecretline"));
    }
}
