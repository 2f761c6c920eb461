//! The word a held call sends its client before it waits. Calls that go
//! through at once are answered as plain JSON (cheaper to send and to read
//! than an event stream); a notification before the answer turns it into
//! an SSE stream, whose keep-alive comments (every 15 s) keep a proxy from
//! closing the held call as idle. It also tells the person at the client
//! why nothing happens yet.
//!
//! Without a progress token the notice is a log message. MCP logging is
//! deprecated by a protocol revision (SEP-2577) that today's clients do not
//! speak yet; they read log messages, and any notification switches the
//! answer to a stream, so it stays until rmcp drops it.
#![allow(deprecated)]

use rmcp::model::ProgressToken;
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam};
use rmcp::{Peer, RoleServer};

/// Where to send it: the call's client, and its progress token if it gave one.
pub struct Hold {
    pub peer: Peer<RoleServer>,
    pub progress: Option<ProgressToken>,
}

impl Hold {
    /// Progress when the client asked for it (clients show it beside the
    /// call), else a log message; a client that is gone is not an error.
    pub async fn notify(&self, message: String) {
        let sent = match self.progress.clone() {
            Some(token) => {
                let progress = ProgressNotificationParam::new(token, 0.0).with_message(message);
                self.peer.notify_progress(progress).await
            }
            None => {
                let data = serde_json::Value::String(message);
                let log = LoggingMessageNotificationParam::new(LoggingLevel::Info, data)
                    .with_logger("belay");
                self.peer.notify_logging_message(log).await
            }
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "the hold notice was not sent");
        }
    }
}
