-- Background upkeep (expiry, rejection-spike checks, cleanup) runs once a
-- period across replicas: the replica whose conditional update moves
-- `last_run_at` on runs it, the others skip that period.
CREATE TABLE upkeep (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    last_run_at BIGINT NOT NULL
);

INSERT INTO upkeep (id, last_run_at) VALUES (1, 0);
