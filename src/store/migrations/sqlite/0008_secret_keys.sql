-- The service's secret key (PERSONAE_SECRET_KEY), for secrets at rest, is never stored. What is
-- stored is a value sealed under it (src/secrets.rs), so that a start-up with another key is
-- refused with a clear error instead of failing to read the secrets later. A new key gets the
-- next version; the stored secrets name the version they were sealed under.
CREATE TABLE secret_keys (
    version   INTEGER PRIMARY KEY,
    key_check BLOB NOT NULL
);
