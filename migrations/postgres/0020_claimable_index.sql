-- The expiry sweep looks for approvals an agent has yet to claim. The old
-- index held every approval ever given, propose-stage ones included (a
-- person carries those out; they stay `approved` for good), so the sweep,
-- run on every queue and request read, grew with history. This one holds
-- only approvals waiting to be claimed; `state` leads so that SQLite, with
-- no statistics, prefers it to `action_requests_state` (state, created_at).
DROP INDEX action_requests_claim_by;
CREATE INDEX action_requests_claimable ON action_requests (state, claim_by)
    WHERE state = 'approved' AND stage IN ('act_with_approval', 'scoped_autonomy');
