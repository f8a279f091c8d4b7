-- The events list by category (Patchwork's `events/?category=`, quire's feeds), newest first,
-- with or without a project: walked in index order instead of filtering every event.
CREATE INDEX events_project_kind ON events (project, kind, id);
CREATE INDEX events_kind ON events (kind, id);
