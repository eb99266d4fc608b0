-- An IAM's user-info endpoint: its URI (NULL: none), basic-auth username, and password sealed
-- under the service's secret key (src/secrets.rs: bound to this table, the row's id, the
-- column and the key's version), never stored in clear.
ALTER TABLE iams ADD COLUMN endpoint_uri TEXT;
ALTER TABLE iams ADD COLUMN basic_auth_username TEXT NOT NULL DEFAULT '';
ALTER TABLE iams ADD COLUMN basic_auth_password BLOB;

-- Where each platform's external username comes from in the user-info answer.
CREATE TABLE iam_profile_schema (
    iam_id    TEXT NOT NULL REFERENCES iams (id) ON DELETE CASCADE,
    platform  TEXT NOT NULL,
    attribute TEXT NOT NULL,
    PRIMARY KEY (iam_id, platform)
);
