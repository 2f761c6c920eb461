-- Runs: one task of an agent, from prompt to final action, followed as one
-- timeline. The agent names a run (`run_key`, unique per agent, so one
-- agent's run never mixes with another's); `id` is Belay's, derived from
-- the agent and the name, so a submission knows it without a look-up.
-- A run's row is made by its first event or its first action.
CREATE TABLE runs (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id),
    run_key    TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    UNIQUE (agent_id, run_key)
);
CREATE INDEX runs_agent ON runs (agent_id, last_at);

-- What the agent reported along the way. `body` is text, or JSON for
-- extracted_data; it is shown as text, never as HTML. An escalation waits
-- (`state` open) until a reviewer answers it; the agent reads the answer.
CREATE TABLE run_events (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    kind        TEXT NOT NULL CHECK (kind IN ('prompt', 'plan', 'page_visited', 'extracted_data',
                                              'note', 'error', 'escalation')),
    body        TEXT NOT NULL,
    url         TEXT,
    size_bytes  BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    state       TEXT CHECK (state IN ('open', 'answered')),
    answer      TEXT,
    answered_by TEXT REFERENCES users (id),
    answered_at BIGINT
);
CREATE INDEX run_events_run ON run_events (run_id, at);
CREATE INDEX run_events_state ON run_events (state, at);

ALTER TABLE action_requests ADD COLUMN run_id TEXT REFERENCES runs (id);
CREATE INDEX action_requests_run ON action_requests (run_id, created_at);
