//! Parsing what an agent submits: raw JSON in, a validated `Submission` out.

use super::model::{ActionDetail, EvidenceInfo, RequestState};
use crate::db::{new_id, Tx};
use crate::error::stored;
use crate::error::AppError;
use crate::evidence::parse::{parse_list, Evidence, EvidenceRequest};
use crate::policy::{Decision, Outcome};
use serde::Deserialize;
use sqlx::Row;

/// Largest `params` object, serialized.
pub const MAX_PARAMS_BYTES: usize = 64 * 1024;

/// An intended action, as an agent submits it. Unknown fields are refused.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = Submission))]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::capability))]
    pub capability: String,
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::target))]
    pub target: String,
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::summary))]
    pub summary: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::params))]
    pub params: Option<serde_json::Value>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_items = 20))]
    pub evidence: Vec<EvidenceRequest>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::long_text))]
    pub observation: Option<String>,
    /// The run this action is part of: the agent's name for it.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::submission_run))]
    pub run_id: Option<String>,
}

/// A validated submission.
#[derive(Debug, Clone)]
pub struct Submission {
    pub capability: String,
    pub target: String,
    pub summary: String,
    pub params: serde_json::Value,
    pub observation: Option<String>,
    pub evidence: Vec<Evidence>,
    /// The agent's name for the run it is part of (not part of what a
    /// reviewer approves, so not in the payload hash).
    pub run_id: Option<String>,
}

/// Capability names look like `email.send`: lowercase letters, digits, `_`, `.` and `-`.
pub fn parse_capability(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    let valid = (1..=100).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if valid {
        Ok(name.to_string())
    } else {
        Err(AppError::validation(
            "capability must be 1 to 100 characters of a-z, 0-9, '_', '.' or '-'",
        ))
    }
}

impl Submission {
    pub fn parse(req: SubmitRequest) -> Result<Submission, AppError> {
        let params = match req.params {
            None | Some(serde_json::Value::Null) => serde_json::json!({}),
            Some(v @ serde_json::Value::Object(_)) => v,
            Some(_) => return Err(AppError::validation("params must be a JSON object")),
        };
        if params.to_string().len() > MAX_PARAMS_BYTES {
            return Err(AppError::PayloadTooLarge(format!(
                "params are larger than {MAX_PARAMS_BYTES} bytes"
            )));
        }
        crate::canonical::check_exact(&params, "params")?;
        let evidence = parse_list(req.evidence)?;
        Ok(Submission {
            capability: parse_capability(&req.capability)?,
            target: crate::text::field("target", &req.target, 500)?,
            summary: crate::text::field("summary", &req.summary, 2000)?,
            params,
            observation: req
                .observation
                .map(|o| crate::text::field("observation", &o, 10_000))
                .transpose()?,
            evidence,
            run_id: req
                .run_id
                .as_deref()
                .map(crate::runs::key::parse)
                .transpose()?,
        })
    }

    /// The request this submission becomes once decided, as it will be
    /// stored and answered (evidence ids included).
    pub fn decided(&self, id: &str, agent: (&str, &str), d: Decision, now: i64) -> ActionDetail {
        let expires_at = match d.outcome {
            Outcome::PendingApproval => d.ttl_secs.map(|t| now + t * 1000),
            Outcome::Allowed | Outcome::Drafted | Outcome::Denied => None,
        };
        let evidence = self
            .evidence
            .iter()
            .map(|e| EvidenceInfo {
                id: new_id(),
                kind: e.kind.to_string(),
                media_type: e.media_type.clone(),
                size_bytes: e.content.len() as i64,
                sha256: e.sha256.clone(),
                phase: "request".into(),
            })
            .collect();
        ActionDetail {
            id: id.to_string(),
            agent_id: agent.0.to_string(),
            agent_name: agent.1.to_string(),
            stage: d.stage,
            capability: self.capability.clone(),
            capability_known: d.capability_known,
            triggers: d.triggers,
            target: self.target.clone(),
            summary: self.summary.clone(),
            params: self.params.clone(),
            observation: self.observation.clone(),
            decision: d.outcome,
            reasons: d.reasons,
            policy_version: d.policy_version,
            held_for: d.held_for,
            rules: d.rules,
            approvals_required: d.approvals_required,
            approved_by: vec![],
            state: RequestState::after(d.outcome),
            created_at_ms: now,
            expires_at_ms: expires_at,
            decided_at_ms: None,
            decided_by: None,
            decision_note: None,
            evidence,
            sponsor: None,
            payload_hash: self.payload_hash(),
            edited_params: None,
            correction: None,
            claim_by_ms: None,
            claimed_at_ms: None,
            outcome_at_ms: None,
            outcome_detail: None,
            incident: false,
        }
    }

    /// Hash of exactly what a reviewer sees: an approval binds to it.
    pub fn payload_hash(&self) -> String {
        payload_hash(
            &self.capability,
            &self.target,
            &self.summary,
            &self.params,
            self.observation.as_deref(),
            self.evidence
                .iter()
                .map(|e| (e.kind, e.media_type.as_str(), e.sha256.as_str())),
        )
    }
}

/// The hash an approval binds to, over everything a reviewer sees: the
/// params as they would be carried out, and each piece of evidence (type,
/// media type, content hash), sorted so that the order they were stored in
/// does not matter. Hashed as canonical JSON (RFC 8785), so equal payloads
/// hash equally whatever a serializer's habits.
pub fn payload_hash<'a>(
    capability: &str,
    target: &str,
    summary: &str,
    params: &serde_json::Value,
    observation: Option<&str>,
    evidence: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> String {
    let mut evidence: Vec<_> = evidence.collect();
    evidence.sort_unstable();
    let canonical = serde_json::json!({
        "capability": capability,
        "target": target,
        "summary": summary,
        "params": params,
        "observation": observation,
        "evidence": evidence,
    });
    crate::canonical::sha256(&canonical)
}

/// What a reviewer sees of a stored request: its params as edited (or as
/// submitted) and its reviewed evidence as (type, media type, SHA-256).
pub struct StoredPayload {
    pub capability: String,
    pub target: String,
    pub summary: String,
    pub params: serde_json::Value,
    pub observation: Option<String>,
    pub evidence: Vec<(String, String, String)>,
}

impl StoredPayload {
    pub async fn read(tx: &mut Tx<'_>, id: &str) -> Result<StoredPayload, AppError> {
        let r = sqlx::query(
            "SELECT capability, target, summary, observation, params, edited_params \
             FROM action_requests WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        let params = match r.try_get::<Option<String>, _>("edited_params")? {
            Some(edited) => stored(serde_json::from_str(&edited))?,
            None => stored(serde_json::from_str(&r.try_get::<String, _>("params")?))?,
        };
        Ok(StoredPayload {
            capability: r.try_get("capability")?,
            target: r.try_get("target")?,
            summary: r.try_get("summary")?,
            params,
            observation: r.try_get("observation")?,
            evidence: crate::evidence::store::reviewed(tx, id).await?,
        })
    }
}

impl StoredPayload {
    /// Its payload hash (with `params` in place of its params, if given).
    pub fn hash(&self, params: Option<&serde_json::Value>) -> String {
        payload_hash(
            &self.capability,
            &self.target,
            &self.summary,
            params.unwrap_or(&self.params),
            self.observation.as_deref(),
            self.evidence
                .iter()
                .map(|(k, m, s)| (k.as_str(), m.as_str(), s.as_str())),
        )
    }
}

/// The payload hash of a stored request, recomputed from what is stored
/// (or with `params` in place of its params).
pub async fn stored_payload_hash(
    tx: &mut Tx<'_>,
    id: &str,
    params: Option<&serde_json::Value>,
) -> Result<String, AppError> {
    Ok(StoredPayload::read(tx, id).await?.hash(params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::parse::{sha256_hex, MAX_EVIDENCE_BYTES};

    fn req(json: serde_json::Value) -> Result<Submission, AppError> {
        Submission::parse(
            serde_json::from_value(json).map_err(|e| AppError::BadRequest(e.to_string()))?,
        )
    }

    #[test]
    fn a_minimal_submission_parses_with_empty_params() {
        let s = req(
            serde_json::json!({"capability": "email.send", "target": "a@b.c", "summary": "hi"}),
        )
        .unwrap();
        assert_eq!(s.params, serde_json::json!({}));
        assert!(s.evidence.is_empty());
    }

    #[test]
    fn bad_fields_are_refused_with_their_name() {
        let err =
            req(serde_json::json!({"capability": "Email Send", "target": "x", "summary": "y"}))
                .unwrap_err();
        assert!(matches!(err, AppError::Validation(m) if m.contains("capability")));
        let err = req(serde_json::json!({"capability": "a.b", "target": " ", "summary": "y"}))
            .unwrap_err();
        assert!(matches!(err, AppError::Validation(m) if m.contains("target")));
        let err = req(
            serde_json::json!({"capability": "a.b", "target": "x", "summary": "y", "params": [1]}),
        )
        .unwrap_err();
        assert!(matches!(err, AppError::Validation(m) if m.contains("params")));
    }

    #[test]
    fn evidence_is_typed_sized_and_hashed() {
        let s = req(
            serde_json::json!({"capability": "a.b", "target": "x", "summary": "y", "evidence": [
                {"type": "plan", "content": "1. do it"},
                {"type": "extracted_data", "content": {"total": 3}},
                {"type": "screenshot", "media_type": "image/png", "content_base64": ONE_PIXEL_PNG},
            ]}),
        )
        .unwrap();
        assert_eq!(s.evidence[0].media_type, "text/plain");
        assert_eq!(s.evidence[1].media_type, "application/json");
        assert_eq!(s.evidence[2].content.len(), 70);
        assert_eq!(s.evidence[2].media_type, "image/png");

        // Bytes decide, not labels.
        let err = req(serde_json::json!({"capability": "a.b", "target": "x", "summary": "y",
            "evidence": [{"type": "screenshot", "media_type": "image/png", "content_base64": "PGh0bWw+"}]})).unwrap_err();
        assert!(matches!(err, AppError::UnsupportedMediaType(_)), "{err:?}");
        let err = req(serde_json::json!({"capability": "a.b", "target": "x", "summary": "y",
            "evidence": [{"type": "plan", "media_type": "text/html", "content": "<script>x</script>"}]})).unwrap_err();
        assert!(matches!(err, AppError::UnsupportedMediaType(_)), "{err:?}");
        let err = req(
            serde_json::json!({"capability": "a.b", "target": "x", "summary": "y",
            "evidence": [{"type": "events", "content": "not json"}]}),
        )
        .unwrap_err();
        assert!(matches!(err, AppError::Validation(_)), "{err:?}");
        assert_eq!(s.evidence[0].sha256, sha256_hex(b"1. do it"));

        let err = req(
            serde_json::json!({"capability": "a.b", "target": "x", "summary": "y",
            "evidence": [{"type": "video", "content": "x"}]}),
        )
        .unwrap_err();
        assert!(
            matches!(err, AppError::Validation(m) if m.starts_with("evidence[0]: unknown evidence type"))
        );
        let big = "A".repeat((MAX_EVIDENCE_BYTES + 1024) / 3 * 4);
        let err = req(
            serde_json::json!({"capability": "a.b", "target": "x", "summary": "y",
            "evidence": [{"type": "screenshot", "content_base64": big}]}),
        )
        .unwrap_err();
        assert!(matches!(err, AppError::PayloadTooLarge(_)));
    }

    /// A valid 1×1 PNG.
    const ONE_PIXEL_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

    #[test]
    fn the_payload_hash_is_canonical_json_pinned_to_a_fixed_vector() {
        // SHA-256 of {"capability":"email.send","evidence":[["plan","text/plain","12a55ecefd3b349acadfd36d1995f5f59ca96eae9e467a0d5b9348e6d76e993d"]],"observation":null,"params":{"amount":500,"to":"x"},"summary":"hi","target":"a@b.c"}
        let s = req(serde_json::json!({"capability": "email.send", "target": "a@b.c", "summary": "hi",
            "params": {"to": "x", "amount": 500}, "evidence": [{"type": "plan", "content": "1. do it"}]}))
        .unwrap();
        assert_eq!(
            s.payload_hash(),
            "bf06a64d3f6783959f91bd3aa0131fed0e5ba06d9f7fb0e7cb47bc102369c659"
        );
    }

    #[test]
    fn the_payload_hash_changes_with_anything_a_reviewer_sees() {
        let base = serde_json::json!({"capability": "a.b", "target": "x", "summary": "y", "params": {"n": 1}});
        let a = req(base.clone()).unwrap().payload_hash();
        assert_eq!(a, req(base).unwrap().payload_hash());
        let b = req(serde_json::json!({"capability": "a.b", "target": "x", "summary": "y", "params": {"n": 2}})).unwrap();
        assert_ne!(a, b.payload_hash());
    }
}
