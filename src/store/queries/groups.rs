//! Groups, their members and attributes.

use super::{Sql, where_in};

pub(crate) const BY_ID: &str = "
    SELECT g.id, g.name, g.description, g.email,
           (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS member_count,
           g.create_time, g.update_time, g.version, g.managed_by_iam_id
    FROM groups g WHERE g.id = $1";

/// A page of ListGroups: $1 a LIKE pattern over the search key, $2 the last id of the previous
/// page, $3 the limit.
pub(crate) const LIST: &str = r"
    SELECT g.id, g.name, g.description, g.email,
           (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS member_count,
           g.create_time, g.update_time, g.version, g.managed_by_iam_id
    FROM groups g
    WHERE ($1 IS NULL OR g.search_key LIKE $1 ESCAPE '\')
      AND ($2 IS NULL OR g.id > $2)
    ORDER BY g.id LIMIT $3";

pub(crate) const ATTRIBUTES_OF: Sql = where_in!(
    "SELECT group_id, name, value FROM group_attributes",
    "group_id",
    "ORDER BY group_id, name, value"
);

pub(crate) const EXISTS: &str = "SELECT id FROM groups WHERE id = $1";

/// Another group (not $2) whose name has the comparison key $1.
pub(crate) const OWNER_OF_NAME: &str = "
    SELECT id FROM groups WHERE name_key = $1 AND ($2 IS NULL OR id <> $2)";

/// $1 id, $2 name, $3 its key, $4 description, $5 email, $6 the time, $7 the search key.
pub(crate) const INSERT: &str = "
    INSERT INTO groups (id, name, name_key, description, email, create_time, update_time,
                        version, search_key, managed_by_iam_id)
    VALUES ($1, $2, $3, $4, $5, $6, $6, 1, $7, $8)";

pub(crate) const VERSION: &str = "SELECT version FROM groups WHERE id = $1";

/// $2 name, $3 its comparison key.
pub(crate) const SET_NAME: &str = "UPDATE groups SET name = $2, name_key = $3 WHERE id = $1";

pub(crate) const SET_DESCRIPTION: &str = "UPDATE groups SET description = $2 WHERE id = $1";

pub(crate) const SET_EMAIL: &str = "UPDATE groups SET email = $2 WHERE id = $1";

pub(crate) const SET_MANAGED_BY_IAM: &str =
    "UPDATE groups SET managed_by_iam_id = $2 WHERE id = $1";

/// What the search key of group $1 is made of.
pub(crate) const SEARCHED_FIELDS: &str = "SELECT name, email FROM groups WHERE id = $1";

pub(crate) const SET_SEARCH_KEY: &str = "UPDATE groups SET search_key = $2 WHERE id = $1";

pub(crate) const TOUCH: &str = "
    UPDATE groups SET version = version + 1, update_time = $2 WHERE id = $1";

/// Memberships, attributes and role assignments go with it (ON DELETE CASCADE).
pub(crate) const DELETE: &str = "DELETE FROM groups WHERE id = $1";

pub(crate) const MEMBER_IDS: &str = "SELECT user_id FROM group_members WHERE group_id = $1";

pub(crate) const ADD_MEMBER: &str = "
    INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/// The permissions group $1's role assignments carry, in any scope.
pub(crate) const ROLE_PERMISSIONS_OF: &str = "
    SELECT DISTINCT rp.permission
    FROM role_assignments a JOIN role_permissions rp ON rp.role_id = a.role_id
    WHERE a.group_id = $1";

pub(crate) const REMOVE_MEMBER: &str =
    "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2";

pub(crate) const INSERT_ATTRIBUTE: &str = "
    INSERT INTO group_attributes (group_id, name, value) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING";

pub(crate) const DELETE_ATTRIBUTE_VALUE: &str = "
    DELETE FROM group_attributes WHERE group_id = $1 AND name = $2 AND value = $3";
