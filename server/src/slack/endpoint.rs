//! The endpoints Slack calls: button clicks (`/slack/interactions`, a form
//! with a JSON `payload`) and the `/belay` slash command
//! (`/slack/commands`, which links a Slack user). Every request must carry
//! Slack's signature over its raw body, made within five minutes; there is
//! no session or CSRF token here, the signature is the authentication.

use super::signature::{self, Refused};
use super::Slack;
use app::actions::model::RequestState;
use app::slack::decide::{self, Click};
use app::state::AppState;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn router(slack: Arc<Slack>) -> Router<AppState> {
    Router::new()
        .route("/slack/interactions", post(interactions))
        .route("/slack/commands", post(commands))
        .layer(Extension(slack))
}

impl Slack {
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refused> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let now = app::db::now_ms() / 1000;
        signature::verify(
            self.signing_secret.0.as_bytes(),
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            body,
            now,
        )
    }
}

fn refused(why: Refused) -> Response {
    tracing::warn!(%why, "Slack request refused");
    (StatusCode::UNAUTHORIZED, why.to_string()).into_response()
}

#[derive(Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    user: SlackUser,
    team: Option<Id>,
    channel: Option<Id>,
    #[serde(default)]
    actions: Vec<Button>,
}

#[derive(Deserialize)]
struct SlackUser {
    id: String,
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Button {
    action_id: String,
    #[serde(default)]
    value: String,
}

/// A click on Approve or Reject. Slack wants a 200 within three seconds
/// whatever happened; the clicker learns the outcome in a message only they
/// see, and everyone sees the main message change (the outbox worker).
async fn interactions(
    State(state): State<AppState>,
    Extension(slack): Extension<Arc<Slack>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(why) = slack.check(&headers, &body) {
        return refused(why);
    }
    let Some(payload) = field(&body, "payload") else {
        return (StatusCode::BAD_REQUEST, "no payload").into_response();
    };
    let payload: Interaction = match serde_json::from_str(&payload) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "a signed Slack interaction Belay cannot read");
            return (StatusCode::BAD_REQUEST, "unreadable payload").into_response();
        }
    };
    let Some(button) = payload
        .actions
        .first()
        .filter(|_| payload.kind == "block_actions")
    else {
        return StatusCode::OK.into_response();
    };
    let team = payload
        .user
        .team_id
        .clone()
        .or(payload.team.map(|t| t.id))
        .unwrap_or_default();
    let answer = match Click::parse(&button.action_id, &button.value) {
        Ok(click) => match decide::decide(&state, &team, &payload.user.id, &click).await {
            Ok(request) => outcome(&request, click.approve),
            Err(e) => format!("Not decided: {e}"),
        },
        Err(e) => format!("Not decided: {e}"),
    };
    if let Some(channel) = payload.channel.map(|c| c.id) {
        let user = payload.user.id.clone();
        tokio::spawn(async move {
            if let Err(e) = slack.api.post_ephemeral(&channel, &user, &answer).await {
                tracing::warn!(error = %e, "cannot tell a Slack user how their click went");
            }
        });
    }
    StatusCode::OK.into_response()
}

fn outcome(request: &app::actions::model::ActionDetail, approved: bool) -> String {
    match request.state {
        RequestState::PendingApproval => format!(
            "Your approval counts: {} of {} distinct approvals.",
            request.approved_by.len(),
            request.approvals_required
        ),
        _ if approved => "You approved it: the request is approved.".into(),
        _ => "You rejected it.".into(),
    }
}

/// `/belay link CODE` links the Slack user who typed it to the Belay person
/// who made the code on their account page; anything else shows the help.
async fn commands(
    State(state): State<AppState>,
    Extension(slack): Extension<Arc<Slack>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(why) = slack.check(&headers, &body) {
        return refused(why);
    }
    let (team, user, text) = (
        field(&body, "team_id").unwrap_or_default(),
        field(&body, "user_id").unwrap_or_default(),
        field(&body, "text").unwrap_or_default(),
    );
    let mut words = text.split_whitespace();
    let reply = match (words.next(), words.next()) {
        (Some("link"), Some(code)) if !team.is_empty() && !user.is_empty() => {
            match app::slack::link::redeem(&state.db, &team, &user, code).await {
                Ok(username) => format!(
                    "Linked: you are {username} in Belay. Approve and Reject on Belay's messages now count as yours."
                ),
                Err(e) => format!("Not linked: {e}"),
            }
        }
        _ => "To approve and reject from Slack, link your Slack user: on Belay's Your account page choose \
              \"Link Slack\", then type the command it shows here (`/belay link CODE`)."
            .into(),
    };
    Json(serde_json::json!({ "response_type": "ephemeral", "text": reply })).into_response()
}

/// One field of a form body.
fn field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}
