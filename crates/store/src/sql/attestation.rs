//! Attestation (migration 0061): compiled once per database like every file of `sql/`.

use super::*;
pub(crate) async fn attestations(
    pool: &DbPool,
    message_ids: &[String],
) -> Result<HashMap<String, crate::attestation::Attestation>> {
    let what = "reading attestations";
    let mut out = HashMap::new();
    if message_ids.is_empty() {
        return Ok(out);
    }
    let wanted: HashSet<String> = message_ids.iter().map(|m| clean(m).into_owned()).collect();
    let hashes: Vec<i64> = wanted.iter().map(|m| text_hash(m)).collect();
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let rows = fetch_in(
        &mut conn,
        "SELECT m.message_id, r.attestation FROM messages m JOIN raw_messages r ON r.id = m.id \
         WHERE r.attestation IS NOT NULL AND m.mid_hash IN",
        "",
        &hashes,
        what,
    )
    .await?;
    for row in rows {
        let mid: String = get(&row, 0, what)?;
        if !wanted.contains(&mid) {
            continue;
        }
        let text: String = get(&row, 1, what)?;
        // A row written by a newer quire that this one cannot read is shown as not verified.
        if let Ok(a) = serde_json::from_str(&text) {
            out.insert(mid, a);
        }
    }
    Ok(out)
}

pub(crate) async fn raw_for_attestation(
    pool: &DbPool,
    after_id: i64,
    limit: u32,
) -> Result<Vec<crate::attestation::RawForAttestation>> {
    let what = "reading raw messages to verify";
    let rows = sqlx::query(
        "SELECT id, message_id, data FROM raw_messages WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after_id)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .ctx(what)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let data: Vec<u8> = get(r, 2, what)?;
        out.push(crate::attestation::RawForAttestation {
            id: get(r, 0, what)?,
            message_id: get(r, 1, what)?,
            raw: zstd::decode_all(data.as_slice()).map_err(|e| corrupt("stored raw message", e))?,
        });
    }
    Ok(out)
}

pub(crate) async fn set_attestations(
    pool: &DbPool,
    rows: &[(i64, crate::attestation::Attestation)],
) -> Result<()> {
    let what = "storing attestations";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    for (id, a) in rows {
        let text = serde_json::to_string(a).map_err(|e| corrupt("attestation", e))?;
        sqlx::query("UPDATE raw_messages SET attestation = $1 WHERE id = $2")
            .bind(clean(&text).as_ref())
            .bind(*id)
            .execute(&mut *tx)
            .await
            .ctx(what)?;
    }
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    for chunk in ids.chunks(INSERT_ROWS.max(1)) {
        touch_series_of(&mut tx, chunk).await?;
    }
    tx.commit().await.ctx(what)
}
