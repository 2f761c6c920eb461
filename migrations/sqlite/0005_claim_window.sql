-- Approvals go stale: an approved request the agent carries out (decided at
-- act_with_approval or above) must be claimed by `claim_by`, set at the
-- final approval from the rules that held it, else it expires. At propose a
-- person carries it out, nothing is claimed, and `claim_by` stays empty.
ALTER TABLE action_requests ADD COLUMN claim_by BIGINT;

-- Approvals given before windows existed get the default hour from their
-- decision: those older than that expire at the next sweep (fail closed).
UPDATE action_requests SET claim_by = decided_at + 3600000
 WHERE state = 'approved' AND claim_by IS NULL
   AND stage IN ('act_with_approval', 'scoped_autonomy');

CREATE INDEX action_requests_claim_by ON action_requests (claim_by) WHERE state = 'approved';
