-- Sessions signed in before this moment no longer count: set when a person
-- is deactivated or reactivated, or their password is reset or changed, so
-- a stolen session cookie dies with the old password.
ALTER TABLE users ADD COLUMN sessions_after BIGINT NOT NULL DEFAULT 0;
