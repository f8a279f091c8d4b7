-- Each project's series and messages, kept by the writer in the transaction that changes them
-- (new memberships, series made or gone) and emptied with the derived data by a reindex. The
-- front page, `GET /api/v1/projects` and `quire project list` counted them on every call:
-- 90 ms on 1M messages.
CREATE TABLE project_counts (
    project_id BIGINT PRIMARY KEY REFERENCES projects(id),
    series BIGINT NOT NULL DEFAULT 0,
    messages BIGINT NOT NULL DEFAULT 0
);
INSERT INTO project_counts (project_id, series, messages)
    SELECT p.id, (SELECT COUNT(*) FROM series s WHERE s.project_id = p.id),
        (SELECT COUNT(*) FROM message_projects mp WHERE mp.project_id = p.id)
    FROM projects p;
