//! Evidence as an agent sends it, checked at the edge: a known type, a
//! bounded size, a media type decided from the bytes, and (screenshots)
//! dimensions read from the header before anything decodes it.

use crate::error::AppError;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};
use utoipa::openapi::RefOr;

/// Largest single piece of evidence, decoded.
pub const MAX_EVIDENCE_BYTES: usize = 5 * 1024 * 1024;
/// Most pieces of evidence on one submission.
pub const MAX_EVIDENCE_ITEMS: usize = 20;
/// Most evidence bytes on one action, all pieces together.
pub const MAX_EVIDENCE_PER_ACTION: usize = 20 * 1024 * 1024;
/// Largest screenshot, read from its header before anything decodes it: a
/// tiny file can claim billions of pixels (a pixel flood).
pub const MAX_IMAGE_SIDE: usize = 16_384;
pub const MAX_IMAGE_PIXELS: usize = 40_000_000;
/// The evidence types of PRODUCT.md.
pub const EVIDENCE_KINDS: [&str; 8] = [
    "screenshot",
    "dom_snapshot",
    "request_log",
    "events",
    "plan",
    "prompt",
    "extracted_data",
    "diff",
];

/// The evidence types (`EVIDENCE_KINDS`), as the API document names them.
pub struct EvidenceType;

impl utoipa::PartialSchema for EvidenceType {
    fn schema() -> RefOr<Schema> {
        crate::openapi::one_of_strings(&EVIDENCE_KINDS, false).into()
    }
}

impl utoipa::ToSchema for EvidenceType {}

/// The `multipart/form-data` body of `POST /actions/{id}/evidence`: one
/// part per piece of evidence, named by its type.
pub struct EvidenceParts;

impl utoipa::PartialSchema for EvidenceParts {
    fn schema() -> RefOr<Schema> {
        let mut parts = ObjectBuilder::new()
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .min_properties(Some(1))
            .description(Some("One part per piece of evidence, named by its type (a type may repeat); the same checks as EvidenceIn. A part's Content-Type, unless application/octet-stream, must agree with the bytes (415)."));
        for kind in EVIDENCE_KINDS {
            parts = parts.property(kind, crate::openapi::binary());
        }
        parts.into()
    }
}

impl utoipa::ToSchema for EvidenceParts {}

/// Exactly one of content (text, or JSON for structured evidence) or content_base64 (bytes); at most 5 MiB decoded (413). Belay decides the media type from the type and the bytes: a screenshot must be a PNG, JPEG or WebP image (415) whose header gives at most 16384 px a side and 40 megapixels (422); extracted_data, events and request_log must be JSON, the other types UTF-8 text (422). A media_type given must agree with what Belay decides (415); it is compared case-insensitively, surrounding whitespace ignored.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = EvidenceIn))]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ssr", schema(value_type = EvidenceType))]
    pub kind: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(examples("image/png")))]
    pub media_type: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::evidence_content))]
    pub content: Option<serde_json::Value>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::evidence_base64))]
    pub content_base64: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Evidence {
    pub kind: &'static str,
    pub media_type: String,
    pub content: Vec<u8>,
    pub sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::text::hex(&Sha256::digest(bytes))
}

/// A list of evidence from one JSON body: at most `MAX_EVIDENCE_ITEMS`,
/// each piece checked (errors name its index), the total bounded.
pub fn parse_list(list: Vec<EvidenceRequest>) -> Result<Vec<Evidence>, AppError> {
    if list.len() > MAX_EVIDENCE_ITEMS {
        return Err(AppError::validation(format!(
            "at most {MAX_EVIDENCE_ITEMS} pieces of evidence per action"
        )));
    }
    let evidence: Vec<Evidence> = list
        .into_iter()
        .enumerate()
        .map(|(i, e)| Evidence::parse(e).map_err(|err| named(&format!("evidence[{i}]"), err)))
        .collect::<Result<_, _>>()?;
    check_total(0, &evidence)?;
    Ok(evidence)
}

/// An error about one piece, prefixed with which piece it is.
pub fn named(which: &str, err: AppError) -> AppError {
    match err {
        AppError::Validation(m) => AppError::Validation(format!("{which}: {m}")),
        AppError::PayloadTooLarge(m) => AppError::PayloadTooLarge(format!("{which}: {m}")),
        AppError::UnsupportedMediaType(m) => {
            AppError::UnsupportedMediaType(format!("{which}: {m}"))
        }
        other => other,
    }
}

/// Refuses evidence that would take an action over its total allowance,
/// counting what it already holds.
pub fn check_total(existing_bytes: usize, added: &[Evidence]) -> Result<(), AppError> {
    let total = existing_bytes + added.iter().map(|e| e.content.len()).sum::<usize>();
    if total > MAX_EVIDENCE_PER_ACTION {
        return Err(AppError::PayloadTooLarge(format!(
            "an action holds at most {} MiB of evidence in all",
            MAX_EVIDENCE_PER_ACTION / 1024 / 1024
        )));
    }
    Ok(())
}

impl Evidence {
    pub fn parse(req: EvidenceRequest) -> Result<Evidence, AppError> {
        let kind = self::kind(&req.kind)?;
        let content = match (req.content, req.content_base64) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(AppError::validation(
                    "give exactly one of content or content_base64",
                ))
            }
            (Some(serde_json::Value::String(s)), None) => s.into_bytes(),
            (Some(json), None) => json.to_string().into_bytes(),
            (None, Some(b64)) => {
                // Refuse before decoding: base64 is 4/3 the size of its bytes.
                if b64.len() / 4 * 3 > MAX_EVIDENCE_BYTES + 3 {
                    return Err(too_large());
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| AppError::validation("content_base64 is not valid base64"))?;
                bytes
            }
        };
        Evidence::from_bytes(kind, req.media_type.as_deref(), content)
    }

    /// Checks evidence bytes however they arrived (JSON or multipart):
    /// size, then type by content, then (screenshots) dimensions.
    pub fn from_bytes(
        kind: &str,
        declared_media_type: Option<&str>,
        content: Vec<u8>,
    ) -> Result<Evidence, AppError> {
        let kind = self::kind(kind)?;
        if content.len() > MAX_EVIDENCE_BYTES {
            return Err(too_large());
        }
        let media_type = media_type_of(kind, declared_media_type, &content)?;
        if kind == "screenshot" {
            check_dimensions(&content)?;
        }
        Ok(Evidence {
            kind,
            sha256: sha256_hex(&content),
            media_type,
            content,
        })
    }
}

pub fn kind(name: &str) -> Result<&'static str, AppError> {
    EVIDENCE_KINDS
        .into_iter()
        .find(|k| *k == name)
        .ok_or_else(|| {
            AppError::validation(format!(
                "unknown evidence type {name:?}: expected one of {}",
                EVIDENCE_KINDS.join(", ")
            ))
        })
}

/// Width and height from the image header; nothing is decoded.
fn check_dimensions(content: &[u8]) -> Result<(), AppError> {
    let size = imagesize::blob_size(content).map_err(|_| {
        AppError::validation("the screenshot's header does not give its size: truncated or corrupt")
    })?;
    let (w, h) = (size.width, size.height);
    if w == 0 || h == 0 {
        return Err(AppError::validation("the screenshot has no pixels"));
    }
    if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || w.saturating_mul(h) > MAX_IMAGE_PIXELS {
        return Err(AppError::validation(format!(
            "the screenshot claims {w}×{h} pixels; at most {MAX_IMAGE_SIDE} per side and {} megapixels",
            MAX_IMAGE_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

/// The media type Belay records, decided from the evidence type and the
/// bytes themselves, never taken on the agent's word. A declared type that
/// disagrees is refused (415).
fn media_type_of(kind: &str, declared: Option<&str>, content: &[u8]) -> Result<String, AppError> {
    // Read as written by hand: any case, spaces around it.
    let declared = declared.map(|d| d.trim().to_ascii_lowercase());
    let actual: &str = match kind {
        "screenshot" => sniff_image(content).ok_or_else(|| {
            AppError::UnsupportedMediaType("a screenshot must be a PNG, JPEG or WebP image".into())
        })?,
        "extracted_data" | "events" | "request_log" => {
            serde_json::from_slice::<serde_json::Value>(content)
                .map_err(|_| AppError::validation(format!("{kind} evidence must be JSON")))?;
            "application/json"
        }
        _ => {
            std::str::from_utf8(content)
                .map_err(|_| AppError::validation(format!("{kind} evidence must be UTF-8 text")))?;
            match (kind, declared.as_deref()) {
                ("dom_snapshot", _) => "text/html",
                ("plan" | "prompt", Some("text/markdown")) => "text/markdown",
                ("diff", Some("application/json")) => "application/json",
                _ => "text/plain",
            }
        }
    };
    match declared {
        Some(d) if d != actual => Err(AppError::UnsupportedMediaType(format!(
            "{kind} evidence declared as {d:?} is {actual}"
        ))),
        _ => Ok(actual.to_string()),
    }
}

/// Image type from the file's first bytes (its magic number).
fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn too_large() -> AppError {
    AppError::PayloadTooLarge(format!(
        "evidence is larger than {} MiB",
        MAX_EVIDENCE_BYTES / 1024 / 1024
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG header claiming `w`×`h` pixels, with no pixel data at all.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend(w.to_be_bytes());
        b.extend(h.to_be_bytes());
        b.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn screenshot_sizes_are_read_from_the_header_and_floods_refused() {
        assert!(Evidence::from_bytes("screenshot", None, png_header(1920, 1080)).is_ok());
        for (w, h) in [(100_000, 10), (10_000, 10_000), (0, 5)] {
            let err = Evidence::from_bytes("screenshot", None, png_header(w, h)).unwrap_err();
            assert!(matches!(err, AppError::Validation(_)), "{w}x{h}: {err:?}");
        }
        let err =
            Evidence::from_bytes("screenshot", None, b"\x89PNG\r\n\x1a\n".to_vec()).unwrap_err();
        assert!(matches!(err, AppError::Validation(m) if m.contains("header")));
        let err = Evidence::from_bytes("screenshot", Some("image/png"), b"GIF89a......".to_vec())
            .unwrap_err();
        assert!(matches!(err, AppError::UnsupportedMediaType(_)));
    }

    #[test]
    fn the_total_evidence_on_an_action_is_bounded() {
        let piece = Evidence::from_bytes("plan", None, vec![b'a'; MAX_EVIDENCE_BYTES]).unwrap();
        assert!(check_total(0, &[piece.clone(), piece.clone(), piece.clone()]).is_ok());
        let err = check_total(MAX_EVIDENCE_PER_ACTION - 10, &[piece]).unwrap_err();
        assert!(matches!(err, AppError::PayloadTooLarge(_)));
    }

    #[test]
    fn a_declared_media_type_is_read_in_any_case_with_spaces_around() {
        let plan = Evidence::from_bytes("plan", Some(" Text/Markdown "), b"# Plan".to_vec());
        assert_eq!(plan.unwrap().media_type, "text/markdown");
        let diff = Evidence::from_bytes("diff", Some("APPLICATION/JSON"), b"{}".to_vec());
        assert_eq!(diff.unwrap().media_type, "application/json");
        let err = Evidence::from_bytes("plan", Some("text/html"), b"x".to_vec()).unwrap_err();
        assert!(matches!(err, AppError::UnsupportedMediaType(_)));
    }
}
