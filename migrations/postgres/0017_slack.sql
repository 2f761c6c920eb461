-- Slack approvals. The signing secret and bot token are never stored here
-- (flags read them from the environment or a file).

-- A Belay person's Slack user, linked by the person (a one-time code made
-- on /account and typed into Slack's `/belay link`): one each way.
CREATE TABLE slack_links (
    team_id       TEXT NOT NULL,
    slack_user_id TEXT NOT NULL,
    user_id       TEXT NOT NULL UNIQUE REFERENCES users (id),
    linked_at     BIGINT NOT NULL,
    PRIMARY KEY (team_id, slack_user_id)
);

-- Link codes waiting to be typed into Slack: SHA-256 of the code, one per
-- person, short-lived.
CREATE TABLE slack_link_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL UNIQUE REFERENCES users (id),
    expires_at BIGINT NOT NULL
);

-- Where held requests are posted: by capability, else by what held them
-- (a rule key such as `destructive`), else the default (key '').
CREATE TABLE slack_routes (
    kind    TEXT NOT NULL CHECK (kind IN ('capability', 'held_for', 'default')),
    key     TEXT NOT NULL,
    channel TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);

-- Requests whose Slack message must be posted or brought up to date,
-- written in the transaction of the change (app/src/audit). `seq` moves on
-- every change, so a worker only removes the row it synced; `lease_until`
-- keeps two replicas off the same row.
CREATE TABLE slack_outbox (
    action_id   TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    due_at      BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    attempts    BIGINT NOT NULL,
    last_error  TEXT
);
CREATE INDEX slack_outbox_due ON slack_outbox (due_at);

-- The message posted for a request, and what it last showed.
CREATE TABLE slack_messages (
    action_id TEXT PRIMARY KEY REFERENCES action_requests (id),
    channel   TEXT NOT NULL,
    ts        TEXT NOT NULL,
    shown     TEXT NOT NULL,
    posted_at BIGINT NOT NULL
);
