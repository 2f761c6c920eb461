//! `GET /approvals/events`: server-sent events for the live approval queue.
//! Each event carries the id of a request that was submitted for approval
//! or changed state; the page re-reads its list. Sign-in is checked by the
//! page middleware like any page.

use app::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

pub async fn queue_events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.changes.subscribe();
    let events = stream::unfold(changes, |mut changes| async move {
        let event = match changes.recv().await {
            Ok(id) => Event::default().data(id),
            // A slow reader missed some: one event makes it re-read anyway.
            Err(RecvError::Lagged(_)) => Event::default().data("lagged"),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), changes))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
