//! A decision clicked in Slack: the Slack user becomes the Belay person
//! linked to them, and the decision goes through the browser's rule book
//! (`actions::review::decide_request`), so distinct approvers, the sponsor
//! bar, N-of-M and the payload binding hold exactly as in the browser.

use crate::actions::model::ActionDetail;
use crate::actions::review::{decide_request, Verdict};
use crate::error::AppError;
use crate::state::AppState;

/// What the button said, parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub approve: bool,
    pub action_id: String,
    /// The payload hash the message showed.
    pub seen: String,
}

impl Click {
    /// `action` is the button's action id, `value` its value: `ID:HASH`.
    pub fn parse(action: &str, value: &str) -> Result<Click, AppError> {
        let approve = match action {
            "belay_approve" => true,
            "belay_reject" => false,
            _ => return Err(AppError::validation("not a Belay button")),
        };
        let (id, seen) = value
            .split_once(':')
            .ok_or_else(|| AppError::validation("the button's value is not ID:HASH"))?;
        crate::db::known_id(id, "action request")?;
        if seen.len() != 64 || !seen.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::validation(
                "the button's payload hash is malformed",
            ));
        }
        Ok(Click {
            approve,
            action_id: id.to_string(),
            seen: seen.to_string(),
        })
    }
}

/// Why an unlinked Slack user may look but not decide.
pub const NOT_LINKED: &str = "your Slack user is not linked to a Belay account, so you can read \
     this request but not decide it: on Belay's Your account page, choose \"Link Slack\" and type \
     the command it shows here in Slack";

/// Decides as the person linked to this Slack user.
#[tracing::instrument(skip(state, click), fields(action_id = %click.action_id))]
pub async fn decide(
    state: &AppState,
    team_id: &str,
    slack_user: &str,
    click: &Click,
) -> Result<ActionDetail, AppError> {
    let person = super::link::person_of(&state.db, team_id, slack_user)
        .await?
        .ok_or_else(|| AppError::Forbidden(NOT_LINKED.into()))?;
    // Re-read as a session would: a deactivated person decides nothing.
    let (reviewer, _) = crate::auth::users::find_for_session(&state.db, &person)
        .await?
        .ok_or_else(|| AppError::Forbidden("your Belay account is deactivated".into()))?;
    if !reviewer.role.can_decide_actions() {
        return Err(AppError::Forbidden(format!(
            "your role ({}) may not decide approval requests",
            reviewer.role
        )));
    }
    let verdict = if click.approve {
        Verdict::Approve { edited: None }
    } else {
        // A button carries no reason; the request page takes a written one.
        Verdict::Reject {
            reason: "rejected in Slack".into(),
        }
    };
    decide_request(state, &reviewer, &click.action_id, &click.seen, verdict).await
}
