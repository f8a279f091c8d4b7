-- Full text per series: the subjects and bodies of a series' own messages (cover letter and
-- patches, not replies) in one row whose rowid is the series id. The series search matched
-- words in message_fts and joined every matching message to its series: a common word on 1M
-- messages (192k matches) took 100-140 ms before the first row. Here the match gives series ids
-- directly, one per series. Contentless (the text stays in `messages`) with contentless_delete,
-- so a series whose own messages change loses its row and gets a new one.
CREATE VIRTUAL TABLE series_fts USING fts5(subject, body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO series_fts (rowid, subject, body)
    SELECT sm.series_id, group_concat(m.subject, char(10)), group_concat(m.body, char(10))
    FROM series_members sm JOIN messages m ON m.id = sm.message_id
    WHERE sm.role <> 'reply' GROUP BY sm.series_id;
-- The message-to-own-series index served only the join this table replaces.
DROP INDEX series_members_own;
