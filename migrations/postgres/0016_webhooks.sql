-- Signed webhooks (Standard Webhooks): endpoints admins register, and an
-- outbox of deliveries written in the same transaction as the audited
-- event they carry, so a crash loses none and a rollback sends none.
CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    description TEXT NOT NULL,
    -- The event types it receives, comma-separated (`action.held,...`).
    event_types TEXT NOT NULL,
    -- `whsec_<base64>`: kept as is because signing needs it (see
    -- app/src/webhooks/store.rs); shown once, never logged.
    secret      TEXT NOT NULL,
    enabled     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- One message per event and endpoint: its id is the `webhook-id` of every
-- attempt, and its body is fixed when it is written.
CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    endpoint_id  TEXT NOT NULL REFERENCES webhook_endpoints (id),
    -- The audit event it carries.
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    -- pending, delivered or failed.
    state        TEXT NOT NULL,
    -- Attempts since it was written or last re-sent.
    tries        BIGINT NOT NULL,
    next_at      BIGINT NOT NULL,
    -- A worker sending it holds it until then (its attempt's timeout and
    -- some); a worker that died mid-send leaves it to the next one.
    lease_until  BIGINT NOT NULL,
    lease        TEXT,
    last_status  BIGINT,
    UNIQUE (endpoint_id, event_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id),
    at           BIGINT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    -- The HTTP status, if the endpoint answered.
    status       BIGINT,
    -- The first bytes of the answer, as text.
    response     TEXT NOT NULL,
    -- Why no answer came (timeout, refused connection, ...).
    error        TEXT
);

CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);
