-- Change requests: every rise in trust (a promotion, an agent registered
-- above propose, a wider grant, a catalog entry with fewer triggers, a
-- relaxed policy, lower readiness criteria) waits here for a second lead.
-- `before_value` is the exact state it was proposed against: approval
-- applies `after_value` only if the thing still is as it was (else 409).
CREATE TABLE change_requests (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    -- The agent it concerns, if any: its sponsor may not approve.
    agent_id         TEXT REFERENCES agents (id),
    -- What it changes: a capability, a stage, 'policy', or '' for the agent.
    subject          TEXT NOT NULL,
    before_value     TEXT,
    after_value      TEXT NOT NULL,
    -- JSON array: how it raises trust, in words.
    rises            TEXT NOT NULL,
    reason           TEXT NOT NULL,
    -- JSON: what the kind freezes for the deciders (a promotion's metrics).
    detail           TEXT,
    approvals_needed BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('open', 'approved', 'rejected', 'withdrawn', 'stale')),
    opened_by        TEXT NOT NULL REFERENCES users (id),
    opened_at        BIGINT NOT NULL,
    closed_at        BIGINT
);
CREATE INDEX change_requests_agent ON change_requests (agent_id, opened_at);
CREATE INDEX change_requests_state ON change_requests (state, opened_at);
-- One open promotion per agent, however many leads open one at once.
CREATE UNIQUE INDEX change_requests_one_promotion ON change_requests (agent_id)
    WHERE state = 'open' AND kind = 'promotion';

CREATE TABLE change_votes (
    change_id       TEXT NOT NULL REFERENCES change_requests (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    verdict         TEXT NOT NULL CHECK (verdict IN ('approve', 'reject')),
    reason          TEXT NOT NULL,
    override_reason TEXT,
    at              BIGINT NOT NULL,
    PRIMARY KEY (change_id, user_id)
);

-- Promotion reviews become change requests of kind 'promotion'.
INSERT INTO change_requests (id, kind, agent_id, subject, before_value, after_value, rises, reason,
                             detail, approvals_needed, state, opened_by, opened_at, closed_at)
SELECT id, 'promotion', agent_id, '',
       json_object('stage', from_stage, 'suspended', json(CASE WHEN reinstate = 1 THEN 'true' ELSE 'false' END)),
       json_object('capabilities', json(capabilities), 'from', from_stage, 'to', to_stage,
                   'reinstate', json(CASE WHEN reinstate = 1 THEN 'true' ELSE 'false' END),
                   'max_per_hour', max_per_hour),
       json_array(from_stage || ' → ' || to_stage), case_text,
       json_object('snapshot', json(snapshot),
                   'criteria_met', json(CASE WHEN criteria_met = 1 THEN 'true' ELSE 'false' END),
                   'skips_stages', json(CASE WHEN skips_stages = 1 THEN 'true' ELSE 'false' END)),
       approvals_needed, state, opened_by, opened_at, closed_at
FROM promotion_reviews;
INSERT INTO change_votes (change_id, user_id, verdict, reason, override_reason, at)
SELECT review_id, user_id, verdict, reason, override_reason, at FROM promotion_votes;
DROP TABLE promotion_votes;
DROP TABLE promotion_reviews;

-- A single-lead installation lets one person make such changes; every
-- page then says so, and each such change records it.
ALTER TABLE trust_settings ADD COLUMN one_person_changes BIGINT NOT NULL DEFAULT 0;
