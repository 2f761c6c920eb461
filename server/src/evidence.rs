//! `GET /evidence/{id}/raw`: a piece of evidence as stored, for signed-in
//! people (the page middleware sends anyone else to sign in). Nothing an
//! agent sent may run here: every response forbids scripts and requests by
//! CSP; a DOM snapshot is additionally sandboxed (also when opened on its
//! own) and its meta refresh is disabled, since a refresh would navigate
//! even a sandboxed frame.

use app::error::AppError;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

const SNAPSHOT_CSP: &str =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";
const OTHER_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

pub async fn raw(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (kind, media_type, content) = app::evidence::store::raw(&state.db, &id).await?;
    let (content_type, csp, body) = match kind.as_str() {
        "screenshot" => (media_type, OTHER_CSP, content),
        "dom_snapshot" => (
            "text/html; charset=utf-8".to_string(),
            SNAPSHOT_CSP,
            no_refresh(content),
        ),
        _ => ("text/plain; charset=utf-8".to_string(), OTHER_CSP, content),
    };
    let frame = if kind == "dom_snapshot" {
        "SAMEORIGIN"
    } else {
        "DENY"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, csp.to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::X_FRAME_OPTIONS, frame.to_string()),
            // Evidence may be sensitive: nothing keeps it after sign-out.
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::CONTENT_DISPOSITION, "inline".to_string()),
            (header::REFERRER_POLICY, "no-referrer".to_string()),
            (
                header::HeaderName::from_static("x-dns-prefetch-control"),
                "off".to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

/// Renames every `http-equiv` attribute, so a `<meta http-equiv="refresh">`
/// (or a CSP of the page's own) does nothing. The source view shows the
/// snapshot as it was sent.
fn no_refresh(html: Vec<u8>) -> Vec<u8> {
    const NEEDLE: &[u8] = b"http-equiv";
    let mut out = Vec::with_capacity(html.len() + 32);
    let mut i = 0;
    while i < html.len() {
        if html.len() - i >= NEEDLE.len() && html[i..i + NEEDLE.len()].eq_ignore_ascii_case(NEEDLE)
        {
            out.extend_from_slice(b"data-belay-disabled-equiv");
            i += NEEDLE.len();
        } else {
            out.push(html[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn meta_refresh_is_disabled_in_any_case() {
        let out = super::no_refresh(
            b"<META HTTP-EQUIV=\"refresh\" content=\"0;url=x\"><p>http-equiv</p>".to_vec(),
        );
        let out = String::from_utf8(out).unwrap();
        assert!(!out.to_ascii_lowercase().contains("http-equiv"), "{out}");
    }
}
