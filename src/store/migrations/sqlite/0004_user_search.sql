-- ListUsers' query is a substring match (LIKE '%text%') over users.search_key. An FTS5 table
-- with the trigram tokenizer indexes every three-character sequence of it, so such a LIKE (of
-- three characters or more) reads the matching users instead of every user.
--
-- The index's rows are numbered by users_search_rows, whose INTEGER PRIMARY KEY is stable:
-- the implicit rowid of users (its key is a TEXT id) may change on VACUUM. Triggers keep both
-- in step with users.
CREATE TABLE users_search_rows (
    search_rowid INTEGER PRIMARY KEY,
    user_id      TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE users_search USING fts5 (search_key, tokenize = 'trigram');

CREATE TRIGGER users_search_insert AFTER INSERT ON users
BEGIN
    INSERT INTO users_search_rows (user_id) VALUES (new.id);
    INSERT INTO users_search (rowid, search_key) VALUES (last_insert_rowid(), new.search_key);
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF search_key ON users
BEGIN
    DELETE FROM users_search
    WHERE rowid = (SELECT search_rowid FROM users_search_rows WHERE user_id = old.id);
    INSERT INTO users_search (rowid, search_key)
    SELECT search_rowid, new.search_key FROM users_search_rows WHERE user_id = new.id;
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users
BEGIN
    DELETE FROM users_search
    WHERE rowid = (SELECT search_rowid FROM users_search_rows WHERE user_id = old.id);
    DELETE FROM users_search_rows WHERE user_id = old.id;
END;

INSERT INTO users_search_rows (user_id) SELECT id FROM users ORDER BY id;
INSERT INTO users_search (rowid, search_key)
SELECT r.search_rowid, u.search_key FROM users_search_rows r JOIN users u ON u.id = r.user_id;
