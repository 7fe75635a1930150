//! JSON text written straight into a buffer, byte for byte as `serde_json` writes it.
//!
//! The file sinks write one line (NDJSON) or one `extra` cell (CSV, and the change check of
//! both) per record, a million per large run. Through `serde_json`'s serializer every
//! string, each key included, is escaped one byte at a time behind a generic formatter:
//! 13.5 % of all instructions of a sync into NDJSON (callgrind, 2026-12-06). Here keys are
//! literals and a string is copied eight bytes at a step until a byte needs escaping.
//! Numbers still go through `serde_json` (itoa/ryu). The output equals `serde_json`'s
//! compact output (property-tested below), so lines written before and after this module
//! read and digest alike.

use affiliate_core::rfc3339::{Fraction, Rfc3339};
use affiliate_core::Invitee;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Somewhere JSON text can be appended (a `String` cell or a `Vec<u8>` line buffer).
pub(crate) trait JsonOut {
    /// Appends `text` as it is.
    fn put(&mut self, text: &str);
}

impl JsonOut for String {
    fn put(&mut self, text: &str) {
        self.push_str(text);
    }
}

impl JsonOut for Vec<u8> {
    fn put(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
}

/// The invitee's JSON object without its closing `}` (the caller may add fields), in the
/// layout of `Invitee`'s `Serialize`: `source` flattened, `extra` left out when empty.
pub(crate) fn open_invitee(out: &mut impl JsonOut, invitee: &Invitee) {
    out.put("{\"provider\":");
    string(out, invitee.source.provider.as_str());
    out.put(",\"account\":");
    string(out, &invitee.source.account);
    out.put(",\"id\":");
    string(out, &invitee.id);
    out.put(",\"status\":");
    string(out, invitee.status.as_str());
    out.put(",\"invited_at\":");
    time(out, invitee.invited_at);
    out.put(",\"joined_at\":");
    time(out, invitee.joined_at);
    out.put(",\"updated_at\":");
    time(out, invitee.updated_at);
    out.put(",\"display_name\":");
    optional(out, invitee.display_name.as_deref());
    out.put(",\"email\":");
    optional(out, invitee.email.as_deref());
    out.put(",\"total_paid_micro\":");
    match invitee.total_paid_micro {
        Some(amount) => out.put(itoa::Buffer::new().format(amount)),
        None => out.put("null"),
    }
    out.put(",\"role\":");
    optional(out, invitee.role.as_deref());
    out.put(",\"invited_by\":");
    optional(out, invitee.invited_by.as_deref());
    if !invitee.extra.is_empty() {
        out.put(",\"extra\":");
        object(out, &invitee.extra);
    }
}

fn time(out: &mut impl JsonOut, at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => string(out, Rfc3339::new(at, Fraction::Auto).as_str()),
        None => out.put("null"),
    }
}

fn optional(out: &mut impl JsonOut, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.put("null"),
    }
}

/// A JSON object of values, keys in the map's order.
pub(crate) fn object(out: &mut impl JsonOut, map: &Map<String, Value>) {
    out.put("{");
    for (n, (key, value)) in map.iter().enumerate() {
        if n > 0 {
            out.put(",");
        }
        string(out, key);
        out.put(":");
        self::value(out, value);
    }
    out.put("}");
}

/// Any JSON value, compact.
pub(crate) fn value(out: &mut impl JsonOut, value: &Value) {
    match value {
        Value::Null => out.put("null"),
        Value::Bool(true) => out.put("true"),
        Value::Bool(false) => out.put("false"),
        Value::Number(number) => out.put(&number.to_string()),
        Value::String(text) => string(out, text),
        Value::Array(items) => {
            out.put("[");
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.put(",");
                }
                self::value(out, item);
            }
            out.put("]");
        }
        Value::Object(map) => object(out, map),
    }
}

/// A quoted JSON string: `"` and `\` escaped, `\b \t \n \f \r` short, other control
/// characters as `\u00xx` (lowercase), everything else as it is.
pub(crate) fn string(out: &mut impl JsonOut, text: &str) {
    out.put("\"");
    let bytes = text.as_bytes();
    // `start` and every escaped index are ASCII positions, so slicing `text` there is safe.
    let (mut start, mut at) = (0, 0);
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            if !needs_escape(word) {
                at += 8;
                continue;
            }
        }
        if let Some(escaped) = escape(bytes[at]) {
            out.put(&text[start..at]);
            out.put(escaped.as_str());
            start = at + 1;
        }
        at += 1;
    }
    out.put(&text[start..]);
    out.put("\"");
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes is below 0x20, `"` or `\` (the "has less than" and "has
/// zero byte" tests of Bit Twiddling Hacks, exact as booleans).
fn needs_escape(word: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    control
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
}

/// An escape sequence of at most six bytes, on the stack.
struct Escaped {
    bytes: [u8; 6],
    len: usize,
}

impl Escaped {
    fn as_str(&self) -> &str {
        // Only ASCII is ever written into `bytes`.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// How `byte` is written inside a string, or `None` when it is written as it is.
fn escape(byte: u8) -> Option<Escaped> {
    let short = |c: u8| Escaped {
        bytes: [b'\\', c, 0, 0, 0, 0],
        len: 2,
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => Some(short(b'"')),
        b'\\' => Some(short(b'\\')),
        0x08 => Some(short(b'b')),
        b'\t' => Some(short(b't')),
        b'\n' => Some(short(b'n')),
        0x0c => Some(short(b'f')),
        b'\r' => Some(short(b'r')),
        0..=0x1f => Some(Escaped {
            bytes: [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            len: 6,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use affiliate_core::{InviteeStatus, Provider, SourceId};
    use proptest::prelude::*;

    use super::*;

    fn written(write: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        write(&mut out);
        out
    }

    /// Arbitrary JSON values, strings drawn to hit every escape and multi-byte characters
    /// across eight-byte steps.
    fn values() -> impl Strategy<Value = Value> {
        let text = "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é€😀 ]{0,40}";
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(text, inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn strings_are_written_as_serde_json_writes_them(text in "\\PC{0,64}|[\u{0}-\u{7f}]{0,64}") {
            prop_assert_eq!(written(|o| string(o, &text)), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn values_are_written_as_serde_json_writes_them(value in values()) {
            prop_assert_eq!(written(|o| self::value(o, &value)), serde_json::to_string(&value).unwrap());
        }

        #[test]
        fn invitees_are_written_as_their_serialize_writes_them(
            id in "\\PC{1,20}",
            name in proptest::option::of("[a-z\"\\\\\n ]{0,30}"),
            paid in proptest::option::of(any::<i64>()),
            seconds in proptest::option::of(0i64..4_000_000_000),
            extra in proptest::option::of(values()),
        ) {
            let mut row = Invitee::new(SourceId::new(Provider::Census, "a\"b"), id, InviteeStatus::Other("x\ty".into()));
            row.display_name = name;
            row.total_paid_micro = paid;
            row.joined_at = seconds.and_then(|s| DateTime::from_timestamp(s, 123_000));
            if let Some(Value::Object(map)) = extra {
                row.extra = map;
            }
            let mut line = written(|o| open_invitee(o, &row));
            line.push('}');
            prop_assert_eq!(line, serde_json::to_string(&row).unwrap());
        }
    }
}
