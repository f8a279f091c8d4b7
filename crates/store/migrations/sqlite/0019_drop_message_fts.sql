-- The full text per message (migration 0007) has had no reader since the series search matches
-- the text per series (0017), and the public-inbox search checks the message rows themselves.
-- Writing it was 37% of the SQL time of an import of real mail (576 of 1570 ms for the two
-- list slices: the tokenizing of 21 MB of bodies).
DROP TABLE message_fts;
