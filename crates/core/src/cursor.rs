//! Plain-data positions in a provider's listing, so a run can be checkpointed after any page
//! and resumed in another process.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An inclusive time range a windowed source (CoinW) lists on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    /// First instant included.
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    pub start: DateTime<Utc>,
    /// Last instant included.
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    pub end: DateTime<Utc>,
}

/// Where one page starts inside one slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Position {
    /// Zero-based row offset plus the number of rows asked for.
    Offset {
        /// Rows to skip.
        offset: u64,
        /// Rows to return.
        limit: u32,
    },
    /// One-based page number plus the page size.
    Page {
        /// Page number, starting at 1.
        number: u64,
        /// Rows per page.
        size: u32,
    },
}

impl Position {
    /// Rows asked for on this page.
    pub fn size(&self) -> u32 {
        match *self {
            Position::Offset { limit, .. } => limit,
            Position::Page { size, .. } => size,
        }
    }

    /// The position right after this one, without overlap.
    pub fn following(&self) -> Position {
        match *self {
            Position::Offset { offset, limit } => Position::Offset {
                offset: offset + u64::from(limit),
                limit,
            },
            Position::Page { number, size } => Position::Page {
                number: number + 1,
                size,
            },
        }
    }

    /// Whether pages at this position can overlap: offsets with a limit of 2 or more (a
    /// page number always starts where the page before it ended).
    pub fn overlaps(&self) -> bool {
        matches!(*self, Position::Offset { limit, .. } if limit >= 2)
    }

    /// The position after this one that starts with this one's last row, when it
    /// [overlaps](Position::overlaps) (offsets `limit - 1` apart); otherwise
    /// [`following`](Position::following). A page that does not start with the row the page
    /// before it ended with shows that rows slid between the two reads, even when the list's
    /// total stayed the same (a deletion and an arrival).
    pub fn following_with_overlap(&self) -> Position {
        match *self {
            Position::Offset { offset, limit } if self.overlaps() => Position::Offset {
                offset: offset + u64::from(limit) - 1,
                limit,
            },
            _ => self.following(),
        }
    }

    /// The same first row, asked for alone (a page of one row).
    ///
    /// ```
    /// use affiliate_core::Position;
    /// let third_page = Position::Page { number: 3, size: 100 };
    /// assert_eq!(third_page.single_row(), Position::Page { number: 201, size: 1 });
    /// assert_eq!(third_page.single_row().first_row(), third_page.first_row());
    /// ```
    pub fn single_row(&self) -> Position {
        match *self {
            Position::Offset { offset, .. } => Position::Offset { offset, limit: 1 },
            Position::Page { .. } => Position::Page {
                number: self.first_row() + 1,
                size: 1,
            },
        }
    }

    /// Zero-based index of the first row this position asks for.
    pub fn first_row(&self) -> u64 {
        match *self {
            Position::Offset { offset, .. } => offset,
            Position::Page { number, size } => number.saturating_sub(1) * u64::from(size),
        }
    }
}

/// The first page of a slice or any later page: a window (for windowed sources) plus a
/// position inside it. Serialisable, comparable and hashable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// The time window this slice covers, for windowed sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Where the page starts.
    pub position: Position,
    /// Whether the page is read newest first although the slice lists oldest first (a
    /// [`pinned`](crate::InviteeSource::lists_newest_first) counted pass reads the newest
    /// page as it starts and when it ends); such a position counts rows from the newest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub newest_first: bool,
}

impl Cursor {
    /// A cursor for a source that is not windowed.
    pub fn at(position: Position) -> Self {
        Self {
            window: None,
            position,
            newest_first: false,
        }
    }

    /// A cursor inside a window.
    pub fn in_window(window: Window, position: Position) -> Self {
        Self {
            window: Some(window),
            position,
            newest_first: false,
        }
    }

    /// The first cursor of a slice listing `scope`: for an incremental scope, marked with
    /// its window (`since` to `until`, or now), which tells an oldest-first source's
    /// `fetch` to list newest first down to `since`; otherwise unmarked.
    pub fn scoped(scope: &crate::Scope, position: Position) -> Self {
        match scope.since {
            Some(start) => {
                let end = scope.until.unwrap_or_else(chrono::Utc::now).max(start);
                Self::in_window(Window { start, end }, position)
            }
            None => Self::at(position),
        }
    }

    /// The same slice at another position.
    pub fn with_position(&self, position: Position) -> Self {
        Self {
            window: self.window,
            position,
            newest_first: self.newest_first,
        }
    }

    /// The first page of the same slice, of the same size, read newest first.
    pub fn newest_page(&self) -> Self {
        let position = match self.position {
            Position::Offset { limit, .. } => Position::Offset { offset: 0, limit },
            Position::Page { size, .. } => Position::Page { number: 1, size },
        };
        Self {
            window: self.window,
            position,
            newest_first: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_roundtrip_through_json() {
        let window = Window {
            start: DateTime::from_timestamp(0, 0).unwrap(),
            end: DateTime::from_timestamp(59, 0).unwrap(),
        };
        let c = Cursor::in_window(
            window,
            Position::Page {
                number: 3,
                size: 1000,
            },
        );
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Cursor>(&text).unwrap(), c);
        assert!(text.contains("\"kind\":\"page\""));
    }

    #[test]
    fn only_offsets_of_two_rows_or_more_overlap() {
        let offset = |offset, limit| Position::Offset { offset, limit };
        assert_eq!(offset(0, 10).following_with_overlap(), offset(9, 10));
        assert_eq!(offset(9, 10).following_with_overlap(), offset(18, 10));
        assert_eq!(offset(4, 1).following_with_overlap(), offset(5, 1));
        let page = Position::Page {
            number: 2,
            size: 10,
        };
        assert_eq!(
            page.following_with_overlap(),
            Position::Page {
                number: 3,
                size: 10
            }
        );
        assert!(!page.overlaps());
    }
}
