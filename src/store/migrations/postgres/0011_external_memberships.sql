-- Whether a membership came from the user's IAM (its user-info endpoint) rather than being made
-- here: a sync replaces the external ones only, and MigrateUser drops them with the old IAM.
ALTER TABLE group_members ADD COLUMN external boolean NOT NULL DEFAULT false;
