//! The worker that empties the Slack outbox: for each queued request it
//! posts the message (held, not yet posted) or updates it (it changed),
//! retrying with back-off. Rows are lease-claimed (`app::slack::outbox`),
//! so replicas share the work without posting twice. It wakes on the
//! change feed, and polls in case a notice was missed.

use super::{message, Slack};
use app::actions::model::RequestState;
use app::slack::outbox;
use app::slack::store::{self, Message};
use app::state::AppState;
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_secs(2);
/// Longer than one sync's Slack calls (10 s timeout each) can take.
const LEASE_MS: i64 = 60_000;
const BATCH: i64 = 16;

/// Back-off after the `attempts`-th failure: 2 s, 4 s, … up to 10 minutes.
fn retry_ms(attempts: i64) -> i64 {
    (2_000i64 << attempts.clamp(0, 9)).min(600_000)
}

pub async fn run(state: AppState, slack: Arc<Slack>) {
    let mut changes = state.changes.subscribe();
    loop {
        drain(&state, &slack).await;
        tokio::select! {
            // Lagged or not, something changed: look.
            _ = changes.recv() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn drain(state: &AppState, slack: &Slack) {
    loop {
        let rows = match outbox::claim_due(&state.db, BATCH, LEASE_MS).await {
            Ok(rows) if rows.is_empty() => return,
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the Slack outbox; trying again soon");
                return;
            }
        };
        for row in rows {
            let settled = match sync(state, slack, &row.action_id).await {
                Ok(()) => outbox::done(&state.db, &row).await,
                Err(why) => {
                    tracing::warn!(action_id = %row.action_id, attempts = row.attempts + 1, error = %why,
                        "cannot bring the Slack message up to date; retrying");
                    outbox::failed(&state.db, &row, retry_ms(row.attempts), &why).await
                }
            };
            if let Err(e) = settled {
                // The lease runs out and the row is taken again.
                tracing::warn!(action_id = %row.action_id, error = %e, "cannot settle a Slack outbox row");
            }
        }
    }
}

#[tracing::instrument(skip(state, slack))]
async fn sync(state: &AppState, slack: &Slack, id: &str) -> Result<(), String> {
    let db_error = |e: app::error::AppError| format!("database: {e}");
    let Some(request) = app::actions::store::load(&state.db, id)
        .await
        .map_err(db_error)?
    else {
        return Ok(());
    };
    let shown = message::fingerprint(&request);
    let text = message::text(&request);
    let blocks = message::blocks(&request, &slack.link(id));
    match store::message(&state.db, id).await.map_err(db_error)? {
        // Decided before it was ever posted: nothing to say.
        None if request.state != RequestState::PendingApproval => Ok(()),
        None => {
            let channel = store::channel_for(&state.db, &request.capability, &request.held_for)
                .await
                .map_err(db_error)?;
            let Some(channel) = channel else {
                tracing::debug!("no Slack channel routes this request");
                return Ok(());
            };
            let (channel, ts) = slack.api.post_message(&channel, &text, blocks).await?;
            let posted = Message { channel, ts, shown };
            store::posted(&state.db, id, &posted)
                .await
                .map_err(db_error)
        }
        Some(m) if m.shown == shown => Ok(()),
        Some(m) => {
            slack.api.update(&m.channel, &m.ts, &text, blocks).await?;
            store::updated(&state.db, id, &shown)
                .await
                .map_err(db_error)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn back_off_doubles_and_stops_at_ten_minutes() {
        assert_eq!(super::retry_ms(0), 2_000);
        assert_eq!(super::retry_ms(1), 4_000);
        assert_eq!(super::retry_ms(5), 64_000);
        assert_eq!(super::retry_ms(50), 600_000);
    }
}
