-- How long calling an IAM's user-info endpoint may take, in milliseconds: connecting, and the
-- whole request with its answer.
ALTER TABLE iams ADD COLUMN connect_timeout_ms bigint NOT NULL DEFAULT 2000;
ALTER TABLE iams ADD COLUMN request_timeout_ms bigint NOT NULL DEFAULT 5000;
