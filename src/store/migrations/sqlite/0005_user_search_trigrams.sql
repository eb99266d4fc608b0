-- How many users' search keys hold each trigram (and, under the empty string, how many users
-- there are), kept with every write of a search key. ListUsers' query reads them to look up
-- only its rarest trigrams in the FTS5 table: FTS5 reads the whole doclist of every trigram it
-- is given, and a query's common ones (`com`, `@ex`) are in every user.
CREATE TABLE user_search_trigrams (
    trigram TEXT PRIMARY KEY,
    users   INTEGER NOT NULL
);

WITH RECURSIVE position (id, search_key, i) AS (
    SELECT id, search_key, 1 FROM users WHERE length(search_key) >= 3
    UNION ALL
    SELECT id, search_key, i + 1 FROM position WHERE i + 3 <= length(search_key)
)
INSERT INTO user_search_trigrams (trigram, users)
SELECT trigram, count(*)
FROM (
    SELECT DISTINCT id, substr(search_key, i, 3) AS trigram FROM position
    UNION ALL
    SELECT id, '' FROM users WHERE search_key IS NOT NULL
)
GROUP BY trigram;
