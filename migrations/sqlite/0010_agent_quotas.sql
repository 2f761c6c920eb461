-- Per-agent quotas: NULL means the server's default (see `belay serve
-- --help`). A lead or admin sets them on the agent's page or with
-- `belay agent quota`.
ALTER TABLE agents ADD COLUMN quota_submissions_per_minute BIGINT;
ALTER TABLE agents ADD COLUMN quota_pending BIGINT;
ALTER TABLE agents ADD COLUMN quota_evidence_bytes_per_day BIGINT;
ALTER TABLE agents ADD COLUMN quota_long_polls BIGINT;

-- Evidence bytes each agent stored per UTC day (day = ms since the epoch
-- / 86 400 000), so the daily evidence quota is one row to read.
CREATE TABLE evidence_usage (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    day      BIGINT NOT NULL,
    bytes    BIGINT NOT NULL,
    PRIMARY KEY (agent_id, day)
);
INSERT INTO evidence_usage (agent_id, day, bytes)
SELECT r.agent_id, e.created_at / 86400000, SUM(e.size_bytes)
FROM evidence e JOIN action_requests r ON r.id = e.action_id
GROUP BY r.agent_id, e.created_at / 86400000;
