-- The URIs (SPIFFE IDs and the like) a client certificate may carry to authenticate as a service
-- account. A URI names one account, so it is the key.
CREATE TABLE user_certificate_uris (
    uri     TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX user_certificate_uris_by_user ON user_certificate_uris (user_id);
