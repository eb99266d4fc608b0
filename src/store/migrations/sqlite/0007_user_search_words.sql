-- A ListUsers query that holds a whole word (one with a separator on both sides inside the
-- query, as `0500000` in `ada.0500000@example.com`) only matches users whose search key holds
-- that word whole. An FTS5 table with the `ascii` tokenizer indexes the words of every search
-- key, split at every ASCII character but a letter or digit (the service's `separates_words`),
-- so such a query reads one short posting list however many users there are. It is contentless:
-- the text is in users, and the trigram table of 0004 keeps a copy already.
CREATE VIRTUAL TABLE users_search_words
    USING fts5 (search_key, tokenize = 'ascii', content = '', contentless_delete = 1);

DROP TRIGGER users_search_insert;
DROP TRIGGER users_search_update;
DROP TRIGGER users_search_delete;

CREATE TRIGGER users_search_insert AFTER INSERT ON users
BEGIN
    INSERT INTO users_search_rows (user_id) VALUES (new.id);
    INSERT INTO users_search (rowid, search_key) VALUES (last_insert_rowid(), new.search_key);
    INSERT INTO users_search_words (rowid, search_key)
    SELECT search_rowid, new.search_key FROM users_search_rows WHERE user_id = new.id;
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF search_key ON users
BEGIN
    DELETE FROM users_search
    WHERE rowid = (SELECT search_rowid FROM users_search_rows WHERE user_id = old.id);
    DELETE FROM users_search_words
    WHERE rowid = (SELECT search_rowid FROM users_search_rows WHERE user_id = old.id);
    INSERT INTO users_search (rowid, search_key)
    SELECT search_rowid, new.search_key FROM users_search_rows WHERE user_id = new.id;
    INSERT INTO users_search_words (rowid, search_key)
    SELECT search_rowid, new.search_key FROM users_search_rows WHERE user_id = new.id;
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users
BEGIN
    DELETE FROM users_search
    WHERE rowid = (SELECT search_rowid FROM users_search_rows WHERE user_id = old.id);
    DELETE FROM users_search_words
    WHERE rowid = (SELECT search_rowid FROM users_search_rows WHERE user_id = old.id);
    DELETE FROM users_search_rows WHERE user_id = old.id;
END;

INSERT INTO users_search_words (rowid, search_key)
SELECT r.search_rowid, u.search_key FROM users_search_rows r JOIN users u ON u.id = r.user_id;

-- How many users' search keys hold each word, kept with every write of a search key like the
-- trigram counts of 0005: a query looks up its rarest whole word only when that is cheaper than
-- its rarest trigrams. Filled from the index just built.
CREATE TABLE user_search_word_counts (
    word  TEXT PRIMARY KEY,
    users INTEGER NOT NULL
);

CREATE VIRTUAL TABLE temp.users_search_words_vocab
    USING fts5vocab (main, users_search_words, row);
INSERT INTO user_search_word_counts (word, users)
SELECT term, doc FROM temp.users_search_words_vocab;
DROP TABLE temp.users_search_words_vocab;
