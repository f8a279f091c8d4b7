-- The newest change of any series of a project (`MAX(changed)`), read by the web before it
-- serves a series list or search page it rendered before (Store::project_stamp).
CREATE INDEX series_changed ON series(project_id, changed);
