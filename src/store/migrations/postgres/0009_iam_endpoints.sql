-- An IAM's user-info endpoint: its URI (NULL: none), basic-auth username, and password sealed
-- under the service's secret key (src/secrets.rs: bound to this table, the row's id, the
-- column and the key's version), never stored in clear.
ALTER TABLE iams ADD COLUMN endpoint_uri text;
ALTER TABLE iams ADD COLUMN basic_auth_username text NOT NULL DEFAULT '';
ALTER TABLE iams ADD COLUMN basic_auth_password bytea;
-- TLS toward the endpoint: CA certificates to trust instead of the system's roots, and the
-- client certificate with its key (sealed like the password), all PEM, checked when saved.
ALTER TABLE iams ADD COLUMN tls_ca_cert_pem text NOT NULL DEFAULT '';
ALTER TABLE iams ADD COLUMN tls_client_cert_pem text NOT NULL DEFAULT '';
ALTER TABLE iams ADD COLUMN tls_client_key bytea;

-- Where each platform's external username comes from in the user-info answer.
CREATE TABLE iam_profile_schema (
    iam_id    uuid NOT NULL REFERENCES iams (id) ON DELETE CASCADE,
    platform  text NOT NULL,
    attribute text NOT NULL,
    PRIMARY KEY (iam_id, platform)
);
