//! The signed-in person, from the server-side session.

use super::{users, Role, UserView};
use crate::error::AppError;
use crate::state::AppState;
use tower_sessions::Session;

/// Session key holding the signed-in user's id.
pub const USER_ID: &str = "user_id";
/// Session key holding when they signed in (ms since the epoch).
const SIGNED_IN_AT: &str = "signed_in_at";
/// However active a session stays, it ends this long after sign-in.
pub const MAX_SESSION_MS: i64 = 7 * 24 * 60 * 60 * 1000;

async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "session layer missing");
        AppError::Internal
    })
}

/// The signed-in user, re-read from the database so that a deactivated
/// account loses access at once.
pub async fn signed_in(state: &AppState, session: &Session) -> Result<Option<UserView>, AppError> {
    let id: Option<String> = session.get(USER_ID).await.map_err(|e| {
        tracing::error!(error = %e, "session store failed");
        AppError::Internal
    })?;
    let Some(id) = id else { return Ok(None) };
    // Past its absolute lifetime (or from before sign-in times were kept),
    // a session ends however recently it was used.
    let at: Option<i64> = session.get(SIGNED_IN_AT).await.map_err(store_failed)?;
    let Some(at) = at.filter(|at| crate::db::now_ms() - at <= MAX_SESSION_MS) else {
        session.flush().await.map_err(store_failed)?;
        return Ok(None);
    };
    // Signed in before the account's sessions were ended (a reset or
    // changed password, a deactivation): void.
    match users::find_for_session(&state.db, &id).await? {
        Some((user, after)) if at >= after => Ok(Some(user)),
        Some(_) => {
            session.flush().await.map_err(store_failed)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

pub async fn current_user(state: &AppState) -> Result<Option<UserView>, AppError> {
    signed_in(state, &session().await?).await
}

/// Every server function's first line: the state, and the signed-in person
/// if their role passes `allowed` (otherwise 401 or 403). `what` completes
/// "your role may not …".
pub async fn guard(
    allowed: fn(Role) -> bool,
    what: &str,
) -> Result<(AppState, UserView), AppError> {
    let state = crate::state::app_state()?;
    let user = require(&state, allowed, what).await?;
    Ok((state, user))
}

/// The signed-in user, if their role passes `allowed`; otherwise 401 or 403.
pub async fn require(
    state: &AppState,
    allowed: fn(Role) -> bool,
    what: &str,
) -> Result<UserView, AppError> {
    let user = current_user(state)
        .await?
        .ok_or_else(|| AppError::Unauthorized("sign in first".into()))?;
    if allowed(user.role) {
        Ok(user)
    } else {
        Err(AppError::Forbidden(format!(
            "your role ({}) may not {what}",
            user.role
        )))
    }
}

pub async fn sign_in(user: &UserView) -> Result<(), AppError> {
    let session = session().await?;
    // A new session id on sign-in defeats session fixation.
    session.cycle_id().await.map_err(store_failed)?;
    session
        .insert(USER_ID, &user.id)
        .await
        .map_err(store_failed)?;
    session
        .insert(SIGNED_IN_AT, crate::db::now_ms())
        .await
        .map_err(store_failed)?;
    Ok(())
}

pub async fn sign_out() -> Result<(), AppError> {
    session().await?.flush().await.map_err(store_failed)
}

fn store_failed(e: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %e, "session store failed");
    AppError::Internal
}
