-- One text index per message (issue 26, 27): the series search reads message_text (0050), the
-- public-inbox search's tsvector of `part:word` lexemes, instead of the 'simple' tsvectors of
-- 0011 that every import wrote beside it (the import spent as long on each). A store that held
-- mail before 0050 finds text by a series search only after `quire reindex`, as for 0050.
DROP TABLE message_search;

-- The tsvectors compressed with lz4 where the server has it (PostgreSQL 14+ built with lz4, as
-- Debian's and the PGDG packages are): writing the whole io-uring archive's 33k rows took 1.8 s
-- instead of 3.4 s with the default pglz, in 13% less space. Elsewhere pglz stays.
DO $$
BEGIN
    ALTER TABLE message_text ALTER COLUMN tsv SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'message_text.tsv keeps the default compression: %', SQLERRM;
END
$$;
