//! Syncing users from their IAM: a batch of users is read and changed with a fixed number of
//! statements, whatever its size. Rows to add or remove are bound as parallel lists (`$1`,
//! `$2`, ...: the n-th row is the n-th element of each), unnested on PostgreSQL and joined by
//! position from `json_each` on SQLite. There each list is first materialised (the `json_lists!`
//! CTEs), which SQLite joins through an automatic index: joined directly, one `json_each` is
//! scanned whole for every row of the other, and a batch of 500 users took a quadratic 50 ms
//! and more.

use super::{Sql, where_in};

/// The SQLite CTEs `c1`, `c2`, ... holding the positions (`key`) and values of the JSON lists
/// `$1`, `$2`, ...
macro_rules! json_lists {
    ($first:literal $(, $n:literal)*) => {
        concat!(
            "WITH c", $first, " AS MATERIALIZED (SELECT key, value FROM json_each($", $first, "))",
            $(", c", $n, " AS MATERIALIZED (SELECT key, value FROM json_each($", $n, "))",)*
            " "
        )
    };
}

/// The users of IAM $1 after id $2, up to $3, in id order (from `users_iam_idx`).
pub(crate) const USERS_OF_IAM: &str = "
    SELECT id, username FROM users WHERE iam_id = $1 AND id > $2 ORDER BY id LIMIT $3";

/// Which IAM each of the users $1 belongs to.
pub(crate) const IAMS_OF: Sql = where_in!("SELECT id, iam_id FROM users", "id", "");

/// Every membership of the users $1, with the group's name.
pub(crate) const MEMBERSHIPS_OF: Sql = where_in!(
    "SELECT m.user_id, m.group_id, g.name, m.external
     FROM group_members m JOIN groups g ON g.id = m.group_id",
    "m.user_id",
    ""
);

/// The groups whose names have the comparison keys $1, with the IAM managing each and whether
/// any role is assigned to it.
pub(crate) const GROUPS_NAMED: Sql = where_in!(
    "SELECT g.id, g.name, g.name_key, g.managed_by_iam_id,
            EXISTS (SELECT 1 FROM role_assignments r WHERE r.group_id = g.id) AS carries_roles
     FROM groups g",
    "g.name_key",
    ""
);

/// Who holds each of the external usernames with the comparison keys $1 on platform $2 (from
/// the `(platform, name_key)` index).
pub(crate) const USERNAME_OWNERS: Sql = where_in!(
    "SELECT name_key, user_id FROM external_usernames",
    "name_key",
    "AND platform = $2"
);

/// Adds the memberships (group $1[n], user $2[n]) as made by a sync.
pub(crate) const ADD_MEMBERSHIPS: Sql = Sql {
    postgres: "
        INSERT INTO group_members (group_id, user_id, external)
        SELECT group_id, user_id, true FROM unnest($1::uuid[], $2::uuid[]) AS t(group_id, user_id)
        ON CONFLICT DO NOTHING",
    sqlite: concat!(
        json_lists!(1, 2),
        "INSERT INTO group_members (group_id, user_id, external)
         SELECT c1.value, c2.value, 1 FROM c1 JOIN c2 USING (key)
         WHERE true
         ON CONFLICT DO NOTHING"
    ),
};

/// Removes the memberships (group $1[n], user $2[n]) a sync made.
pub(crate) const REMOVE_MEMBERSHIPS: Sql = Sql {
    postgres: "
        DELETE FROM group_members
        WHERE external AND (group_id, user_id) IN (
            SELECT group_id, user_id FROM unnest($1::uuid[], $2::uuid[]) AS t(group_id, user_id))",
    sqlite: concat!(
        json_lists!(1, 2),
        "DELETE FROM group_members
         WHERE external AND (group_id, user_id) IN (
             SELECT c1.value, c2.value FROM c1 JOIN c2 USING (key))"
    ),
};

/// Adds the authorizations (user $1[n], name $2[n], value $3[n]).
pub(crate) const ADD_AUTHORIZATIONS: Sql = Sql {
    postgres: "
        INSERT INTO user_authorizations (user_id, name, value)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
        ON CONFLICT DO NOTHING",
    sqlite: concat!(
        json_lists!(1, 2, 3),
        "INSERT INTO user_authorizations (user_id, name, value)
         SELECT c1.value, c2.value, c3.value FROM c1 JOIN c2 USING (key) JOIN c3 USING (key)
         WHERE true
         ON CONFLICT DO NOTHING"
    ),
};

/// Removes the authorizations (user $1[n], name $2[n], value $3[n]).
pub(crate) const REMOVE_AUTHORIZATIONS: Sql = Sql {
    postgres: "
        DELETE FROM user_authorizations
        WHERE (user_id, name, value) IN (
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))",
    sqlite: concat!(
        json_lists!(1, 2, 3),
        "DELETE FROM user_authorizations
         WHERE (user_id, name, value) IN (
             SELECT c1.value, c2.value, c3.value FROM c1 JOIN c2 USING (key) JOIN c3 USING (key))"
    ),
};

/// Marks the users $1 changed: bumps their versions and sets their update time to $2.
pub(crate) const TOUCH_USERS: Sql = where_in!(
    "UPDATE users SET version = version + 1, update_time = $2",
    "id",
    ""
);

/// Sets the external usernames (user $1[n], platform $2[n], username $3[n], its comparison key
/// $4[n], AWS user type $5[n] or '' for none).
pub(crate) const SET_USERNAMES: Sql = Sql {
    postgres: "
        INSERT INTO external_usernames (user_id, platform, username, name_key, aws_user_type)
        SELECT u, p, n, k, NULLIF(a, '')
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(u, p, n, k, a)
        ON CONFLICT (user_id, platform) DO UPDATE
        SET username = excluded.username, name_key = excluded.name_key,
            aws_user_type = excluded.aws_user_type",
    sqlite: concat!(
        json_lists!(1, 2, 3, 4, 5),
        "INSERT INTO external_usernames (user_id, platform, username, name_key, aws_user_type)
         SELECT c1.value, c2.value, c3.value, c4.value, NULLIF(c5.value, '')
         FROM c1 JOIN c2 USING (key) JOIN c3 USING (key) JOIN c4 USING (key) JOIN c5 USING (key)
         WHERE true
         ON CONFLICT (user_id, platform) DO UPDATE
         SET username = excluded.username, name_key = excluded.name_key,
             aws_user_type = excluded.aws_user_type"
    ),
};
