-- Reviewing, claiming and reporting: issue 4.

-- How risky a held request is, computed at decision time; the queue sorts by
-- it, then by age.
ALTER TABLE action_requests ADD COLUMN risk BIGINT NOT NULL DEFAULT 0;
-- What held it, as bits (one per reason, see RuleKey::bit), so the queue can
-- filter by reason from its index without reading rows.
ALTER TABLE action_requests ADD COLUMN held_mask BIGINT NOT NULL DEFAULT 0;
-- Params as a reviewer edited them (NULL: as submitted), and the difference,
-- recorded as a correction.
ALTER TABLE action_requests ADD COLUMN edited_params TEXT;
ALTER TABLE action_requests ADD COLUMN correction TEXT;
-- The payload hash the approval bound to; a claim must match it.
ALTER TABLE action_requests ADD COLUMN approved_hash TEXT;
UPDATE action_requests SET approved_hash = payload_hash WHERE state = 'approved';
ALTER TABLE action_requests ADD COLUMN claimed_at BIGINT;
ALTER TABLE action_requests ADD COLUMN outcome_at BIGINT;
ALTER TABLE action_requests ADD COLUMN outcome_detail TEXT;
ALTER TABLE action_requests ADD COLUMN incident BIGINT NOT NULL DEFAULT 0;

-- Evidence sent with a request (reviewed, hashed into the payload) or with
-- its outcome (after the fact).
ALTER TABLE evidence ADD COLUMN phase TEXT NOT NULL DEFAULT 'request';

-- An approval counts for the exact payload it saw: a change (new evidence,
-- another reviewer's edit) needs approving again, by distinct reviewers.
CREATE TABLE approvals_v2 (
    action_id    TEXT NOT NULL REFERENCES action_requests (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    payload_hash TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (action_id, user_id, payload_hash)
);
INSERT INTO approvals_v2 (action_id, user_id, payload_hash, at)
    SELECT p.action_id, p.user_id, r.payload_hash, p.at
    FROM approvals p JOIN action_requests r ON r.id = p.action_id;
DROP TABLE approvals;
ALTER TABLE approvals_v2 RENAME TO approvals;
CREATE INDEX approvals_user ON approvals (user_id, at);

-- Idempotency-Key on submit, per agent, kept at least a day.
CREATE TABLE idempotency_keys (
    agent_id     TEXT NOT NULL REFERENCES agents (id),
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    action_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (agent_id, idem_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- The queue: pending requests by risk, then age, with keyset pagination.
-- Partial indexes hold only what is waiting, however long the history.
CREATE INDEX action_requests_queue ON action_requests (risk DESC, created_at, id, held_mask, stage)
    WHERE state = 'pending_approval';
-- The expiry sweep (run on every queue read) finds what is due at once.
CREATE INDEX action_requests_due ON action_requests (expires_at)
    WHERE state = 'pending_approval';
CREATE INDEX action_requests_queue_agent ON action_requests (agent_id, risk DESC, created_at, id)
    WHERE state = 'pending_approval';
CREATE INDEX action_requests_queue_capability ON action_requests (capability, risk DESC, created_at, id)
    WHERE state = 'pending_approval';
-- "Decided by me" and the agent's record per capability.
CREATE INDEX action_requests_decided_by ON action_requests (decided_by, decided_at);
-- Covering, so the record is counted from the index alone.
CREATE INDEX action_requests_record ON action_requests (agent_id, capability, decision, state, correction);
