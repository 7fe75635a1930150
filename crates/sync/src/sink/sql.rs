//! Encoding of sync state shared by the database sinks: cursors and id lists are stored as
//! JSON text, one row per slice.

use affiliate_core::Cursor;

use super::PageCommit;
use crate::state::{cursor_key, SliceProgress, SliceState};

/// A slice as database columns.
#[derive(Debug)]
pub(crate) struct SliceRow {
    /// `slice`: the first cursor as JSON (the key).
    pub(crate) slice: String,
    /// `resume`: where to continue, as JSON; `None` when pending or complete.
    pub(crate) resume: Option<String>,
    /// `complete`.
    pub(crate) complete: bool,
    /// `head_ids` as a JSON array; `None` when there are none.
    pub(crate) head_ids: Option<String>,
}

impl SliceRow {
    /// The columns of a planned or loaded slice.
    pub(crate) fn of_state(state: &SliceState) -> Self {
        let (resume, complete) = match &state.progress {
            SliceProgress::Pending => (None, false),
            SliceProgress::At(cursor) => (Some(cursor_key(cursor)), false),
            SliceProgress::Complete => (None, true),
        };
        Self {
            slice: cursor_key(&state.start),
            resume,
            complete,
            head_ids: ids_json(&state.head_ids),
        }
    }

    /// The columns a page commit writes.
    pub(crate) fn of_commit(commit: &PageCommit<'_>) -> Self {
        Self {
            slice: cursor_key(commit.slice),
            resume: commit.resume.map(cursor_key),
            complete: commit.resume.is_none(),
            head_ids: commit.head_ids.and_then(ids_json),
        }
    }

    /// Back to a slice; the error names the bad column.
    pub(crate) fn into_state(self) -> Result<SliceState, String> {
        let start: Cursor = serde_json::from_str(&self.slice)
            .map_err(|e| format!("slice {:?} is not a cursor: {e}", self.slice))?;
        let progress = match (self.complete, self.resume) {
            (true, _) => SliceProgress::Complete,
            (false, None) => SliceProgress::Pending,
            (false, Some(text)) => SliceProgress::At(
                serde_json::from_str(&text)
                    .map_err(|e| format!("resume {text:?} is not a cursor: {e}"))?,
            ),
        };
        let head_ids = match self.head_ids {
            None => Vec::new(),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| format!("head_ids {text:?} is not a list of ids: {e}"))?,
        };
        Ok(SliceState {
            start,
            progress,
            head_ids,
        })
    }
}

fn ids_json(ids: &[String]) -> Option<String> {
    if ids.is_empty() {
        None
    } else {
        serde_json::to_string(ids).ok()
    }
}
