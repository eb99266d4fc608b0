-- ListUsers' query is a substring match (LIKE '%text%') over users.search_key. A trigram index
-- lets it read the users whose trigrams match instead of every user. pg_trgm is a trusted
-- extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_search_idx ON users USING gin (search_key gin_trgm_ops);
