-- Belay schema, PostgreSQL flavour. Ids are text (UUIDv7), times are integer
-- milliseconds since the Unix epoch, JSON is stored as text.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'lead', 'reviewer', 'auditor')),
    active        BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL
);

CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    purpose    TEXT NOT NULL,
    sponsor_id TEXT NOT NULL REFERENCES users (id),
    status     TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    stage      TEXT NOT NULL CHECK (stage IN ('observe', 'draft', 'propose', 'act_with_approval', 'scoped_autonomy')),
    created_at BIGINT NOT NULL
);

CREATE TABLE agent_keys (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id),
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX agent_keys_agent ON agent_keys (agent_id);

CREATE TABLE capabilities (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    triggers    TEXT NOT NULL,
    reversible  BIGINT NOT NULL
);

CREATE TABLE action_requests (
    id             TEXT PRIMARY KEY,
    agent_id       TEXT NOT NULL REFERENCES agents (id),
    capability     TEXT NOT NULL,
    -- 0 when the catalog did not know the capability (treated as high risk)
    capability_known BIGINT NOT NULL,
    target         TEXT NOT NULL,
    summary        TEXT NOT NULL,
    params         TEXT NOT NULL,
    observation    TEXT,
    decision       TEXT NOT NULL CHECK (decision IN ('allowed', 'pending_approval', 'drafted', 'denied')),
    reasons        TEXT NOT NULL,
    triggers       TEXT NOT NULL,
    stage          TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('allowed', 'drafted', 'denied', 'pending_approval',
                                                  'approved', 'rejected', 'expired', 'cancelled',
                                                  'executing', 'succeeded', 'failed')),
    payload_hash   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    decided_at     BIGINT,
    decided_by     TEXT REFERENCES users (id),
    decision_note  TEXT,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX action_requests_state ON action_requests (state, created_at);
CREATE INDEX action_requests_agent ON action_requests (agent_id, created_at);

CREATE TABLE evidence (
    id         TEXT PRIMARY KEY,
    action_id  TEXT NOT NULL REFERENCES action_requests (id),
    kind       TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    content    BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX evidence_action ON evidence (action_id);

CREATE TABLE audit_events (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    at           BIGINT NOT NULL,
    actor_kind   TEXT NOT NULL CHECK (actor_kind IN ('user', 'agent', 'system')),
    actor_id     TEXT,
    what         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_events_subject ON audit_events (subject_kind, subject_id);
-- The starter capability catalog: realistic actions with their risk triggers.
INSERT INTO capabilities (name, description, triggers, reversible) VALUES
    ('docs.summarize', 'Summarize internal documents for a human reader', '', 1),
    ('tickets.comment', 'Add an internal comment to a support ticket', '', 1),
    ('crm.read_record', 'Read a customer record from the CRM', '', 1),
    ('crm.update_record', 'Update fields on a customer record in the CRM', 'production_write', 1),
    ('email.send', 'Send an email to a customer or partner', 'external_send,customer_visible', 0),
    ('billing.refund', 'Issue a refund to a customer', 'purchase,customer_visible', 0),
    ('billing.change_plan', 'Change a customer''s subscription plan', 'purchase,customer_visible,production_write', 1),
    ('records.delete', 'Permanently delete records', 'destructive,production_write', 0),
    ('access.grant', 'Grant a user access to an application', 'privileged_change', 1),
    ('deploy.release', 'Deploy a release to production', 'production_write,credential_use', 1),
    ('vendor.purchase_order', 'Place a purchase order with a vendor', 'purchase,external_send', 0);
