-- Trust stages, scopes and versioned policy rules.

-- One counter bumped by every change the decision reads (catalog, rules,
-- agents, grants), so each replica knows when to reload its index.
CREATE TABLE policy_epoch (
    id    BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO policy_epoch (id, value) VALUES (1, 1);

-- Every edit of the rules is a new version; the newest one is in force.
-- Version 1 (the built-in defaults) is written at start-up.
CREATE TABLE policy_versions (
    version    BIGINT PRIMARY KEY,
    rules      TEXT NOT NULL,
    note       TEXT NOT NULL,
    created_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE grants (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents (id),
    capability   TEXT NOT NULL,
    stage        TEXT CHECK (stage IN ('observe', 'draft', 'propose', 'act_with_approval', 'scoped_autonomy')),
    max_per_hour BIGINT,
    bounds       TEXT NOT NULL,
    targets      TEXT NOT NULL,
    expires_at   BIGINT,
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    UNIQUE (agent_id, capability)
);

-- Capabilities each agent has used (first approval), for the first-use checkpoint.
CREATE TABLE capability_uses (
    agent_id   TEXT NOT NULL REFERENCES agents (id),
    capability TEXT NOT NULL,
    first_at   BIGINT NOT NULL,
    PRIMARY KEY (agent_id, capability)
);

-- Distinct reviewers' approvals of one request.
CREATE TABLE approvals (
    action_id TEXT NOT NULL REFERENCES action_requests (id),
    user_id   TEXT NOT NULL REFERENCES users (id),
    at        BIGINT NOT NULL,
    PRIMARY KEY (action_id, user_id)
);

-- What held a request and the rules that did it.
ALTER TABLE action_requests ADD COLUMN held_for TEXT NOT NULL DEFAULT '';
ALTER TABLE action_requests ADD COLUMN rules TEXT NOT NULL DEFAULT '[]';
ALTER TABLE action_requests ADD COLUMN approvals_required BIGINT NOT NULL DEFAULT 1;
-- Hourly limits count an agent's recent requests per capability.
CREATE INDEX action_requests_recent ON action_requests (agent_id, capability, created_at);
