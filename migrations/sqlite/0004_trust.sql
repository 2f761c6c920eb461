-- Earning and losing trust: issue 5.

-- Counts per agent, capability and period, kept in the same transaction as
-- each change (one multi-row statement per batch), so metrics over any
-- window read a few hundred rows however long the history. grain 0: `at` is
-- a UTC day (created_at / 86400000); grain 1: `at` is a calendar week,
-- Monday first ((day + 3) / 7), so a 90-day window reads 13 weekly rows and
-- a few days. Every counter belongs to the period the request was made in.
CREATE TABLE action_rollups (
    agent_id   TEXT NOT NULL,
    grain      BIGINT NOT NULL CHECK (grain IN (0, 1)),
    at         BIGINT NOT NULL,
    capability TEXT NOT NULL,
    submitted BIGINT NOT NULL DEFAULT 0,
    allowed BIGINT NOT NULL DEFAULT 0,
    held BIGINT NOT NULL DEFAULT 0,
    drafted BIGINT NOT NULL DEFAULT 0,
    denied BIGINT NOT NULL DEFAULT 0,
    approved BIGINT NOT NULL DEFAULT 0,
    corrected BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    expired BIGINT NOT NULL DEFAULT 0,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    incidents BIGINT NOT NULL DEFAULT 0,
    wait_0 BIGINT NOT NULL DEFAULT 0,
    wait_1 BIGINT NOT NULL DEFAULT 0,
    wait_2 BIGINT NOT NULL DEFAULT 0,
    wait_3 BIGINT NOT NULL DEFAULT 0,
    wait_4 BIGINT NOT NULL DEFAULT 0,
    wait_5 BIGINT NOT NULL DEFAULT 0,
    wait_6 BIGINT NOT NULL DEFAULT 0,
    wait_7 BIGINT NOT NULL DEFAULT 0,
    wait_8 BIGINT NOT NULL DEFAULT 0,
    wait_9 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, grain, at, capability)
);
-- Human decisions by how long they took (wait_0 … wait_9): bounds in
-- app/src/trust/rollup.rs.

-- Who decided, per agent, capability and day: distinct reviewers cannot be
-- summed from counts.
CREATE TABLE reviewer_rollups (
    agent_id   TEXT NOT NULL,
    day        BIGINT NOT NULL,
    capability TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    decisions  BIGINT NOT NULL,
    PRIMARY KEY (agent_id, day, capability, user_id)
);

-- Existing history, counted once.
INSERT INTO action_rollups (agent_id, grain, at, capability, submitted, allowed, held, drafted, denied,
        approved, corrected, rejected, expired, succeeded, failed, incidents,
        wait_0, wait_1, wait_2, wait_3, wait_4, wait_5, wait_6, wait_7, wait_8, wait_9)
SELECT agent_id, 0, created_at / 86400000, capability,
    COUNT(*),
    SUM(CASE WHEN decision = 'allowed' THEN 1 ELSE 0 END),
    SUM(CASE WHEN decision = 'pending_approval' THEN 1 ELSE 0 END),
    SUM(CASE WHEN decision = 'drafted' THEN 1 ELSE 0 END),
    SUM(CASE WHEN decision = 'denied' THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND state <> 'rejected' THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND state <> 'rejected' AND correction IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN state = 'rejected' THEN 1 ELSE 0 END),
    SUM(CASE WHEN state = 'expired' THEN 1 ELSE 0 END),
    SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END),
    SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END),
    SUM(CASE WHEN incident <> 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at < 60000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 60000 AND decided_at - created_at < 300000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 300000 AND decided_at - created_at < 900000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 900000 AND decided_at - created_at < 1800000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 1800000 AND decided_at - created_at < 3600000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 3600000 AND decided_at - created_at < 14400000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 14400000 AND decided_at - created_at < 28800000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 28800000 AND decided_at - created_at < 86400000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 86400000 AND decided_at - created_at < 259200000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN decided_by IS NOT NULL AND decided_at - created_at >= 259200000 THEN 1 ELSE 0 END)
FROM action_requests
GROUP BY agent_id, created_at / 86400000, capability;

INSERT INTO action_rollups (agent_id, grain, at, capability, submitted, allowed, held, drafted, denied, approved, corrected, rejected, expired, succeeded, failed, incidents, wait_0, wait_1, wait_2, wait_3, wait_4, wait_5, wait_6, wait_7, wait_8, wait_9)
SELECT agent_id, 1, (at + 3) / 7, capability, SUM(submitted), SUM(allowed), SUM(held), SUM(drafted), SUM(denied), SUM(approved), SUM(corrected), SUM(rejected), SUM(expired), SUM(succeeded), SUM(failed), SUM(incidents), SUM(wait_0), SUM(wait_1), SUM(wait_2), SUM(wait_3), SUM(wait_4), SUM(wait_5), SUM(wait_6), SUM(wait_7), SUM(wait_8), SUM(wait_9)
FROM action_rollups WHERE grain = 0 GROUP BY agent_id, (at + 3) / 7, capability;

INSERT INTO reviewer_rollups (agent_id, day, capability, user_id, decisions)
SELECT agent_id, day, capability, user_id, COUNT(*) FROM (
    SELECT r.agent_id, r.created_at / 86400000 AS day, r.capability, p.user_id
    FROM approvals p JOIN action_requests r ON r.id = p.action_id
    UNION ALL
    SELECT agent_id, created_at / 86400000, capability, decided_by
    FROM action_requests WHERE state = 'rejected' AND decided_by IS NOT NULL
) votes
GROUP BY agent_id, day, capability, user_id;

-- Every change of trust, for the timeline and "time at the current stage".
-- capability NULL: the agent's own stage; otherwise one capability's.
CREATE TABLE stage_changes (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id),
    capability TEXT,
    kind       TEXT NOT NULL CHECK (kind IN ('registered', 'promoted', 'demoted', 'suspended', 'reinstated',
                                             'incident', 'rejection_spike')),
    from_stage TEXT,
    to_stage   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    actor_id   TEXT REFERENCES users (id),
    review_id  TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX stage_changes_agent ON stage_changes (agent_id, at);
INSERT INTO stage_changes (id, agent_id, capability, kind, from_stage, to_stage, reason, at)
    SELECT 'registered-' || id, id, NULL, 'registered', NULL, stage, 'registered', created_at FROM agents;
-- Trust lowered before this version starts the clock at the current stage
-- again (failing closed on "days at the current stage"); the audit log has
-- the details.
INSERT INTO stage_changes (id, agent_id, capability, kind, from_stage, to_stage, reason, at)
    SELECT 'upgraded-' || a.id, a.id, NULL, 'demoted', NULL, a.stage,
           'trust was lowered before metrics were kept; see the audit log', MAX(e.at)
    FROM agents a JOIN audit_events e ON e.subject_kind = 'agent' AND e.subject_id = a.id
    WHERE e.what IN ('agent.demoted', 'agent.suspended', 'scope.demoted')
    GROUP BY a.id, a.stage;

-- Rejection-spike checks still to run: queued in the rejecting transaction,
-- run right after it and, should that fail, by the background sweep.
CREATE TABLE trust_checks (
    agent_id   TEXT NOT NULL,
    capability TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (agent_id, capability)
);

-- Readiness criteria per target stage, and how many other leads approve.
CREATE TABLE readiness_criteria (
    stage             TEXT PRIMARY KEY CHECK (stage IN ('draft', 'propose', 'act_with_approval', 'scoped_autonomy')),
    min_decisions     BIGINT NOT NULL,
    min_approved_pct  BIGINT NOT NULL,
    max_corrected_pct BIGINT NOT NULL,
    max_incidents     BIGINT NOT NULL,
    min_reviewers     BIGINT NOT NULL,
    min_days_at_stage BIGINT NOT NULL,
    approvals_needed  BIGINT NOT NULL,
    updated_by        TEXT REFERENCES users (id),
    updated_at        BIGINT NOT NULL
);
INSERT INTO readiness_criteria VALUES ('draft', 0, 0, 100, 0, 0, 7, 1, NULL, 0);
INSERT INTO readiness_criteria VALUES ('propose', 0, 0, 100, 0, 0, 7, 1, NULL, 0);
INSERT INTO readiness_criteria VALUES ('act_with_approval', 50, 95, 5, 0, 3, 14, 1, NULL, 0);
INSERT INTO readiness_criteria VALUES ('scoped_autonomy', 50, 95, 5, 0, 3, 14, 2, NULL, 0);

-- The sensor's other settings: the rejection spike (spike_rejections of the
-- last spike_window human decisions) and the share of auto-allowed actions
-- sampled for spot checks.
CREATE TABLE trust_settings (
    id               BIGINT PRIMARY KEY,
    spike_rejections BIGINT NOT NULL,
    spike_window     BIGINT NOT NULL,
    spot_check_pct   BIGINT NOT NULL,
    updated_by       TEXT REFERENCES users (id),
    updated_at       BIGINT NOT NULL
);
INSERT INTO trust_settings VALUES (1, 3, 10, 5, NULL, 0);

-- Promotion reviews. The snapshot (metrics, criteria, what-if) is frozen
-- when the review opens and never changes.
CREATE TABLE promotion_reviews (
    id               TEXT PRIMARY KEY,
    agent_id         TEXT NOT NULL REFERENCES agents (id),
    -- JSON array; empty: the agent's own stage.
    capabilities     TEXT NOT NULL,
    from_stage       TEXT NOT NULL,
    to_stage         TEXT NOT NULL,
    reinstate        BIGINT NOT NULL,
    max_per_hour     BIGINT,
    case_text        TEXT NOT NULL,
    snapshot         TEXT NOT NULL,
    criteria_met     BIGINT NOT NULL,
    skips_stages     BIGINT NOT NULL,
    approvals_needed BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('open', 'approved', 'rejected', 'withdrawn')),
    opened_by        TEXT NOT NULL REFERENCES users (id),
    opened_at        BIGINT NOT NULL,
    closed_at        BIGINT
);
CREATE INDEX promotion_reviews_agent ON promotion_reviews (agent_id, opened_at);
CREATE INDEX promotion_reviews_state ON promotion_reviews (state, opened_at);
-- One open review per agent, however many leads open one at once.
CREATE UNIQUE INDEX promotion_reviews_one_open ON promotion_reviews (agent_id) WHERE state = 'open';

CREATE TABLE promotion_votes (
    review_id       TEXT NOT NULL REFERENCES promotion_reviews (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    verdict         TEXT NOT NULL CHECK (verdict IN ('approve', 'reject')),
    reason          TEXT NOT NULL,
    override_reason TEXT,
    at              BIGINT NOT NULL,
    PRIMARY KEY (review_id, user_id)
);

-- What leads must hear about: automatic demotions, spot-check problems.
CREATE TABLE notices (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    agent_id   TEXT NOT NULL REFERENCES agents (id),
    capability TEXT,
    message    TEXT NOT NULL,
    cleared_by TEXT REFERENCES users (id),
    cleared_at BIGINT
);
CREATE INDEX notices_open ON notices (at) WHERE cleared_at IS NULL;

-- Spot checks: NULL, or 'pending' / 'fine' / 'problem'.
ALTER TABLE action_requests ADD COLUMN spot_check TEXT;
ALTER TABLE action_requests ADD COLUMN spot_checked_by TEXT REFERENCES users (id);
ALTER TABLE action_requests ADD COLUMN spot_checked_at BIGINT;
ALTER TABLE action_requests ADD COLUMN spot_check_note TEXT;
CREATE INDEX action_requests_spot_checks ON action_requests (created_at) WHERE spot_check = 'pending';
