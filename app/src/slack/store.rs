//! The Slack tables: routes (set by admins, audited) and the message posted
//! for each request.

use super::Route;
use crate::audit::{self, Actor};
use crate::db::{now_ms, Db};
use crate::error::AppError;
use crate::policy::RuleKey;
use sqlx::Row;

/// Which requests a route takes, parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    Capability(String),
    HeldFor(RuleKey),
    Default,
}

impl RouteKey {
    pub fn parse(kind: &str, key: &str) -> Result<RouteKey, AppError> {
        let key = key.trim();
        match kind {
            "capability" => Ok(RouteKey::Capability(crate::text::field(
                "the capability",
                key,
                200,
            )?)),
            "held_for" => RuleKey::parse(key)
                .map(RouteKey::HeldFor)
                .map_err(AppError::Validation),
            "default" => Ok(RouteKey::Default),
            _ => Err(AppError::validation(
                "a route is for a capability, for what held a request (held_for), or the default",
            )),
        }
    }

    fn columns(&self) -> (&'static str, String) {
        match self {
            RouteKey::Capability(c) => ("capability", c.clone()),
            RouteKey::HeldFor(k) => ("held_for", k.as_str().to_string()),
            RouteKey::Default => ("default", String::new()),
        }
    }
}

/// A Slack channel id (`C0123ABC`) or name (`#approvals`).
pub fn parse_channel(raw: &str) -> Result<String, AppError> {
    let channel = raw.trim();
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '#' | '-' | '_' | '.');
    if channel.is_empty() || channel.len() > 80 || !channel.chars().all(fine) {
        return Err(AppError::validation(
            "a channel is a Slack channel id (C0123ABC) or name (#approvals)",
        ));
    }
    Ok(channel.to_string())
}

pub async fn routes(db: &Db) -> Result<Vec<Route>, AppError> {
    sqlx::query("SELECT kind, key, channel FROM slack_routes ORDER BY kind, key")
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| {
            Ok(Route {
                kind: r.try_get("kind")?,
                key: r.try_get("key")?,
                channel: r.try_get("channel")?,
            })
        })
        .collect()
}

pub async fn set_route(
    db: &Db,
    actor: &Actor,
    route: &RouteKey,
    channel: &str,
) -> Result<(), AppError> {
    let (kind, key) = route.columns();
    let mut tx = crate::db::begin_write(db).await?;
    let before: Option<String> =
        sqlx::query("SELECT channel FROM slack_routes WHERE kind = $1 AND key = $2")
            .bind(kind)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("channel"))
            .transpose()?;
    sqlx::query(
        "INSERT INTO slack_routes (kind, key, channel) VALUES ($1, $2, $3) \
         ON CONFLICT (kind, key) DO UPDATE SET channel = $3",
    )
    .bind(kind)
    .bind(&key)
    .bind(channel)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor,
            what: "slack.route_set",
            subject_kind: "slack_route",
            subject_id: &format!("{kind}:{key}"),
            detail: serde_json::json!({ "before": { "channel": before }, "after": { "channel": channel } }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove_route(db: &Db, actor: &Actor, route: &RouteKey) -> Result<(), AppError> {
    let (kind, key) = route.columns();
    let mut tx = crate::db::begin_write(db).await?;
    let before: Option<String> =
        sqlx::query("SELECT channel FROM slack_routes WHERE kind = $1 AND key = $2")
            .bind(kind)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("channel"))
            .transpose()?;
    let Some(before) = before else {
        return Err(AppError::NotFound("there is no such route".into()));
    };
    sqlx::query("DELETE FROM slack_routes WHERE kind = $1 AND key = $2")
        .bind(kind)
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor,
            what: "slack.route_removed",
            subject_kind: "slack_route",
            subject_id: &format!("{kind}:{key}"),
            detail: serde_json::json!({ "before": { "channel": before }, "after": null }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The channel for a request: its capability's route, else the route of
/// the riskiest reason it was held for, else the default; `None` when no
/// route applies (then it is not posted).
pub async fn channel_for(
    db: &Db,
    capability: &str,
    held_for: &[RuleKey],
) -> Result<Option<String>, AppError> {
    let routes = routes(db).await?;
    let find = |kind: &str, key: &str| {
        routes
            .iter()
            .find(|r| r.kind == kind && r.key == key)
            .map(|r| r.channel.clone())
    };
    if let Some(c) = find("capability", capability) {
        return Ok(Some(c));
    }
    let mut held: Vec<RuleKey> = held_for.to_vec();
    held.sort_by_key(|k| std::cmp::Reverse(k.risk_weight()));
    if let Some(c) = held.iter().find_map(|k| find("held_for", k.as_str())) {
        return Ok(Some(c));
    }
    Ok(find("default", ""))
}

/// The message posted for a request.
#[derive(Debug, Clone)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    /// What it last showed (`message.rs`' fingerprint): unchanged, no update.
    pub shown: String,
}

pub async fn message(db: &Db, action_id: &str) -> Result<Option<Message>, AppError> {
    sqlx::query("SELECT channel, ts, shown FROM slack_messages WHERE action_id = $1")
        .bind(action_id)
        .fetch_optional(db)
        .await?
        .map(|r| {
            Ok(Message {
                channel: r.try_get("channel")?,
                ts: r.try_get("ts")?,
                shown: r.try_get("shown")?,
            })
        })
        .transpose()
}

pub async fn posted(db: &Db, action_id: &str, m: &Message) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO slack_messages (action_id, channel, ts, shown, posted_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (action_id) DO UPDATE SET channel = $2, ts = $3, shown = $4",
    )
    .bind(action_id)
    .bind(&m.channel)
    .bind(&m.ts)
    .bind(&m.shown)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

pub async fn updated(db: &Db, action_id: &str, shown: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE slack_messages SET shown = $1 WHERE action_id = $2")
        .bind(shown)
        .bind(action_id)
        .execute(db)
        .await?;
    Ok(())
}
