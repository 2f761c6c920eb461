//! Schema pieces of the agent API's OpenAPI document that a field's Rust
//! type alone cannot say: what the parsers at the edge accept (patterns,
//! lengths), sets the rule book names by constants, and JSON with bounds.
//! Server only; the document itself is put together in `belay::api::doc`.

use std::borrow::Cow;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// What `text::field` accepts, trimmed: at least one character that is not
/// whitespace, and no control characters but tab, CR and LF.
const TEXT_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";
const TEXT_DESCRIPTION: &str = "Free text: not blank, no control characters but tab, CR and LF; surrounding whitespace is trimmed (the length counts what is left).";
/// Whitespace `str::trim` removes, as a regex class body.
const TRIMMED: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

fn string(nullable: bool) -> ObjectBuilder {
    if nullable {
        ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
    } else {
        ObjectBuilder::new().schema_type(Type::String)
    }
}

/// Free text as `text::field` accepts it, up to `max_chars` characters.
pub fn text(nullable: bool, max_chars: usize) -> RefOr<Schema> {
    string(nullable)
        .min_length(Some(1))
        .max_length(Some(max_chars))
        .pattern(Some(TEXT_PATTERN))
        .description(Some(TEXT_DESCRIPTION))
        .into()
}

pub fn target() -> RefOr<Schema> {
    text(false, 500)
}

pub fn summary() -> RefOr<Schema> {
    text(false, 2000)
}

/// Observations and outcome details: optional, up to 10,000 characters.
pub fn long_text() -> RefOr<Schema> {
    text(true, 10_000)
}

/// As `submission::parse_capability` accepts it.
pub fn capability() -> RefOr<Schema> {
    string(false)
        .pattern(Some(format!(
            "^[{TRIMMED}]*[a-z0-9_.-]{{1,100}}[{TRIMMED}]*$"
        )))
        .description(Some(
            "1 to 100 of a-z, 0-9, '_', '.' and '-' (surrounding whitespace is trimmed).",
        ))
        .examples(["email.send"])
        .into()
}

/// `params` as sent: an object of exact JSON values, or null.
pub fn params() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(
            "Any JSON object (null: {}); at most 64 KiB serialized (413). A number beyond \u{b1}(2^53 \u{2212} 1) is refused (422): JSON does not carry it exactly; send it as a string.",
        ))
        .additional_properties(Some(Ref::from_schema_name(JsonValue::name())))
        .into()
}

/// Evidence `content`: any JSON value.
pub fn evidence_content() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some(
            "Text as is; any other JSON value is stored as its JSON text. null counts as absent.",
        ))
        .into()
}

/// Evidence `content_base64`: standard base64 with padding, as the
/// decoder at the edge reads it (surrounding whitespace trimmed).
pub fn evidence_base64() -> RefOr<Schema> {
    let body = "([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?";
    string(true)
        .content_encoding("base64")
        .pattern(Some(format!("^[{TRIMMED}]*{body}[{TRIMMED}]*$")))
        .description(Some("Standard base64 with padding. null counts as absent."))
        .into()
}

/// A date and time as the API writes it (RFC 3339), or null.
pub fn date_time_or_null() -> ObjectBuilder {
    string(true).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

pub fn one_of_strings(values: &[&str], nullable: bool) -> ObjectBuilder {
    let mut all: Vec<serde_json::Value> = values.iter().map(|v| (*v).into()).collect();
    if nullable {
        all.push(serde_json::Value::Null);
    }
    string(nullable).enum_values(Some(all))
}

pub fn carried_out_by() -> RefOr<Schema> {
    one_of_strings(&["agent", "human"], true)
        .description(Some("human at propose: the agent never executes it"))
        .into()
}

pub fn agent_status() -> RefOr<Schema> {
    one_of_strings(&["active", "suspended"], false).into()
}

pub fn evidence_phase() -> RefOr<Schema> {
    one_of_strings(&["request", "outcome"], false)
        .description(Some("request: sent with the request (reviewers see it, the payload hash covers it); outcome: sent with the report afterwards"))
        .into()
}

/// A file part of a multipart body.
pub fn binary() -> ObjectBuilder {
    string(false).format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
}

/// Any JSON value whose numbers are exact in JSON (`canonical::check_exact`).
pub struct JsonValue;

/// ±(2^53 − 1): the integers every JSON reader holds exactly.
const EXACT: isize = 9_007_199_254_740_991;

impl PartialSchema for JsonValue {
    fn schema() -> RefOr<Schema> {
        let this = || Ref::from_schema_name(JsonValue::name());
        AnyOfBuilder::new()
            .description(Some("Any JSON value; every number within \u{b1}(2^53 \u{2212} 1), however it is written (422 otherwise)."))
            .item(ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Null, Type::Boolean, Type::String])))
            .item(ObjectBuilder::new().schema_type(Type::Number).minimum(Some(-EXACT)).maximum(Some(EXACT)))
            .item(ArrayBuilder::new().items(this()))
            .item(ObjectBuilder::new().schema_type(Type::Object).additional_properties(Some(this())))
            .into()
    }
}

impl ToSchema for JsonValue {
    fn name() -> Cow<'static, str> {
        "JsonValue".into()
    }
}

/// A run's name, as `runs::key::parse` accepts it.
pub fn run_key(nullable: bool) -> ObjectBuilder {
    string(nullable)
        .pattern(Some("^[A-Za-z0-9._:-]{1,100}$"))
        .description(Some("The agent's name for the run: 1 to 100 of A-Z, a-z, 0-9, '.', '_', ':' and '-'. Runs are per agent."))
}

/// `run_id` on a submission: optional.
pub fn submission_run() -> RefOr<Schema> {
    run_key(true).into()
}

/// A page address in a run event.
pub fn page_url() -> RefOr<Schema> {
    string(true)
        .max_length(Some(2000))
        .pattern(Some("^https?://[!-~]+$"))
        .description(Some(
            "An http or https address, visible ASCII only, at most 2000 characters.",
        ))
        .into()
}

/// `data` of a run event: any exact JSON value, null counting as absent.
pub fn run_data() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .description(Some("Any JSON value; at most 64 KiB serialized (413); every number within \u{b1}(2^53 \u{2212} 1) (422)."))
        .item(Ref::from_schema_name(JsonValue::name()))
        .into()
}

pub fn escalation_state() -> RefOr<Schema> {
    one_of_strings(&["open", "answered"], false)
        .description(Some("open until a reviewer answers it"))
        .into()
}
