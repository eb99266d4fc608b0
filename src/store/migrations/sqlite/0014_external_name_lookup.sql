-- A platform name means one user: a new username is checked against every external username
-- with the same name key, whatever the platform.
CREATE INDEX external_usernames_by_name_key ON external_usernames (name_key);
