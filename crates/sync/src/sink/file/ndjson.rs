//! NDJSON lines: one [`Invitee`] version per line in its own flat serde layout, plus
//! `synced_at` and the change marker `change` (`new` or `changed`).

use std::io::BufRead;

use affiliate_core::Invitee;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::scan::{Scan, ScanError, Version};
use crate::sink::changes::{tracked, version_key};
use crate::sink::row::row_key;

#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    invitee: &'a Invitee,
    synced_at: DateTime<Utc>,
    change: &'static str,
}

/// Appends one line per row version to `out`.
pub(super) fn encode(
    rows: &[(&Invitee, Version)],
    synced_at: DateTime<Utc>,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    for (invitee, version) in rows {
        let line = Line {
            invitee,
            synced_at,
            change: version.as_str(),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.push(b'\n');
    }
    Ok(())
}

/// Reads the keys of every complete line. With `strict`, the input must end with a complete
/// line; otherwise a torn last line (no newline: a crash mid-write) is left out of
/// [`Scan::valid_len`].
pub(super) fn scan(mut reader: impl BufRead, strict: bool) -> Result<Scan, ScanError> {
    let mut scan = Scan::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(ScanError::Io)?;
        if read == 0 {
            return Ok(scan);
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            if strict {
                return Err(ScanError::Invalid(format!(
                    "line {number} is cut off (no newline) inside the committed part"
                )));
            }
            return Ok(scan);
        }
        let text = line.trim_ascii();
        if !text.is_empty() {
            let invitee: Invitee = serde_json::from_slice(text).map_err(|err| {
                ScanError::Invalid(format!("line {number} is not an invitee record: {err}"))
            })?;
            let key = row_key(&invitee);
            scan.record(&key, &version_key(&key, &tracked(&invitee)));
        }
        scan.valid_len += read as u64;
    }
}

#[cfg(test)]
mod tests {
    use affiliate_core::{InviteeStatus, Provider, SourceId};

    use super::*;

    #[test]
    fn lines_roundtrip_and_torn_tails_are_left_out() {
        let row = Invitee::new(
            SourceId::new(Provider::Triport, "a"),
            "u1",
            InviteeStatus::Joined,
        );
        let mut bytes = Vec::new();
        encode(&[(&row, Version::New)], Utc::now(), &mut bytes).unwrap();
        let full = bytes.len() as u64;
        bytes.extend_from_slice(b"{\"provider\":\"triport\",\"acc");
        let scan = scan(&bytes[..], false).unwrap();
        assert_eq!((scan.valid_len, scan.rows), (full, 1));
        assert!(scan
            .written
            .has_key(&crate::sink::row::key_of("triport", "a", "u1")));
        assert!(String::from_utf8_lossy(&bytes).contains("\"change\":\"new\""));
        assert!(super::scan(&bytes[..], true).is_err());
        let back: Invitee = serde_json::from_slice(&bytes[..full as usize]).unwrap();
        assert_eq!(back, row);
    }
}
