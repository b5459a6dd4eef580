//! Secrets in oslo contexts and arguments (auth tokens, passwords, service
//! catalogs) are replaced before anything is shown, unless the user asked
//! for them with `--show-secrets`.

use serde_json::Value;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Redaction {
    On,
    Off,
}

/// Shown instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// Nesting beyond this is cut, so a hostile document cannot exhaust the
/// stack of anything that walks it later.
const MAX_DEPTH: usize = 32;

/// Whether a key names a secret (case-insensitive, by substring, because
/// services spell them many ways: auth_token, X-Auth-Token, admin_password,
/// adminPass, os_password, secret_key, service_catalog ...).
pub fn is_secret_key(key: &str) -> bool {
    const SECRETS: [&[u8]; 8] = [
        b"token",
        b"password",
        b"passwd",
        b"adminpass",
        b"secret",
        b"service_catalog",
        b"credential",
        b"private_key",
    ];
    // Case-insensitive substring search without allocating: this runs for
    // every key of every context and argument.
    let key = key.as_bytes();
    SECRETS
        .iter()
        .any(|s| key.windows(s.len()).any(|w| w.eq_ignore_ascii_case(s)))
}

pub fn redact(value: Value, redaction: Redaction) -> Value {
    walk(value, redaction, 0)
}

fn walk(value: Value, redaction: Redaction, depth: usize) -> Value {
    if depth >= MAX_DEPTH {
        return Value::String("<nested too deep>".into());
    }
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if redaction == Redaction::On && is_secret_key(&k) && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        walk(v, redaction, depth + 1)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| walk(v, redaction, depth + 1))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_go_and_the_rest_stays() {
        let v = json!({"auth_token": "t", "args": {"admin_password": "p", "name": "vm1", "list": [{"X-Auth-Token": "x"}]}, "service_catalog": [{"endpoints": []}]});
        let r = redact(v.clone(), Redaction::On);
        assert_eq!(r["auth_token"], REDACTED);
        assert_eq!(r["args"]["admin_password"], REDACTED);
        assert_eq!(r["args"]["list"][0]["X-Auth-Token"], REDACTED);
        assert_eq!(r["args"]["name"], "vm1");
        assert_eq!(r["service_catalog"], REDACTED);
        assert_eq!(redact(v.clone(), Redaction::Off), v);
    }

    #[test]
    fn deep_nesting_is_cut() {
        let mut v = json!(1);
        for _ in 0..100 {
            v = json!([v]);
        }
        let r = redact(v, Redaction::On).to_string();
        assert!(r.contains("nested too deep"));
    }
}
