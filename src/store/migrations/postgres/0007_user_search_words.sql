-- A ListUsers query that holds a whole word (one with a separator on both sides inside the
-- query, as `0500000` in `ada.0500000@example.com`) only matches users whose search key holds
-- that word whole. Looking the word up costs O(log n) however many users there are, where the
-- trigram index reads posting lists that grow with the table (`500` and `000` are in thousands
-- of users' emails at a million). Words are split at every ASCII character but a letter or
-- digit (the service's `separates_words`, and SQLite's FTS5 `ascii` tokenizer); the regular
-- expression below must stay the one in the store's word query for the index to be used.
CREATE INDEX users_search_words_idx ON users
    USING gin (regexp_split_to_array(search_key, '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+'));

-- How many users' search keys hold each word, kept with every write of a search key like the
-- trigram counts of 0005: a query looks up its rarest whole word only when that is cheaper than
-- its rarest trigrams.
CREATE TABLE user_search_word_counts (
    word  TEXT PRIMARY KEY,
    users BIGINT NOT NULL
);

INSERT INTO user_search_word_counts (word, users)
SELECT word, count(DISTINCT u.id)
FROM users u,
     unnest(regexp_split_to_array(u.search_key, '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+'))
         AS word
WHERE u.search_key IS NOT NULL AND word <> ''
GROUP BY word;
