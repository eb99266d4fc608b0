//! Users, their details, API keys and credentials.

use super::{Sql, where_in};

/// The user with id $1.
pub(crate) const BY_ID: &str = "
    SELECT id, username, email, full_name, kind, iam_id, disabled, create_time, update_time,
           disable_time, version
    FROM users WHERE id = $1";

/// The user whose username has the comparison key $1.
pub(crate) const BY_USERNAME_KEY: &str = "
    SELECT id, username, email, full_name, kind, iam_id, disabled, create_time, update_time,
           disable_time, version
    FROM users WHERE username_key = $1";

// ListUsers reads a page in id order from whichever index its most selective filter has, so a
// page costs the same at any table size and any depth: keyset paging (`id > $after`, never
// OFFSET) from the primary key, a group's memberships, a permission's grants, or the users whose
// search key matches. The other filters are checked on the rows read.

/// A page of all users: $1 include disabled, $2 an IAM (or NULL), $3 the last id of the previous
/// page, $4 the limit.
pub(crate) const LIST: &str = "
    SELECT id, username, email, full_name, kind, iam_id, disabled, create_time, update_time,
           disable_time, version
    FROM users u
    WHERE u.id > $3 AND ($1 OR NOT u.disabled) AND ($2 IS NULL OR u.iam_id = $2)
    ORDER BY u.id LIMIT $4";

/// A page of the members of group $1, from its memberships in user order: $2 include disabled,
/// $3 an IAM, $4 a LIKE pattern over the search key, $5 a direct permission (each NULL for
/// any), $6 the last id of the previous page, $7 the limit.
pub(crate) const LIST_BY_GROUP: &str = r"
    SELECT u.id, u.username, u.email, u.full_name, u.kind, u.iam_id, u.disabled, u.create_time,
           u.update_time, u.disable_time, u.version
    FROM group_members m JOIN users u ON u.id = m.user_id
    WHERE m.group_id = $1 AND m.user_id > $6
      AND ($2 OR NOT u.disabled) AND ($3 IS NULL OR u.iam_id = $3)
      AND ($4 IS NULL OR u.search_key LIKE $4 ESCAPE '\')
      AND ($5 IS NULL OR EXISTS (
            SELECT 1 FROM user_permissions p WHERE p.user_id = u.id AND p.permission = $5))
    ORDER BY m.user_id LIMIT $7";

/// A page of the users holding permission $1 directly, from its grants in user order: $2
/// include disabled, $3 an IAM, $4 a LIKE pattern over the search key (each NULL for any), $5
/// the last id of the previous page, $6 the limit.
pub(crate) const LIST_BY_PERMISSION: &str = r"
    SELECT u.id, u.username, u.email, u.full_name, u.kind, u.iam_id, u.disabled, u.create_time,
           u.update_time, u.disable_time, u.version
    FROM user_permissions p JOIN users u ON u.id = p.user_id
    WHERE p.permission = $1 AND p.user_id > $5
      AND ($2 OR NOT u.disabled) AND ($3 IS NULL OR u.iam_id = $3)
      AND ($4 IS NULL OR u.search_key LIKE $4 ESCAPE '\')
    ORDER BY p.user_id LIMIT $6";

/// A page of the users whose search key contains a text, from the users a search index returns
/// for `$1` (`$matches`, a query giving their ids, which `$among` tests a user's id against): $2
/// the exact LIKE pattern, $3 include disabled, $4 an IAM (or NULL), $5 the last id of the
/// previous page, $6 the limit. The matches are read from the index first (MATERIALIZED), so
/// the planner never walks the whole primary key hoping to meet them.
macro_rules! search_page {
    ($matches:literal) => {
        search_page!($matches, "u.id IN (SELECT id FROM matches)")
    };
    ($matches:literal, $among:literal) => {
        concat!(
            "WITH matches AS MATERIALIZED (",
            $matches,
            ")
            SELECT id, username, email, full_name, kind, iam_id, disabled, create_time,
                   update_time, disable_time, version
            FROM users u
            WHERE ",
            $among,
            r" AND u.search_key LIKE $2 ESCAPE '\'
              AND u.id > $5 AND ($3 OR NOT u.disabled) AND ($4 IS NULL OR u.iam_id = $4)
            ORDER BY u.id LIMIT $6"
        )
    };
}

/// [`search_page!`] with the users the trigram index matches to $1, a LIKE pattern with no
/// escapes (it may match more than the query).
pub(crate) const LIST_BY_QUERY: Sql = Sql {
    postgres: search_page!("SELECT id FROM users WHERE search_key LIKE $1"),
    sqlite: search_page!(
        "SELECT r.user_id AS id FROM users_search s
         JOIN users_search_rows r ON r.search_rowid = s.rowid
         WHERE s.search_key LIKE $1"
    ),
};

/// [`search_page!`] with the users whose search key holds the word $1 whole (migrations 0007:
/// PostgreSQL's expression must be the index's, character for character). PostgreSQL has no
/// statistics on the words, so it guesses thousands of matches, and given `IN (matches)` it
/// walks the primary key to meet them, the whole table for one match; the word is looked up
/// only when it is rare, so the page is read by the matches' ids instead (`= ANY`).
pub(crate) const LIST_BY_WORD: Sql = Sql {
    postgres: search_page!(
        r"SELECT id FROM users
          WHERE regexp_split_to_array(search_key, '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+')
                @> ARRAY[$1::text]",
        "u.id = ANY(ARRAY(SELECT id FROM matches))"
    ),
    sqlite: search_page!(
        r#"SELECT r.user_id AS id FROM users_search_words s
           JOIN users_search_rows r ON r.search_rowid = s.rowid
           WHERE users_search_words MATCH '"' || $1 || '"'"#
    ),
};

/// How many users' search keys hold each of the trigrams $1 (see `store/search.rs`).
pub(crate) const TRIGRAM_COUNTS: Sql = where_in!(
    "SELECT trigram, users FROM user_search_trigrams",
    "trigram",
    ""
);

/// Adds $2 (1 or -1) to the counts of the trigrams $1. (SQLite needs the `WHERE true` to read
/// `ON CONFLICT` as the upsert's, not as part of the SELECT's join.)
pub(crate) const COUNT_TRIGRAMS: Sql = Sql {
    postgres: "
        INSERT INTO user_search_trigrams (trigram, users) SELECT unnest($1::text[]), $2
        ON CONFLICT (trigram) DO UPDATE SET users = user_search_trigrams.users + excluded.users",
    sqlite: "
        INSERT INTO user_search_trigrams (trigram, users) SELECT value, $2 FROM json_each($1)
        WHERE true ON CONFLICT (trigram) DO UPDATE SET users = users + excluded.users",
};

/// How many users' search keys hold each of the words $1.
pub(crate) const WORD_COUNTS: Sql = where_in!(
    "SELECT word, users FROM user_search_word_counts",
    "word",
    ""
);

/// Adds $2 to the counts of the words $1.
pub(crate) const COUNT_WORDS: Sql = Sql {
    postgres: "
        INSERT INTO user_search_word_counts (word, users) SELECT unnest($1::text[]), $2
        ON CONFLICT (word) DO UPDATE SET users = user_search_word_counts.users + excluded.users",
    sqlite: "
        INSERT INTO user_search_word_counts (word, users) SELECT value, $2 FROM json_each($1)
        WHERE true ON CONFLICT (word) DO UPDATE SET users = users + excluded.users",
};

pub(crate) const PERMISSIONS_OF: Sql = where_in!(
    "SELECT user_id, permission AS value FROM user_permissions",
    "user_id",
    "ORDER BY user_id, permission"
);

pub(crate) const GROUPS_OF: Sql = where_in!(
    "SELECT user_id, group_id FROM group_members",
    "user_id",
    "ORDER BY user_id, group_id"
);

pub(crate) const ATTRIBUTES_OF: Sql = where_in!(
    "SELECT user_id, name, value FROM user_attributes",
    "user_id",
    "ORDER BY user_id, name, value"
);

pub(crate) const AUTHORIZATIONS_OF: Sql = where_in!(
    "SELECT user_id, name, value FROM user_authorizations",
    "user_id",
    "ORDER BY user_id, name, value"
);

pub(crate) const EXTERNAL_USERNAMES_OF: Sql = where_in!(
    "SELECT user_id, platform, username, aws_user_type FROM external_usernames",
    "user_id",
    "ORDER BY user_id, platform"
);

pub(crate) const CERTIFICATE_URIS_OF: Sql = where_in!(
    "SELECT user_id, uri AS value FROM user_certificate_uris",
    "user_id",
    "ORDER BY user_id, uri"
);

pub(crate) const EXISTS: &str = "SELECT id FROM users WHERE id = $1";

pub(crate) const KIND: &str = "SELECT kind FROM users WHERE id = $1";

pub(crate) const COUNT: &str = "SELECT count(*) FROM users";

/// Another user (not $2) whose username or email has the comparison key $1.
pub(crate) const OWNER_OF_NAME: &str = "
    SELECT id FROM users
    WHERE (username_key = $1 OR email_key = $1) AND ($2 IS NULL OR id <> $2)
    LIMIT 1";

/// $1 id, $2 email (also the username), $3 its comparison key, $4 full name, $5 kind, $6 IAM,
/// $7 the time, $8 the search key.
pub(crate) const INSERT: &str = "
    INSERT INTO users (id, username, email, username_key, email_key, full_name, kind, iam_id,
                       disabled, create_time, update_time, version, search_key)
    VALUES ($1, $2, $2, $3, $3, $4, $5, $6, false, $7, $7, 1, $8)";

pub(crate) const GRANT_DEFAULT_PERMISSIONS: &str = "
    INSERT INTO user_permissions (user_id, permission)
    SELECT $1, permission FROM default_permissions";

pub(crate) const GRANT_BUILT_IN_PERMISSIONS: &str = "
    INSERT INTO user_permissions (user_id, permission)
    SELECT $1, name FROM permissions WHERE built_in";

pub(crate) const VERSION: &str = "SELECT version FROM users WHERE id = $1";

/// $2 email (also the username), $3 its comparison key.
pub(crate) const SET_EMAIL: &str = "
    UPDATE users SET email = $2, username = $2, email_key = $3, username_key = $3 WHERE id = $1";

pub(crate) const SET_IAM: &str = "UPDATE users SET iam_id = $2 WHERE id = $1";

/// What the user's old IAM supplied: its authorizations and the memberships it made.
pub(crate) const DROP_AUTHORIZATIONS: &str = "DELETE FROM user_authorizations WHERE user_id = $1";
pub(crate) const DROP_EXTERNAL_MEMBERSHIPS: &str =
    "DELETE FROM group_members WHERE user_id = $1 AND external";

pub(crate) const SET_FULL_NAME: &str = "UPDATE users SET full_name = $2 WHERE id = $1";

/// The user, other than $2, that certificate URI $1 identifies.
pub(crate) const CERTIFICATE_URI_HOLDER: &str =
    "SELECT user_id FROM user_certificate_uris WHERE uri = $1 AND user_id <> $2";
pub(crate) const CLEAR_CERTIFICATE_URIS: &str =
    "DELETE FROM user_certificate_uris WHERE user_id = $1";
pub(crate) const ADD_CERTIFICATE_URI: &str =
    "INSERT INTO user_certificate_uris (uri, user_id) VALUES ($1, $2)";

/// What the search key of user $1 is made of.
pub(crate) const SEARCHED_FIELDS: &str =
    "SELECT full_name, username, email, search_key FROM users WHERE id = $1";

pub(crate) const SET_SEARCH_KEY: &str = "UPDATE users SET search_key = $2 WHERE id = $1";

/// The disable time marks when the user was first disabled; disabling again keeps it.
pub(crate) const SET_DISABLED: &str = "
    UPDATE users
    SET disabled = $2, disable_time = CASE WHEN $2 THEN COALESCE(disable_time, $3) ELSE NULL END
    WHERE id = $1";

/// Marks a user changed: bumps its version and update time.
pub(crate) const TOUCH: &str = "
    UPDATE users SET version = version + 1, update_time = $2 WHERE id = $1";

/// Everything the user owns goes with it through ON DELETE CASCADE.
pub(crate) const DELETE: &str = "DELETE FROM users WHERE id = $1 RETURNING search_key";

pub(crate) const INSERT_ATTRIBUTE: &str = "
    INSERT INTO user_attributes (user_id, name, value) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING";

pub(crate) const DELETE_ATTRIBUTE_VALUE: &str = "
    DELETE FROM user_attributes WHERE user_id = $1 AND name = $2 AND value = $3";

/// The user other than $3 who has the name with key $2 on platform $1.
pub(crate) const EXTERNAL_USERNAME_OWNER: &str = "
    SELECT user_id FROM external_usernames
    WHERE platform = $1 AND name_key = $2 AND user_id <> $3";

/// The users whose usernames have the comparison keys $1, with the usernames as written.
pub(crate) const USERNAMES_KEYED: Sql = where_in!(
    "SELECT username_key, id, username FROM users",
    "username_key",
    ""
);

/// The external usernames of users other than $3 whose name key is $1 or $2 (a name's
/// comparison key, and the name as written for platforms that compare exactly).
pub(crate) const EXTERNAL_NAME_HOLDERS: &str = "
    SELECT user_id, platform, username, name_key FROM external_usernames
    WHERE name_key IN ($1, $2) AND ($3 IS NULL OR user_id <> $3)";

/// Every external username that is also another user's username under its platform's
/// comparison (`$1` is S3, whose names compare exactly): names that must mean one user, from
/// before that was enforced. Both halves read the username index: AWS names are ASCII, whose
/// comparison key `lower()` computes alike on both stores.
pub(crate) const SHADOWING_EXTERNAL_NAMES: &str = "
    SELECT e.user_id, e.platform, e.username, u.id, u.username
    FROM external_usernames e JOIN users u ON u.username_key = e.name_key
    WHERE e.platform <> $1 AND u.id <> e.user_id
    UNION ALL
    SELECT e.user_id, e.platform, e.username, u.id, u.username
    FROM external_usernames e JOIN users u ON u.username_key = lower(e.name_key)
    WHERE e.platform = $1 AND u.username = e.name_key AND u.id <> e.user_id";

pub(crate) const SET_EXTERNAL_USERNAME: &str = "
    INSERT INTO external_usernames (user_id, platform, username, name_key, aws_user_type)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (user_id, platform) DO UPDATE
    SET username = excluded.username, name_key = excluded.name_key,
        aws_user_type = excluded.aws_user_type";

pub(crate) const CLEAR_EXTERNAL_USERNAME: &str = "
    DELETE FROM external_usernames WHERE user_id = $1 AND platform = $2";

pub(crate) const GRANT: &str = "
    INSERT INTO user_permissions (user_id, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING";

pub(crate) const REVOKE: &str =
    "DELETE FROM user_permissions WHERE user_id = $1 AND permission = $2";

pub(crate) const PERMISSION_EXISTS: &str = "SELECT name FROM permissions WHERE name = $1";

pub(crate) const INSERT_API_KEY: &str = "
    INSERT INTO api_keys (id, user_id, display_name, secret_hash, create_time, expire_time)
    VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING id, user_id, display_name, create_time, expire_time, revoke_time";

pub(crate) const API_KEY: &str = "
    SELECT id, user_id, display_name, create_time, expire_time, revoke_time
    FROM api_keys WHERE id = $1";

/// User $1's keys (revoked ones too when $2) with ids after $3 (NULL: from the start), at most
/// $4.
pub(crate) const API_KEYS_OF: &str = "
    SELECT id, user_id, display_name, create_time, expire_time, revoke_time
    FROM api_keys
    WHERE user_id = $1 AND ($2 OR revoke_time IS NULL) AND ($3 IS NULL OR id > $3)
    ORDER BY id LIMIT $4";

/// How many of user $1's keys still work at time $2: neither revoked nor expired.
pub(crate) const ACTIVE_API_KEY_COUNT: &str = "
    SELECT count(*) FROM api_keys
    WHERE user_id = $1 AND revoke_time IS NULL AND (expire_time IS NULL OR expire_time > $2)";

pub(crate) const REVOKE_API_KEY: &str = "
    UPDATE api_keys SET revoke_time = COALESCE(revoke_time, $2) WHERE id = $1
    RETURNING id, user_id, display_name, create_time, expire_time, revoke_time";

/// `$who` (a query of at most one row with a `user_id` column) with each permission that user
/// holds everywhere (directly, through roles, through groups' roles), a row per permission (one
/// row with a NULL permission when it holds none): one statement, so one snapshot and one round
/// trip.
macro_rules! with_global_permissions {
    ($who:literal) => {
        concat!(
            "WITH who AS (",
            $who,
            ")
            SELECT who.*, p.permission FROM who LEFT JOIN (
                SELECT up.permission FROM who, user_permissions up WHERE up.user_id = who.user_id
                UNION SELECT rp.permission FROM who, role_assignments ra
                  JOIN role_permissions rp ON rp.role_id = ra.role_id
                  WHERE ra.user_id = who.user_id AND ra.tenant_id IS NULL
                UNION SELECT rp.permission FROM who, group_members gm
                  JOIN role_assignments ra ON ra.group_id = gm.group_id
                  JOIN role_permissions rp ON rp.role_id = ra.role_id
                  WHERE gm.user_id = who.user_id AND ra.tenant_id IS NULL
            ) p ON true"
        )
    };
}

/// What authentication needs about key $1: its hash, validity and user, and the permissions
/// the user holds everywhere.
pub(crate) const CREDENTIAL: &str = with_global_permissions!(
    "SELECT k.secret_hash, k.expire_time, k.revoke_time, k.user_id, u.disabled
     FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1"
);

/// The service account whose username key is $1, and the permissions it holds everywhere.
pub(crate) const SERVICE_ACCOUNT_NAMED: &str = with_global_permissions!(
    "SELECT id AS user_id, disabled FROM users
     WHERE username_key = $1 AND kind = 'SERVICE_ACCOUNT'"
);

/// The service account certificate URI $1 identifies, and the permissions it holds everywhere.
pub(crate) const SERVICE_ACCOUNT_WITH_URI: &str = with_global_permissions!(
    "SELECT u.id AS user_id, u.disabled FROM user_certificate_uris c
     JOIN users u ON u.id = c.user_id
     WHERE c.uri = $1 AND u.kind = 'SERVICE_ACCOUNT'"
);
