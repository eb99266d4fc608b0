//! The SQL that fills comparison keys of rows older than them (`store::keys`).

/// Users without keys after id $1 (NULL: from the start), at most $2.
pub(crate) const USERS_WITHOUT_KEYS: &str = "
    SELECT id, username, email, full_name, search_key FROM users
    WHERE username_key IS NULL AND ($1 IS NULL OR id > $1)
    ORDER BY id LIMIT $2";

/// Another user than $3 whose username or email has key $1 or $2.
pub(crate) const USER_HOLDING_KEYS: &str = "
    SELECT id FROM users
    WHERE id <> $3 AND (username_key IN ($1, $2) OR email_key IN ($1, $2))
    LIMIT 1";

/// Sets user $1's keys: username $2, email $3, search $4.
pub(crate) const FILL_USER: &str = "
    UPDATE users SET username_key = $2, email_key = $3, search_key = $4
    WHERE id = $1";

/// Groups without keys after id $1 (NULL: from the start), at most $2.
pub(crate) const GROUPS_WITHOUT_KEYS: &str = "
    SELECT id, name, email FROM groups
    WHERE name_key IS NULL AND ($1 IS NULL OR id > $1)
    ORDER BY id LIMIT $2";

/// Another group than $2 whose name has key $1.
pub(crate) const GROUP_HOLDING_KEY: &str = "
    SELECT id FROM groups WHERE name_key = $1 AND id <> $2";

/// Sets group $1's keys: name $2, search $3.
pub(crate) const FILL_GROUP: &str = "
    UPDATE groups SET name_key = $2, search_key = $3 WHERE id = $1";

/// External usernames without keys.
pub(crate) const EXTERNAL_USERNAMES_WITHOUT_KEYS: &str = "
    SELECT user_id, platform, username FROM external_usernames
    WHERE name_key IS NULL ORDER BY user_id, platform";

/// Another user than $3 with the name of key $2 on platform $1.
pub(crate) const EXTERNAL_USERNAME_HOLDING_KEY: &str = "
    SELECT user_id FROM external_usernames
    WHERE platform = $1 AND name_key = $2 AND user_id <> $3";

/// Sets the key $3 of user $1's name on platform $2.
pub(crate) const FILL_EXTERNAL_USERNAME: &str = "
    UPDATE external_usernames SET name_key = $3
    WHERE user_id = $1 AND platform = $2";

/// Roles without keys, with their names.
pub(crate) const ROLES_WITHOUT_KEYS: &str =
    "SELECT id, name FROM roles WHERE name_key IS NULL ORDER BY id";

/// Another role than $2 whose name has key $1.
pub(crate) const ROLE_HOLDING_KEY: &str = "SELECT id FROM roles WHERE name_key = $1 AND id <> $2";

pub(crate) const FILL_ROLE: &str = "UPDATE roles SET name_key = $2 WHERE id = $1";

/// Tenants without keys, with their names.
pub(crate) const TENANTS_WITHOUT_KEYS: &str =
    "SELECT id, name FROM tenants WHERE name_key IS NULL ORDER BY id";

/// Another tenant than $2 whose name has key $1.
pub(crate) const TENANT_HOLDING_KEY: &str =
    "SELECT id FROM tenants WHERE name_key = $1 AND id <> $2";

pub(crate) const FILL_TENANT: &str = "UPDATE tenants SET name_key = $2 WHERE id = $1";

/// IAMs without keys, with their names.
pub(crate) const IAMS_WITHOUT_KEYS: &str =
    "SELECT id, name FROM iams WHERE name_key IS NULL ORDER BY id";

/// Another IAM than $2 whose name has key $1.
pub(crate) const IAM_HOLDING_KEY: &str = "SELECT id FROM iams WHERE name_key = $1 AND id <> $2";

pub(crate) const FILL_IAM: &str = "UPDATE iams SET name_key = $2 WHERE id = $1";
