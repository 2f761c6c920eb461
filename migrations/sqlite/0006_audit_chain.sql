-- A tamper-evident audit trail: each event carries its place in one chain
-- per database and the hash of the event before it; `audit_head` is the
-- chain's end, locked by every transaction that appends (one at a time).
-- Events written before this are sealed into the chain, in order, when
-- Belay next starts.
ALTER TABLE audit_events ADD COLUMN chain_no BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_events_chain ON audit_events (chain_no);

CREATE TABLE audit_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    chain_no BIGINT NOT NULL,
    hash     TEXT NOT NULL
);
INSERT INTO audit_head (id, chain_no, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
