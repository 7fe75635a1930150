//! CSV (RFC 4180): a header of [`COLUMNS`] plus `change`, one record per row version
//! (`change` is `new` or `changed`), fields quoted only when they hold a comma, a quote or
//! a line break; records end with `\n`. Files written before `change` existed (header of
//! [`COLUMNS`] only) are still read.

use std::io::Read;

use affiliate_core::Invitee;
use chrono::{DateTime, Utc};

use super::scan::{Scan, ScanError, Version};
use super::written::{KeyDigest, VersionDigest};
use crate::sink::changes::TRACKED;
use crate::sink::row::{text_cells, COLUMNS};

/// The header written: [`COLUMNS`] and the change marker.
fn header() -> Vec<&'static str> {
    COLUMNS.iter().copied().chain(["change"]).collect()
}

/// Appends the header (when `header`) and one record per row version to `out`.
pub(super) fn encode(
    rows: &[(&Invitee, Version)],
    synced_at: DateTime<Utc>,
    with_header: bool,
    out: &mut Vec<u8>,
) -> Result<(), csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(&mut *out);
    if with_header {
        writer.write_record(header())?;
    }
    for (invitee, version) in rows {
        let cells = text_cells(invitee, synced_at);
        let cells = cells.iter().map(|c| c.as_deref().unwrap_or(""));
        writer.write_record(cells.chain([version.as_str()]))?;
    }
    writer.flush()?;
    Ok(())
}

/// Reads the header and the key of every record of `reader`, whose last byte is
/// `ends_with_newline`. With `strict` every record must be whole; otherwise a torn last
/// record (a crash mid-write) is left out of [`Scan::valid_len`].
pub(super) fn scan(
    reader: impl Read,
    ends_with_newline: bool,
    strict: bool,
) -> Result<Scan, ScanError> {
    let mut scan = Scan::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let mut header_seen = false;
    let mut width = 0;
    // The last good record counts once another record starts after it (so its terminator
    // was read) or the input ends with a newline.
    let mut pending: Option<(KeyDigest, VersionDigest, u64)> = None;
    let mut torn_at: Option<u64> = None;
    loop {
        let start = reader.position().byte();
        let result = reader.read_byte_record(&mut record);
        if matches!(result, Ok(false)) {
            break;
        }
        if let Some(at) = torn_at {
            return Err(ScanError::Invalid(format!(
                "the record at byte {at} is malformed and is not the last one"
            )));
        }
        if let Some((key, version, valid)) = pending.take() {
            scan.record(key, version);
            scan.valid_len = valid;
        }
        match result {
            Err(err) if err.is_io_error() => {
                return Err(ScanError::Invalid(format!(
                    "reading at byte {start}: {err}"
                )))
            }
            Err(_) => torn_at = Some(start),
            Ok(_) if !header_seen => {
                let legacy = record.iter().eq(COLUMNS.iter().map(|c| c.as_bytes()));
                if !legacy && record.iter().ne(header().iter().map(|c| c.as_bytes())) {
                    let line = record.iter().collect::<Vec<_>>().join(&b","[..]);
                    if !strict
                        && !ends_with_newline
                        && header().join(",").as_bytes().starts_with(&line)
                    {
                        // A header cut off by a crash during the first write.
                        return Ok(Scan::default());
                    }
                    return Err(ScanError::Invalid(format!(
                        "the header is not {:?}; this file was not written by this sink",
                        header().join(",")
                    )));
                }
                header_seen = true;
                width = record.len();
                scan.valid_len = reader.position().byte();
            }
            Ok(_) if record.len() != width => torn_at = Some(start),
            Ok(_) => {
                let field = |i: usize| String::from_utf8_lossy(record.get(i).unwrap_or_default());
                let key = KeyDigest::of_parts(&field(0), &field(1), &field(2));
                let cells: Vec<_> = (3..3 + TRACKED.len()).map(field).collect();
                let version = VersionDigest::of_cells(cells.iter().map(|c| Some(&**c)));
                pending = Some((key, version, reader.position().byte()));
            }
        }
    }
    if !header_seen && torn_at.is_none() {
        return Ok(scan); // empty input
    }
    let tail_whole = torn_at.is_none() && ends_with_newline;
    if tail_whole {
        if let Some((key, version, valid)) = pending {
            scan.record(key, version);
            scan.valid_len = valid;
        }
    } else if strict {
        return Err(ScanError::Invalid(
            "the last committed record is cut off or malformed".to_owned(),
        ));
    } else if pending.is_none() && torn_at.is_none() {
        // The header itself is the unterminated last record.
        scan.valid_len = 0;
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use affiliate_core::{InviteeStatus, Provider, SourceId};

    use super::*;

    fn row(id: &str, name: &str) -> Invitee {
        let mut row = Invitee::new(
            SourceId::new(Provider::Census, "acme"),
            id,
            InviteeStatus::Invited,
        );
        row.display_name = Some(name.to_owned());
        row
    }

    #[test]
    fn quotes_only_what_needs_quoting() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        let mut out = Vec::new();
        let (plain, quoted) = (row("1", "Plain"), row("2", "Doe, \"Jo\"\nline"));
        encode(
            &[(&plain, Version::New), (&quoted, Version::Changed)],
            at,
            true,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.split('\n');
        assert_eq!(lines.next(), Some(header().join(",").as_str()));
        assert_eq!(
            lines.next(),
            Some("census,acme,1,invited,,,,Plain,,,,,,1970-01-01T00:00:00.000000Z,new")
        );
        assert!(text.contains("\"Doe, \"\"Jo\"\"\nline\""));
    }

    #[test]
    fn a_torn_tail_is_left_out_unless_strict() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        let mut out = Vec::new();
        encode(&[(&row("1", "a\nb"), Version::New)], at, true, &mut out).unwrap();
        let whole = out.len() as u64;
        let scan_whole = scan(&out[..], true, true).unwrap();
        assert_eq!((scan_whole.valid_len, scan_whole.rows), (whole, 1));
        let mut torn = Vec::new();
        encode(&[(&row("2", "c\nd"), Version::New)], at, false, &mut torn).unwrap();
        out.extend_from_slice(&torn[..20]);
        let scan_torn = scan(&out[..], out.last() == Some(&b'\n'), false).unwrap();
        assert_eq!((scan_torn.valid_len, scan_torn.rows), (whole, 1));
        assert!(!scan_torn
            .written
            .has_key(KeyDigest::of_parts("census", "acme", "2"))
            .unwrap());
        assert!(scan(&out[..], false, true).is_err());
    }

    #[test]
    fn foreign_headers_are_refused() {
        assert!(scan(&b"a,b,c\n1,2,3\n"[..], true, false).is_err());
    }
}
