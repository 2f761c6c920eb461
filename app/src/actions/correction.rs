//! A reviewer's edit: still a JSON object of bounded size that JSON can
//! carry exactly, and stored as what changed, param by param.

use super::submission::MAX_PARAMS_BYTES;
use crate::error::AppError;
use serde_json::{Map, Value};

/// Edited params must still be a JSON object of bounded size.
pub fn check_params(v: Value) -> Result<Value, AppError> {
    if !v.is_object() {
        return Err(AppError::validation(
            "the edited params must be a JSON object",
        ));
    }
    if v.to_string().len() > MAX_PARAMS_BYTES {
        return Err(AppError::PayloadTooLarge(format!(
            "the edited params are larger than {MAX_PARAMS_BYTES} bytes"
        )));
    }
    crate::canonical::check_exact(&v, "the edited params")?;
    Ok(v)
}

/// What changed, per top-level param: `{"amount": {"before": 900, "after": 500}}`
/// (a param added has `before: null`, one removed `after: null`).
pub fn correction_of(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let (b, a) = (
        before.as_object().unwrap_or(&empty),
        after.as_object().unwrap_or(&empty),
    );
    let mut out = Map::new();
    for key in b.keys().chain(a.keys()) {
        let (old, new) = (b.get(key), a.get(key));
        if old != new && !out.contains_key(key) {
            out.insert(
                key.clone(),
                serde_json::json!({ "before": old, "after": new }),
            );
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_correction_names_each_changed_param() {
        let c = correction_of(
            &json!({"amount": 900, "to": "a@b.c", "cc": "x"}),
            &json!({"amount": 500, "to": "a@b.c", "note": "capped"}),
        );
        assert_eq!(
            c,
            json!({
                "amount": {"before": 900, "after": 500},
                "cc": {"before": "x", "after": null},
                "note": {"before": null, "after": "capped"},
            })
        );
        assert_eq!(correction_of(&json!({"a": 1}), &json!({"a": 1})), json!({}));
    }

    #[test]
    fn edited_params_must_be_an_object() {
        assert!(check_params(json!([1])).is_err());
        assert!(check_params(json!({"a": 1})).is_ok());
    }
}
