//! The message of one slice on the queue, and reading a credential's messages.

use affiliate_core::SourceId;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPool;
use sqlx::types::Json;

use crate::sink::db;
use crate::SinkError;

/// One slice of one planned run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SliceTask {
    /// `provider/account`: what a worker holding that credential's lease reads by.
    pub(crate) source: String,
    /// The run the slice belongs to; a message of an older run is archived unread.
    pub(crate) run: String,
    /// The slice's first cursor as stored in `sync_slices.slice`.
    pub(crate) slice: String,
    /// A second pass over a finished slice (the newest window of a source whose arrivals
    /// land there, queued when its run's other slices are done).
    #[serde(default)]
    pub(crate) reread: bool,
}

/// The key a task names its source by.
pub(crate) fn source_key(id: &SourceId) -> String {
    format!("{}/{}", id.provider, id.account)
}

/// A message as a worker read it.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) msg_id: i64,
    /// How many times the message has been read, this time included.
    pub(crate) read_ct: i32,
    pub(crate) task: SliceTask,
}

/// Reads up to `qty` visible messages of `source`, hiding them for `vt` seconds.
pub(crate) async fn read(
    pool: &PgPool,
    queue: &str,
    source: &str,
    vt: i32,
    qty: i32,
) -> Result<Vec<Delivery>, SinkError> {
    let filter = serde_json::json!({ "source": source });
    let rows: Vec<(i64, i32, Json<SliceTask>)> = sqlx::query_as(
        "SELECT msg_id, read_ct, message FROM pgmq.read(queue_name => $1, vt => $2, qty => $3, \
         conditional => $4::jsonb)",
    )
    .bind(queue)
    .bind(vt)
    .bind(qty)
    .bind(Json(filter))
    .fetch_all(pool)
    .await
    .map_err(db("reading the queue"))?;
    Ok(rows
        .into_iter()
        .map(|(msg_id, read_ct, Json(task))| Delivery {
            msg_id,
            read_ct,
            task,
        })
        .collect())
}

/// Messages of `sources` still on the queue (visible or not); archived ones do not count.
pub(crate) async fn pending(
    pool: &PgPool,
    queue: &str,
    sources: &[String],
) -> Result<i64, SinkError> {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM pgmq.q_{queue} WHERE message->>'source' = ANY($1)"
    ))
    .bind(sources)
    .fetch_one(pool)
    .await
    .map_err(db("counting queued slices"))
}
