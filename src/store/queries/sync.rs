//! Syncing users from their IAM: a batch of users is read and changed with a fixed number of
//! statements, whatever its size. Rows to add or remove are bound as parallel lists (`$1`,
//! `$2`, ...: the n-th row is the n-th element of each), unnested on PostgreSQL and joined by
//! position from `json_each` on SQLite.

use super::{Sql, where_in};

/// The users of IAM $1 after id $2, up to $3, in id order (from `users_iam_idx`).
pub const USERS_OF_IAM: &str = "
    SELECT id, username FROM users WHERE iam_id = $1 AND id > $2 ORDER BY id LIMIT $3";

/// Which IAM each of the users $1 belongs to.
pub const IAMS_OF: Sql = where_in!("SELECT id, iam_id FROM users", "id", "");

/// Every membership of the users $1, with the group's name.
pub const MEMBERSHIPS_OF: Sql = where_in!(
    "SELECT m.user_id, m.group_id, g.name, m.external
     FROM group_members m JOIN groups g ON g.id = m.group_id",
    "m.user_id",
    ""
);

/// The groups whose names have the comparison keys $1.
pub const GROUPS_NAMED: Sql = where_in!("SELECT id, name, name_key FROM groups", "name_key", "");

/// Who holds each of the external usernames with the comparison keys $1, on any platform.
pub const USERNAME_OWNERS: Sql = where_in!(
    "SELECT platform, name_key, user_id FROM external_usernames",
    "name_key",
    ""
);

/// Adds the memberships (group $1[n], user $2[n]) as made by a sync.
pub const ADD_MEMBERSHIPS: Sql = Sql {
    postgres: "
        INSERT INTO group_members (group_id, user_id, external)
        SELECT group_id, user_id, true FROM unnest($1::uuid[], $2::uuid[]) AS t(group_id, user_id)
        ON CONFLICT DO NOTHING",
    sqlite: "
        INSERT INTO group_members (group_id, user_id, external)
        SELECT g.value, u.value, 1 FROM json_each($1) g JOIN json_each($2) u ON u.key = g.key
        WHERE true
        ON CONFLICT DO NOTHING",
};

/// Removes the memberships (group $1[n], user $2[n]) a sync made.
pub const REMOVE_MEMBERSHIPS: Sql = Sql {
    postgres: "
        DELETE FROM group_members
        WHERE external AND (group_id, user_id) IN (
            SELECT group_id, user_id FROM unnest($1::uuid[], $2::uuid[]) AS t(group_id, user_id))",
    sqlite: "
        DELETE FROM group_members
        WHERE external AND (group_id, user_id) IN (
            SELECT g.value, u.value FROM json_each($1) g JOIN json_each($2) u ON u.key = g.key)",
};

/// Adds the authorizations (user $1[n], name $2[n], value $3[n]).
pub const ADD_AUTHORIZATIONS: Sql = Sql {
    postgres: "
        INSERT INTO user_authorizations (user_id, name, value)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
        ON CONFLICT DO NOTHING",
    sqlite: "
        INSERT INTO user_authorizations (user_id, name, value)
        SELECT u.value, n.value, v.value
        FROM json_each($1) u JOIN json_each($2) n ON n.key = u.key JOIN json_each($3) v ON v.key = u.key
        WHERE true
        ON CONFLICT DO NOTHING",
};

/// Removes the authorizations (user $1[n], name $2[n], value $3[n]).
pub const REMOVE_AUTHORIZATIONS: Sql = Sql {
    postgres: "
        DELETE FROM user_authorizations
        WHERE (user_id, name, value) IN (
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))",
    sqlite: "
        DELETE FROM user_authorizations
        WHERE (user_id, name, value) IN (
            SELECT u.value, n.value, v.value
            FROM json_each($1) u JOIN json_each($2) n ON n.key = u.key
            JOIN json_each($3) v ON v.key = u.key)",
};

/// Marks the users $1 changed: bumps their versions and sets their update time to $2.
pub const TOUCH_USERS: Sql = where_in!(
    "UPDATE users SET version = version + 1, update_time = $2",
    "id",
    ""
);

/// Sets the external usernames (user $1[n], platform $2[n], username $3[n], its comparison key
/// $4[n], AWS user type $5[n] or '' for none).
pub const SET_USERNAMES: Sql = Sql {
    postgres: "
        INSERT INTO external_usernames (user_id, platform, username, name_key, aws_user_type)
        SELECT u, p, n, k, NULLIF(a, '')
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(u, p, n, k, a)
        ON CONFLICT (user_id, platform) DO UPDATE
        SET username = excluded.username, name_key = excluded.name_key,
            aws_user_type = excluded.aws_user_type",
    sqlite: "
        INSERT INTO external_usernames (user_id, platform, username, name_key, aws_user_type)
        SELECT u.value, p.value, n.value, k.value, NULLIF(a.value, '')
        FROM json_each($1) u JOIN json_each($2) p ON p.key = u.key
        JOIN json_each($3) n ON n.key = u.key JOIN json_each($4) k ON k.key = u.key
        JOIN json_each($5) a ON a.key = u.key
        WHERE true
        ON CONFLICT (user_id, platform) DO UPDATE
        SET username = excluded.username, name_key = excluded.name_key,
            aws_user_type = excluded.aws_user_type",
};
