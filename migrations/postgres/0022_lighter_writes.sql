-- Fewer index entries per durable decision (see the SQLite migration of
-- the same number): the record index served only a check that counts the
-- record from the requests, and "decided by" and "in run" are asked only
-- of requests that have one.
DROP INDEX action_requests_record;
DROP INDEX action_requests_decided_by;
CREATE INDEX action_requests_decided_by ON action_requests (decided_by, decided_at)
    WHERE decided_by IS NOT NULL;
DROP INDEX action_requests_run;
CREATE INDEX action_requests_run ON action_requests (run_id, created_at)
    WHERE run_id IS NOT NULL;
