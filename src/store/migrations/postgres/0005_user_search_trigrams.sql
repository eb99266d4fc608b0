-- How many users' search keys hold each trigram (and, under the empty string, how many users
-- there are), kept with every write of a search key. ListUsers' query reads them to look up
-- only its rarest trigrams in the trigram index: the index reads the whole posting list of
-- every trigram it is given, and a query's common ones (`com`, `@ex`) are in every user.
CREATE TABLE user_search_trigrams (
    trigram TEXT PRIMARY KEY,
    users   BIGINT NOT NULL
);

INSERT INTO user_search_trigrams (trigram, users)
SELECT trigram, count(*)
FROM (
    SELECT DISTINCT u.id, substr(u.search_key, i, 3) AS trigram
    FROM users u, generate_series(1, char_length(u.search_key) - 2) AS i
    WHERE u.search_key IS NOT NULL
    UNION ALL
    SELECT id, '' FROM users WHERE search_key IS NOT NULL
) AS held
GROUP BY trigram;
