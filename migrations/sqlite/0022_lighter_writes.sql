-- Every durable decision writes each B-tree page it touches to the WAL in
-- full (4 KiB for one index entry), and on a disk that syncs by the byte
-- those pages are most of a commit's time. Each submission touched 17.
--
-- The record index served only a check that counts the record from the
-- requests (the request page reads the rollups): gone. "Decided by" and
-- "in run" are asked only of requests that have one, so their indexes now
-- hold only those: an automatic decision touches neither.
DROP INDEX action_requests_record;
DROP INDEX action_requests_decided_by;
CREATE INDEX action_requests_decided_by ON action_requests (decided_by, decided_at)
    WHERE decided_by IS NOT NULL;
DROP INDEX action_requests_run;
CREATE INDEX action_requests_run ON action_requests (run_id, created_at)
    WHERE run_id IS NOT NULL;

-- AUTOINCREMENT kept a counter row in sqlite_sequence that every audit row
-- rewrote. Audit rows are never deleted, so a plain INTEGER PRIMARY KEY
-- numbers them the same way (the next after the largest). A table's key
-- cannot be altered in place: it is copied, in the migration's transaction.
CREATE TABLE audit_events_new (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    at           BIGINT NOT NULL,
    actor_kind   TEXT NOT NULL CHECK (actor_kind IN ('user', 'agent', 'system')),
    actor_id     TEXT,
    what         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    detail       TEXT NOT NULL,
    chain_no     BIGINT,
    prev_hash    TEXT,
    hash         TEXT
);
INSERT INTO audit_events_new
    (seq, id, at, actor_kind, actor_id, what, subject_kind, subject_id, detail, chain_no, prev_hash, hash)
SELECT seq, id, at, actor_kind, actor_id, what, subject_kind, subject_id, detail, chain_no, prev_hash, hash
FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_subject ON audit_events (subject_kind, subject_id);
CREATE UNIQUE INDEX audit_events_chain ON audit_events (chain_no);
DELETE FROM sqlite_sequence WHERE name = 'audit_events';
