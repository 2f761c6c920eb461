-- Upgrades of stored data that run once, in Rust, at the first start of
-- the release that brings them; a row here means done.
CREATE TABLE data_upgrades (
    name    TEXT PRIMARY KEY,
    done_at BIGINT NOT NULL
);
