//! A small YAML writer for the manifests: block style, two spaces, keys in
//! the order of the map (sorted: `apiVersion`, `kind`, `metadata`, `spec`),
//! strings plain when YAML cannot read them as anything else and
//! double-quoted (JSON escapes, which YAML shares) otherwise.

use serde_json::Value;

/// `value` as a YAML document (no `---`).
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    block(&mut out, value, 0);
    out
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(string(s)),
        Value::Array(a) if a.is_empty() => Some("[]".to_string()),
        Value::Object(o) if o.is_empty() => Some("{}".to_string()),
        _ => None,
    }
}

/// Plain when it is a word YAML reads as a string; quoted otherwise.
fn string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Writes a map's or list's lines at `indent`.
fn block(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                pad(out, indent);
                out.push_str(&string(key));
                out.push(':');
                if let Some(s) = scalar(v) {
                    out.push(' ');
                    out.push_str(&s);
                    out.push('\n');
                } else {
                    out.push('\n');
                    // Lists sit at their key's indent, as kubectl writes them.
                    let inner = if v.is_array() { indent } else { indent + 2 };
                    block(out, v, inner);
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                pad(out, indent);
                out.push_str("- ");
                if let Some(s) = scalar(item) {
                    out.push_str(&s);
                    out.push('\n');
                } else {
                    // The item's first line follows the dash; the rest align with it.
                    let mut inner = String::new();
                    block(&mut inner, item, indent + 2);
                    out.push_str(inner.trim_start());
                }
            }
        }
        other => {
            pad(out, indent);
            out.push_str(&scalar(other).unwrap_or_default());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_lists_and_scalars_are_written_as_kubectl_would() {
        let v = json!({
            "kind": "Deployment",
            "spec": {"replicas": 2, "containers": [{"name": "api", "args": ["-m", "http.server", "8000"]}], "empty": {}},
            "on": "yes",
            "text": "a: b",
        });
        assert_eq!(
            to_yaml(&v),
            "kind: Deployment\n\"on\": \"yes\"\nspec:\n  containers:\n  - args:\n    - \"-m\"\n    - http.server\n    - \"8000\"\n    name: api\n  empty: {}\n  replicas: 2\ntext: \"a: b\"\n"
        );
    }
}
