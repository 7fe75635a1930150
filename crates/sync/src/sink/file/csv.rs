//! CSV (RFC 4180): a header of [`COLUMNS`], one record per row, fields quoted only when
//! they hold a comma, a quote or a line break; records end with `\n`.

use std::io::Read;

use affiliate_core::Invitee;
use chrono::{DateTime, Utc};

use super::scan::{Scan, ScanError};
use crate::sink::row::{key_of, text_cells, COLUMNS};

/// Appends the header (when `header`) and one record per row to `out`.
pub(super) fn encode(
    rows: &[&Invitee],
    synced_at: DateTime<Utc>,
    header: bool,
    out: &mut Vec<u8>,
) -> Result<(), csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(&mut *out);
    if header {
        writer.write_record(COLUMNS)?;
    }
    for invitee in rows {
        let cells = text_cells(invitee, synced_at);
        writer.write_record(cells.iter().map(|c| c.as_deref().unwrap_or("")))?;
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
    // The last good record counts once another record starts after it (so its terminator
    // was read) or the input ends with a newline.
    let mut pending: Option<(String, u64)> = None;
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
        if let Some((key, valid)) = pending.take() {
            scan.keys.insert(&key);
            scan.rows += 1;
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
                if record.iter().ne(COLUMNS.iter().map(|c| c.as_bytes())) {
                    let line = record.iter().collect::<Vec<_>>().join(&b","[..]);
                    if !strict
                        && !ends_with_newline
                        && COLUMNS.join(",").as_bytes().starts_with(&line)
                    {
                        // A header cut off by a crash during the first write.
                        return Ok(Scan::default());
                    }
                    return Err(ScanError::Invalid(format!(
                        "the header is not {:?}; this file was not written by this sink",
                        COLUMNS.join(",")
                    )));
                }
                header_seen = true;
                scan.valid_len = reader.position().byte();
            }
            Ok(_) if record.len() != COLUMNS.len() => torn_at = Some(start),
            Ok(_) => {
                let field = |i: usize| {
                    String::from_utf8_lossy(record.get(i).unwrap_or_default()).into_owned()
                };
                pending = Some((
                    key_of(&field(0), &field(1), &field(2)),
                    reader.position().byte(),
                ));
            }
        }
    }
    if !header_seen && torn_at.is_none() {
        return Ok(scan); // empty input
    }
    let tail_whole = torn_at.is_none() && ends_with_newline;
    if tail_whole {
        if let Some((key, valid)) = pending {
            scan.keys.insert(&key);
            scan.rows += 1;
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
        encode(
            &[&row("1", "Plain"), &row("2", "Doe, \"Jo\"\nline")],
            at,
            true,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.split('\n');
        assert_eq!(lines.next(), Some(COLUMNS.join(",").as_str()));
        assert_eq!(
            lines.next(),
            Some("census,acme,1,invited,,,,Plain,,,,,,1970-01-01T00:00:00.000000Z")
        );
        assert!(text.contains("\"Doe, \"\"Jo\"\"\nline\""));
    }

    #[test]
    fn a_torn_tail_is_left_out_unless_strict() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        let mut out = Vec::new();
        encode(&[&row("1", "a\nb")], at, true, &mut out).unwrap();
        let whole = out.len() as u64;
        let scan_whole = scan(&out[..], true, true).unwrap();
        assert_eq!((scan_whole.valid_len, scan_whole.rows), (whole, 1));
        let mut torn = Vec::new();
        encode(&[&row("2", "c\nd")], at, false, &mut torn).unwrap();
        out.extend_from_slice(&torn[..20]);
        let scan_torn = scan(&out[..], out.last() == Some(&b'\n'), false).unwrap();
        assert_eq!((scan_torn.valid_len, scan_torn.rows), (whole, 1));
        assert!(!scan_torn.keys.contains(&key_of("census", "acme", "2")));
        assert!(scan(&out[..], false, true).is_err());
    }

    #[test]
    fn foreign_headers_are_refused() {
        assert!(scan(&b"a,b,c\n1,2,3\n"[..], true, false).is_err());
    }
}
