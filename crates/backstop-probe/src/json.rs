//! Conditions on a JSON body: dotted paths, equality and comparisons.

use backstop_config::{JsonCondition, JsonExpect};
use serde_json::Value;

/// Finds `a.b.0.c` in `root`; numeric segments index arrays.
fn lookup<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    // A key that itself contains dots ("database.connected" at top level) wins.
    if let Some(v) = root.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(root, |v, seg| match v {
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => v.get(seg),
    })
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn show_expect(e: &JsonExpect) -> String {
    match e {
        JsonExpect::String(s) => format!("\"{s}\""),
        JsonExpect::Bool(b) => b.to_string(),
        JsonExpect::Number(n) => n.to_string(),
        JsonExpect::Compare(op, n) => format!("{} {n}", op.as_str()),
    }
}

/// Checks one condition; the error says what was found.
pub(crate) fn check(root: &Value, condition: &JsonCondition) -> Result<(), String> {
    let path = &condition.path;
    let Some(found) = lookup(root, path) else {
        return Err(format!("`{path}` is missing from the JSON body"));
    };
    let ok = match (&condition.expect, found) {
        (JsonExpect::String(s), Value::String(v)) => s == v,
        (JsonExpect::Bool(b), Value::Bool(v)) => b == v,
        (JsonExpect::Number(n), Value::Number(v)) => {
            v.as_f64().is_some_and(|v| (v - n).abs() < f64::EPSILON)
        }
        (JsonExpect::Compare(op, n), Value::Number(v)) => {
            v.as_f64().is_some_and(|v| op.holds(v, *n))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{path}` is {} (expected {})",
            show(found),
            show_expect(&condition.expect)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstop_config::CompareOp;
    use serde_json::json;

    fn cond(path: &str, expect: JsonExpect) -> JsonCondition {
        JsonCondition {
            path: path.into(),
            expect,
        }
    }

    #[test]
    fn conditions_on_real_health_bodies() {
        let body = json!({
            "status": "healthy",
            "database": {"connected": true, "pool": [{"size": 5}]},
            "application": {"data_freshness_minutes": 42},
            "process": {"memory_mb": 512.5},
        });
        assert_eq!(
            check(&body, &cond("status", JsonExpect::String("healthy".into()))),
            Ok(())
        );
        assert_eq!(
            check(&body, &cond("database.connected", JsonExpect::Bool(true))),
            Ok(())
        );
        assert_eq!(
            check(
                &body,
                &cond("database.pool.0.size", JsonExpect::Number(5.0))
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &body,
                &cond(
                    "application.data_freshness_minutes",
                    JsonExpect::Compare(CompareOp::Lt, 60.0)
                )
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &body,
                &cond(
                    "process.memory_mb",
                    JsonExpect::Compare(CompareOp::Le, 480.0)
                )
            ),
            Err("`process.memory_mb` is 512.5 (expected <= 480)".into())
        );
        assert_eq!(
            check(&body, &cond("database.connected", JsonExpect::Bool(false))),
            Err("`database.connected` is true (expected false)".into())
        );
        assert_eq!(
            check(&body, &cond("cache.connected", JsonExpect::Bool(true))),
            Err("`cache.connected` is missing from the JSON body".into())
        );
        assert_eq!(
            check(
                &body,
                &cond("status", JsonExpect::Compare(CompareOp::Gt, 1.0))
            ),
            Err("`status` is \"healthy\" (expected > 1)".into())
        );
    }

    #[test]
    fn dotted_top_level_keys() {
        let body = json!({"database.connected": false});
        assert_eq!(
            check(&body, &cond("database.connected", JsonExpect::Bool(true))),
            Err("`database.connected` is false (expected true)".into())
        );
    }
}
