//! NDJSON lines: one [`Invitee`] version per line in its own flat serde layout, plus
//! `synced_at` and the change marker `change` (`new` or `changed`).

use std::io::BufRead;

use affiliate_core::rfc3339::{Fraction, Rfc3339};
use affiliate_core::Invitee;
use chrono::{DateTime, Utc};

use super::scan::{Scan, ScanError, Version};
use super::written::{KeyDigest, VersionDigest};
use crate::sink::json_text;

/// Appends one line per row version to `out`: the invitee's own JSON object with
/// `synced_at` and `change` added at its end (written by [`json_text`](crate::sink::json_text),
/// which writes what `serde_json` would, at a fraction of its cost).
pub(super) fn encode(rows: &[(&Invitee, Version)], synced_at: DateTime<Utc>, out: &mut Vec<u8>) {
    let synced_at = Rfc3339::new(synced_at, Fraction::Auto);
    for (invitee, version) in rows {
        json_text::open_invitee(out, invitee);
        out.extend_from_slice(b",\"synced_at\":\"");
        out.extend_from_slice(synced_at.as_str().as_bytes());
        out.extend_from_slice(b"\",\"change\":\"");
        out.extend_from_slice(version.as_str().as_bytes());
        out.extend_from_slice(b"\"}\n");
    }
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
            scan.record(KeyDigest::of(&invitee), VersionDigest::of(&invitee));
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
        let at = Utc::now();
        encode(&[(&row, Version::New)], at, &mut bytes);
        let full = bytes.len() as u64;
        bytes.extend_from_slice(b"{\"provider\":\"triport\",\"acc");
        let scan = scan(&bytes[..], false).unwrap();
        assert_eq!((scan.valid_len, scan.rows), (full, 1));
        assert!(scan
            .written
            .has_key(KeyDigest::of_parts("triport", "a", "u1"))
            .unwrap());
        let line: serde_json::Value = serde_json::from_slice(&bytes[..full as usize]).unwrap();
        assert_eq!(line["change"], "new");
        assert_eq!(line["synced_at"], serde_json::to_value(at).unwrap());
        assert!(super::scan(&bytes[..], true).is_err());
        let back: Invitee = serde_json::from_slice(&bytes[..full as usize]).unwrap();
        assert_eq!(back, row);
    }
}
