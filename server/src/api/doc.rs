//! What the API's OpenAPI document says beyond its operations: the
//! title and description, the server prefix, the bearer security schemes,
//! the tags, and the shared components. The operations come from the
//! handlers' `#[utoipa::path]` annotations as the router registers them.
//!
//! utoipa's typed model is OpenAPI 3.0-shaped: a few JSON Schema 2020-12
//! keywords that the 3.1 document uses (`if`/`then`, `oneOf` beside
//! `properties`, `const`, a header's `required`) cannot be put in it. They
//! live in `openapi_rules.json` and are laid over the generated document;
//! the overlay may only add, never replace (see `overlay`).

use super::answers::{ProblemAnswer, TooManyRequestsAnswer, UnauthorizedAnswer};
use app::error::Problem;
use app::openapi::JsonValue;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Belay API",
        version = "1",
        description = "Agents ask Belay before they act: every agent call needs `Authorization: Bearer <key>` with the agent's API key. Reviewers and leads use the `/review` operations with a personal access token (`Authorization: Bearer belay_pat_…`, made on their account page), acting as themselves with their current role. Errors are RFC 9457 problem details (application/problem+json)."
    ),
    servers((url = "/api/v1")),
    security(("agentKey" = [])),
    tags(
        (name = "agent", description = "The calling agent: who it is and what it may do"),
        (name = "actions", description = "Asking before acting: submit, wait, claim, carry out, report"),
        (name = "runs", description = "One task of an agent, followed as one timeline: what it reported, and escalations for a person to answer"),
        (name = "contract", description = "This document"),
        (name = "review", description = "People: the approval queue, a request and its evidence, approving and rejecting (personal access token)"),
        (name = "oversight", description = "People: agents and their record, promotion reviews (personal access token)")
    ),
    components(
        schemas(Problem, JsonValue),
        responses(ProblemAnswer, UnauthorizedAnswer, TooManyRequestsAnswer)
    ),
    modifiers(&AgentKey, &PersonalToken)
)]
pub struct ApiDoc;

/// The `agentKey` scheme every operation but the document itself requires.
struct AgentKey;

impl Modify for AgentKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An agent API key (belay_\u{2026}), shown once when issued.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("agentKey", SecurityScheme::Http(scheme));
    }
}

/// The `personalToken` scheme the `/review` operations require instead.
struct PersonalToken;

impl Modify for PersonalToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A person's access token (belay_pat_\u{2026}), shown once when made on the account page; scoped read or decide, always expiring. An agent key is refused here, and a token on the agent operations.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("personalToken", SecurityScheme::Http(scheme));
    }
}

const RULES: &str = include_str!("openapi_rules.json");

/// The generated document as JSON, with the 2020-12 rules laid over it.
/// Returns the places where the overlay would have replaced what the code
/// generated, or named something it did not generate (a renamed schema):
/// none, or the overlay is stale (a test holds this).
pub fn complete(generated: &utoipa::openapi::OpenApi) -> (Value, Vec<String>) {
    let mut doc = serde_json::to_value(generated).unwrap_or_default();
    let rules: Value = serde_json::from_str(RULES).unwrap_or_default();
    let mut stale = Vec::new();
    overlay(&mut doc, &rules, "#", &mut stale);
    (doc, stale)
}

/// Adds `rules` into `doc`, descending through the objects the code
/// generated; only the keywords utoipa cannot hold are added, and nothing
/// generated is replaced.
fn overlay(doc: &mut Value, rules: &Value, at: &str, stale: &mut Vec<String>) {
    let (Some(doc), Some(rules)) = (doc.as_object_mut(), rules.as_object()) else {
        stale.push(format!("{at}: not an object on both sides"));
        return;
    };
    for (key, rule) in rules {
        let here = format!("{at}/{key}");
        match doc.get_mut(key) {
            Some(existing) if existing.is_object() && rule.is_object() => {
                overlay(existing, rule, &here, stale)
            }
            Some(existing) if existing == rule => {}
            Some(_) => stale.push(format!("{here}: would replace a generated value")),
            None if ADDED_KEYWORDS.contains(&key.as_str()) => {
                doc.insert(key.clone(), rule.clone());
            }
            None => stale.push(format!("{here}: not in the generated document")),
        }
    }
}

/// What the overlay may add: the keywords utoipa's model has no field for.
const ADDED_KEYWORDS: [&str; 6] = ["if", "then", "oneOf", "allOf", "const", "required"];

/// `wait` is a u64 on the wire: anything larger is refused as unreadable
/// (400). utoipa writes u64 as int64, which would halve the range.
pub fn bound_wait(doc: &mut Value) {
    for path in [
        "/paths/~1actions~1{id}/get/parameters",
        "/paths/~1runs~1{run_id}~1events~1{event_id}/get/parameters",
    ] {
        let params = doc.pointer_mut(path).and_then(Value::as_array_mut);
        for param in params.into_iter().flatten() {
            if param["name"] == "wait" {
                param["schema"]["maximum"] = Value::from(u64::MAX);
                if let Some(schema) = param["schema"].as_object_mut() {
                    schema.remove("format");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::overlay;
    use serde_json::json;

    #[test]
    fn the_overlay_adds_keywords_and_refuses_to_replace_or_invent() {
        let mut doc = json!({"schemas": {"A": {"type": "object"}}});
        let mut stale = Vec::new();
        overlay(
            &mut doc,
            &json!({"schemas": {"A": {"if": {"required": ["x"]}}}}),
            "#",
            &mut stale,
        );
        assert!(stale.is_empty(), "{stale:?}");
        assert_eq!(doc["schemas"]["A"]["if"], json!({"required": ["x"]}));

        overlay(
            &mut doc,
            &json!({"schemas": {"A": {"type": "string"}}}),
            "#",
            &mut stale,
        );
        overlay(
            &mut doc,
            &json!({"schemas": {"Gone": {"oneOf": []}}}),
            "#",
            &mut stale,
        );
        assert_eq!(
            stale,
            [
                "#/schemas/A/type: would replace a generated value",
                "#/schemas/Gone: not in the generated document"
            ]
        );
        assert_eq!(doc["schemas"]["A"]["type"], "object");
    }
}
