-- The submission writer sends a batch that needs nothing read as one query:
-- BEGIN IMMEDIATE, an insert into this view, the batch's writes, its audit
-- rows, COMMIT. It decided the batch on the policy it had cached and sealed
-- the audit rows after the head its last batch left; the insert checks,
-- under the write lock, that both are still current, and otherwise fails,
-- which stops the query before its COMMIT (the writer then rolls back and
-- decides the batch again). A view writes nothing; the trigger only checks.
-- SQLite only: on PostgreSQL a statement cannot carry BEGIN and COMMIT.
CREATE VIEW batch_guard AS SELECT 0 AS epoch, 0 AS chain_no, '' AS hash;
CREATE TRIGGER batch_guard_check INSTEAD OF INSERT ON batch_guard
WHEN NEW.epoch IS NOT (SELECT value FROM policy_epoch WHERE id = 1)
  OR NEW.chain_no IS NOT (SELECT chain_no FROM audit_head WHERE id = 1)
  OR NEW.hash IS NOT (SELECT hash FROM audit_head WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'belay: stale batch');
END;
