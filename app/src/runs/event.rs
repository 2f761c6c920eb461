//! What an agent reports along a run (`POST /api/v1/runs/{run_id}/events`):
//! raw JSON in, a validated `NewEvent` out, and the event as the agent
//! reads it back.

use crate::db::rfc3339;
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Largest `data` of an event, serialized.
pub const MAX_DATA_BYTES: usize = 64 * 1024;
/// Longest `text` of an event, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest `url`, in bytes.
pub const MAX_URL_BYTES: usize = 2000;

/// What kind of thing happened in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// What the agent was asked to do.
    Prompt,
    /// How it means to do it.
    Plan,
    /// A page or application it opened (`url`, `text` its title).
    PageVisited,
    /// Data it read off a page or a system (`data`).
    ExtractedData,
    Note,
    Error,
    /// It met a state it did not expect and asks a person: the escalation
    /// waits in the approval queue until a reviewer answers it.
    Escalation,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::Prompt,
        EventKind::Plan,
        EventKind::PageVisited,
        EventKind::ExtractedData,
        EventKind::Note,
        EventKind::Error,
        EventKind::Escalation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Prompt => "prompt",
            EventKind::Plan => "plan",
            EventKind::PageVisited => "page_visited",
            EventKind::ExtractedData => "extracted_data",
            EventKind::Note => "note",
            EventKind::Error => "error",
            EventKind::Escalation => "escalation",
        }
    }

    pub fn parse(s: &str) -> Result<EventKind, String> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown run event kind {s:?}"))
    }

    /// Kinds that say what they say in `text`, which they must have.
    fn needs_text(self) -> bool {
        !matches!(self, EventKind::PageVisited | EventKind::ExtractedData)
    }

    /// Kinds that may carry `data`: what was read, and an escalation's context.
    pub fn carries_data(self) -> bool {
        matches!(self, EventKind::ExtractedData | EventKind::Escalation)
    }
}

/// One event, as an agent posts it. Unknown fields are refused.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = RunEventIn))]
#[serde(deny_unknown_fields)]
pub struct RunEventRequest {
    pub kind: EventKind,
    /// Required for prompt, plan, note, error and escalation; the page title for page_visited.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::long_text))]
    pub text: Option<String>,
    /// Required for page_visited: the http or https address.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::page_url))]
    pub url: Option<String>,
    /// Required for extracted_data: what was read, at most 64 KiB serialized.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::run_data))]
    pub data: Option<serde_json::Value>,
}

/// A validated event.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub text: Option<String>,
    pub url: Option<String>,
    pub data: Option<serde_json::Value>,
}

impl NewEvent {
    pub fn parse(req: RunEventRequest) -> Result<NewEvent, AppError> {
        let kind = req.kind;
        let text = req
            .text
            .map(|t| crate::text::field("text", &t, MAX_TEXT_CHARS))
            .transpose()?;
        if kind.needs_text() && text.is_none() {
            return Err(AppError::validation(format!(
                "a {} event needs its text",
                kind.as_str()
            )));
        }
        let url = req.url.map(|u| parse_url(&u)).transpose()?;
        if kind == EventKind::PageVisited && url.is_none() {
            return Err(AppError::validation("a page_visited event needs its url"));
        }
        let data = req.data.filter(|d| !d.is_null());
        if let Some(d) = &data {
            if d.to_string().len() > MAX_DATA_BYTES {
                return Err(AppError::PayloadTooLarge(format!(
                    "data is larger than {MAX_DATA_BYTES} bytes"
                )));
            }
            crate::canonical::check_exact(d, "data")?;
        }
        if data.is_some() && !kind.carries_data() {
            return Err(AppError::validation(format!(
                "a {} event carries no data (only extracted_data and escalation do)",
                kind.as_str()
            )));
        }
        if kind == EventKind::ExtractedData && data.is_none() {
            return Err(AppError::validation(
                "an extracted_data event needs its data",
            ));
        }
        Ok(NewEvent {
            kind,
            text,
            url,
            data,
        })
    }

    /// What the event stores in its `body` column: its text, or for
    /// extracted data the JSON text of its data (and its text, if any, is
    /// kept beside it).
    pub fn body(&self) -> String {
        // The kinds that carry data always store JSON, so reading it back
        // never mistakes a text for data.
        if self.kind.carries_data() {
            return serde_json::json!({ "data": self.data, "text": self.text }).to_string();
        }
        match (&self.data, &self.text) {
            (Some(d), Some(t)) => serde_json::json!({ "data": d, "text": t }).to_string(),
            (Some(d), None) => serde_json::json!({ "data": d }).to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => String::new(),
        }
    }

    /// Bytes it costs against the agent's evidence quota.
    pub fn size(&self) -> usize {
        self.body().len() + self.url.as_ref().map_or(0, String::len)
    }
}

/// An address a person may copy: http or https, visible ASCII only.
fn parse_url(url: &str) -> Result<String, AppError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let valid = url.len() <= MAX_URL_BYTES
        && rest.is_some_and(|r| !r.is_empty())
        && url.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(url.to_string())
    } else {
        Err(AppError::validation(
            "url must be an http or https address of at most 2000 visible ASCII characters",
        ))
    }
}

/// An event as the agent API shows it (the contract's `RunEvent`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = RunEvent))]
pub struct EventView {
    pub id: String,
    /// The run's name, as the agent chose it.
    pub run_id: String,
    pub kind: EventKind,
    pub text: Option<String>,
    pub url: Option<String>,
    /// Extracted data as the agent sent it: any JSON value, not only an object.
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::run_data))]
    pub data: Option<serde_json::Value>,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub at: String,
    /// For an escalation: whether a reviewer answered it, and how.
    pub escalation: Option<EscalationView>,
}

/// Where an escalation stands.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = Escalation))]
pub struct EscalationView {
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::escalation_state))]
    pub state: String,
    /// The reviewer's answer: what the agent should do now.
    pub answer: Option<String>,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub answered_at: Option<String>,
}

/// One stored event, as the store reads it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub run_key: String,
    pub kind: EventKind,
    pub body: String,
    pub url: Option<String>,
    pub at_ms: i64,
    pub state: Option<String>,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub answered_at_ms: Option<i64>,
}

impl StoredEvent {
    /// Its text and data, from the stored body.
    pub fn text_and_data(&self) -> (Option<String>, Option<serde_json::Value>) {
        if !self.kind.carries_data() {
            return ((!self.body.is_empty()).then(|| self.body.clone()), None);
        }
        let parsed: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        let text = parsed["text"].as_str().map(str::to_string);
        let data = parsed.get("data").cloned().filter(|d| !d.is_null());
        (text, data)
    }

    pub fn view(&self) -> EventView {
        let (text, data) = self.text_and_data();
        EventView {
            id: self.id.clone(),
            run_id: self.run_key.clone(),
            kind: self.kind,
            text,
            url: self.url.clone(),
            data,
            at: rfc3339(self.at_ms),
            escalation: self.state.clone().map(|state| EscalationView {
                state,
                answer: self.answer.clone(),
                answered_at: self.answered_at_ms.map(rfc3339),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<NewEvent, AppError> {
        NewEvent::parse(
            serde_json::from_value(json).map_err(|e| AppError::BadRequest(e.to_string()))?,
        )
    }

    #[test]
    fn each_kind_needs_what_it_says() {
        assert!(parse(serde_json::json!({"kind": "prompt", "text": "Renew the contract"})).is_ok());
        let err = parse(serde_json::json!({"kind": "plan"})).unwrap_err();
        assert!(matches!(err, AppError::Validation(m) if m.contains("text")));
        let err = parse(serde_json::json!({"kind": "page_visited", "text": "Home"})).unwrap_err();
        assert!(matches!(err, AppError::Validation(m) if m.contains("url")));
        let err = parse(serde_json::json!({"kind": "extracted_data", "data": null})).unwrap_err();
        assert!(matches!(err, AppError::Validation(m) if m.contains("data")));
        let e = parse(
            serde_json::json!({"kind": "extracted_data", "data": {"total": 3}, "text": "invoice"}),
        )
        .unwrap();
        assert_eq!(e.body(), r#"{"data":{"total":3},"text":"invoice"}"#);
    }

    #[test]
    fn only_extracted_data_and_escalations_carry_data_and_it_reads_back() {
        let err =
            parse(serde_json::json!({"kind": "note", "text": "x", "data": false})).unwrap_err();
        assert!(matches!(err, AppError::Validation(m) if m.contains("no data")));
        // An escalation's text that looks like JSON stays its text.
        let text = r#"{"data":1,"text":"y"}"#;
        for (json, data) in [
            (
                serde_json::json!({"kind": "escalation", "text": text, "data": {"page": 3}}),
                Some(serde_json::json!({"page": 3})),
            ),
            (
                serde_json::json!({"kind": "escalation", "text": text}),
                None,
            ),
        ] {
            let e = parse(json).unwrap();
            let stored = StoredEvent {
                id: "e".into(),
                run_key: "r".into(),
                kind: e.kind,
                body: e.body(),
                url: None,
                at_ms: 0,
                state: None,
                answer: None,
                answered_by: None,
                answered_at_ms: None,
            };
            assert_eq!(stored.text_and_data(), (Some(text.to_string()), data));
        }
    }

    #[test]
    fn urls_are_http_and_plain() {
        let ok =
            parse(serde_json::json!({"kind": "page_visited", "url": "https://crm.example/a?b=1"}));
        assert_eq!(
            ok.unwrap().url.as_deref(),
            Some("https://crm.example/a?b=1")
        );
        for bad in ["javascript:alert(1)", "https://", "https://a b", "ftp://x"] {
            let err = parse(serde_json::json!({"kind": "page_visited", "url": bad}));
            assert!(matches!(err, Err(AppError::Validation(_))), "{bad}");
        }
    }

    #[test]
    fn oversized_and_unknown_input_is_refused() {
        let big = "x".repeat(MAX_DATA_BYTES);
        let err = parse(serde_json::json!({"kind": "extracted_data", "data": [big]})).unwrap_err();
        assert!(matches!(err, AppError::PayloadTooLarge(_)));
        let err =
            parse(serde_json::json!({"kind": "note", "text": "x".repeat(MAX_TEXT_CHARS + 1)}))
                .unwrap_err();
        assert!(matches!(err, AppError::Validation(_)));
        assert!(parse(serde_json::json!({"kind": "video", "text": "x"})).is_err());
        assert!(parse(serde_json::json!({"kind": "note", "text": "x", "html": "<b>"})).is_err());
    }
}
