//! Projects: their configuration as stored, their ids and their counts.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::*;

/// Projects by name, with their ids.
pub(super) async fn load_projects(conn: &mut Conn) -> Result<Vec<(i64, ProjectConfig)>> {
    let rows = sqlx::query(
        "SELECT id, name, list_ids, list_addresses, git_url, branch, mirror_url, tag_prefix, subject_prefixes FROM projects ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .ctx("loading projects")?;
    rows.iter().map(project_from_row).collect()
}

pub(super) fn project_from_row(row: &DbRow) -> Result<(i64, ProjectConfig)> {
    let what = "reading projects";
    let name: String = get(row, 1, what)?;
    let list_ids = serde_json::from_str(&get::<String>(row, 2, what)?)
        .map_err(|e| corrupt(format!("list ids of project {name}"), e))?;
    let list_addresses = serde_json::from_str(&get::<String>(row, 3, what)?)
        .map_err(|e| corrupt(format!("list addresses of project {name}"), e))?;
    let subject_prefixes = serde_json::from_str(&get::<String>(row, 8, what)?)
        .map_err(|e| corrupt(format!("subject prefixes of project {name}"), e))?;
    Ok((
        get(row, 0, what)?,
        ProjectConfig {
            name,
            list_ids,
            list_addresses,
            subject_prefixes,
            git_url: get(row, 4, what)?,
            branch: get(row, 5, what)?,
            mirror_url: get(row, 6, what)?,
            tag_prefix: get(row, 7, what)?,
        },
    ))
}

/// The id of project `name`, created with no lists when missing.
pub(super) async fn project_id(conn: &mut Conn, name: &str) -> Result<i64> {
    sqlx::query("INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(&mut *conn)
        .await
        .ctx("creating a project")?;
    let row = sqlx::query("SELECT id FROM projects WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .ctx("looking up a project")?;
    get(&row, 0, "looking up a project")
}

// ---------------------------------------------------------------------------------------------
// Projects and cursors

pub(crate) async fn upsert_project(pool: &DbPool, p: &ProjectConfig) -> Result<()> {
    let json = |v: &Vec<String>| serde_json::to_string(v).map_err(|e| corrupt("project lists", e));
    sqlx::query(
        "INSERT INTO projects (name, list_ids, list_addresses, git_url, branch, mirror_url, tag_prefix, subject_prefixes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO UPDATE SET list_ids = excluded.list_ids, \
         list_addresses = excluded.list_addresses, git_url = excluded.git_url, branch = excluded.branch, \
         mirror_url = excluded.mirror_url, tag_prefix = excluded.tag_prefix, subject_prefixes = excluded.subject_prefixes",
    )
    .bind(clean(&p.name).as_ref())
    .bind(clean(&json(&p.list_ids)?).as_ref())
    .bind(clean(&json(&p.list_addresses)?).as_ref())
    .bind(p.git_url.as_deref().map(clean).as_deref())
    .bind(p.branch.as_deref().map(clean).as_deref())
    .bind(p.mirror_url.as_deref().map(clean).as_deref())
    .bind(p.tag_prefix.as_deref().map(clean).as_deref())
    .bind(clean(&json(&p.subject_prefixes)?).as_ref())
    .execute(pool)
    .await
    .ctx("saving a project")?;
    Ok(())
}

/// Every project's settings, without counting their series and messages.
pub(crate) async fn project_configs(pool: &DbPool) -> Result<Vec<ProjectConfig>> {
    let mut conn = pool.acquire().await.ctx("loading projects")?;
    Ok(load_projects(&mut conn).await?.into_iter().map(|(_, c)| c).collect())
}

pub(crate) async fn projects(pool: &DbPool) -> Result<Vec<ProjectSummary>> {
    let what = "listing projects";
    let rows = sqlx::query(
        "SELECT p.id, p.name, p.list_ids, p.list_addresses, p.git_url, p.branch, p.mirror_url, p.tag_prefix, \
         p.subject_prefixes, COALESCE(c.series, 0), COALESCE(c.messages, 0) \
         FROM projects p LEFT JOIN project_counts c ON c.project_id = p.id ORDER BY p.name",
    )
    .fetch_all(pool)
    .await
    .ctx(what)?;
    rows.iter()
        .map(|r| {
            let (_, config) = project_from_row(r)?;
            Ok(ProjectSummary {
                config,
                series: to_u64(get(r, 9, what)?),
                messages: to_u64(get(r, 10, what)?),
            })
        })
        .collect()
}
