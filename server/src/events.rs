//! `GET /approvals/events`: server-sent events for the live approval queue.
//! Each event carries the id of a request that was submitted for approval
//! or changed state; the page re-reads its list. Sign-in is checked by the
//! page middleware like any page, and again every few seconds while the
//! stream is open: signing out, a deactivation or a password reset ends it.

use app::state::AppState;
use axum::extract::{Extension, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tower_sessions::session::Id;
use tower_sessions::Session;

/// How often an open stream checks that its session still stands.
const RECHECK: Duration = Duration::from_secs(5);

/// Reads a session afresh from the store (the request's `Session` caches
/// what it read when the stream opened).
#[derive(Clone)]
pub struct Sessions(Arc<dyn Fn(Id) -> Session + Send + Sync>);

impl Sessions {
    pub fn new<S: tower_sessions::SessionStore + Clone>(store: S) -> Self {
        let store = Arc::new(store);
        Sessions(Arc::new(move |id| {
            Session::new(Some(id), store.clone(), None)
        }))
    }
}

struct Open {
    changes: broadcast::Receiver<String>,
    recheck: tokio::time::Interval,
    state: AppState,
    sessions: Sessions,
    id: Option<Id>,
}

pub async fn queue_events(
    State(state): State<AppState>,
    Extension(sessions): Extension<Sessions>,
    session: Session,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.reset();
    let open = Open {
        changes: state.changes.subscribe(),
        recheck,
        state,
        sessions,
        id: session.id(),
    };
    let events = stream::unfold(open, |mut open| async move {
        loop {
            tokio::select! {
                change = open.changes.recv() => {
                    let event = match change {
                        Ok(id) => Event::default().data(id),
                        // A slow reader missed some: one event makes it re-read anyway.
                        Err(RecvError::Lagged(_)) => Event::default().data("lagged"),
                        Err(RecvError::Closed) => return None,
                    };
                    return Some((Ok(event), open));
                }
                _ = open.recheck.tick() => {
                    if !still_signed_in(&open).await {
                        return None;
                    }
                }
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Whether the session the stream opened with is still signed in; a
/// failure to tell ends the stream too (the page reconnects and is asked
/// to sign in if it must).
async fn still_signed_in(open: &Open) -> bool {
    let Some(id) = open.id else { return false };
    let fresh = (open.sessions.0)(id);
    matches!(
        app::auth::session::signed_in(&open.state, &fresh).await,
        Ok(Some(_))
    )
}
