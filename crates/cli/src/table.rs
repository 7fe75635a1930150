//! Plain-text tables and number formatting for terminal output.

/// A column: its header and whether values are right-aligned (numbers).
pub(crate) type Column<'a> = (&'a str, bool);

/// Renders `rows` under `columns`, padded to the widest cell, with a rule under the header.
pub(crate) fn render(columns: &[Column<'_>], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let parts: Vec<String> = cells
            .zip(columns.iter().zip(&widths))
            .map(|(cell, ((_, right), width))| {
                if *right {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        parts.join("  ").trim_end().to_owned()
    };
    let mut out = line(&mut columns.iter().map(|(h, _)| *h));
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&rule.join("  "));
    out.push('\n');
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
        out.push('\n');
    }
    out
}

/// Micro-units as currency units with two decimals (`1234567` → `1.23`), rounded half away
/// from zero, with thousands separators (`1,234.50`).
pub(crate) fn units(micro: i128) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let cents = (micro.unsigned_abs() + 5_000) / 10_000;
    format!("{sign}{}.{:02}", thousands(cents / 100), cents % 100)
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: impl Into<u128>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let text = render(
            &[("provider", false), ("n", true)],
            &[
                vec!["coinw".into(), "5".into()],
                vec!["census".into(), "1,000".into()],
            ],
        );
        assert_eq!(
            text,
            "provider      n\n--------  -----\ncoinw         5\ncensus    1,000\n"
        );
    }

    #[test]
    fn money_and_thousands() {
        assert_eq!(units(0), "0.00");
        assert_eq!(units(1_234_567), "1.23");
        assert_eq!(units(1_235_000), "1.24");
        assert_eq!(units(-5_000_000), "-5.00");
        assert_eq!(units(1_234_500_000_000), "1,234,500.00");
        assert_eq!(thousands(999u64), "999");
        assert_eq!(thousands(1_000u64), "1,000");
    }
}
