//! Events: what happened to series, in the order it happened, for feeds, notifications and the
//! APIs.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::*;

/// An event to record, written with others in one statement by `insert_events`.
pub(super) struct EventRow {
    pub(super) kind: String,
    pub(super) project: Option<String>,
    pub(super) series_head: Option<String>,
    pub(super) message_id: Option<String>,
    pub(super) payload: String,
}

impl EventRow {
    pub(super) fn new(
        kind: &str,
        project: Option<String>,
        series_head: Option<String>,
        payload: serde_json::Value,
    ) -> EventRow {
        EventRow {
            kind: kind.to_string(),
            project,
            series_head,
            message_id: None,
            payload: payload.to_string(),
        }
    }
}

/// Records `events` in their order (multi-row inserts keep it: ids ascend with the rows).
pub(super) async fn insert_events(conn: &mut Conn, events: &[EventRow]) -> Result<()> {
    let created = now();
    for chunk in events.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO events (kind, project, series_head, message_id, payload, created) ",
        );
        qb.push_values(chunk, |mut b, e| {
            b.push_bind(e.kind.as_str())
                .push_bind(e.project.as_deref())
                .push_bind(e.series_head.as_deref())
                .push_bind(e.message_id.as_deref())
                .push_bind(e.payload.as_str())
                .push_bind(created);
        });
        qb.build().execute(&mut *conn).await.ctx("recording events")?;
    }
    Ok(())
}

pub(super) async fn add_event_in(
    conn: &mut Conn,
    kind: &str,
    project: Option<&str>,
    series_head: Option<&str>,
    message_id: Option<&str>,
    payload: &serde_json::Value,
) -> Result<()> {
    let event = EventRow {
        kind: kind.to_string(),
        project: project.map(str::to_string),
        series_head: series_head.map(str::to_string),
        message_id: message_id.map(str::to_string),
        payload: payload.to_string(),
    };
    insert_events(conn, &[event]).await
}

pub(crate) async fn add_event(
    pool: &DbPool,
    kind: &str,
    project: Option<&str>,
    series_head: Option<&str>,
    message_id: Option<&str>,
    payload: &serde_json::Value,
) -> Result<()> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    add_event_in(&mut conn, kind, project, series_head, message_id, payload).await
}

pub(crate) async fn events(pool: &DbPool, after: i64, limit: u32) -> Result<Vec<Event>> {
    let what = "reading events";
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > $1 ORDER BY id LIMIT $2");
    let rows =
        sqlx::query(&sql).bind(after).bind(i64::from(limit)).fetch_all(pool).await.ctx(what)?;
    rows.iter().map(|r| event_row(r, what)).collect()
}

/// The columns [`event_row`] reads, in its order.
pub(super) const EVENT_COLUMNS: &str =
    "id, kind, project, series_head, message_id, payload, created";

/// The one decoder of an events row (`SELECT {EVENT_COLUMNS} ...`).
pub(super) fn event_row(r: &DbRow, what: &str) -> Result<Event> {
    let id: i64 = get(r, 0, what)?;
    Ok(Event {
        id,
        kind: get(r, 1, what)?,
        project: get(r, 2, what)?,
        series_head: get(r, 3, what)?,
        message_id: get(r, 4, what)?,
        payload: serde_json::from_str(&get::<String>(r, 5, what)?)
            .map_err(|e| corrupt(format!("event {id}"), e))?,
        created: get(r, 6, what)?,
    })
}
