//! Durations written as string literals in the attribute (`every = "250ms"`), parsed at
//! compile time: one or more `<integer><unit>` parts, largest unit first, each unit at
//! most once. Units: `h`, `m`, `s`, `ms`, `us`, `ns`. `"1m30s"` is 90 seconds.

/// The units, largest first, with their length in nanoseconds.
const UNITS: [(&str, u64); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// The duration `text` spells, in nanoseconds, or why it spells none.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let usage =
        "write a duration like \"250ms\", \"5s\", \"1m30s\" or \"2h\" (units: h, m, s, ms, us, ns)";
    if text.is_empty() {
        return Err(format!("empty duration: {usage}"));
    }
    let mut rest = text;
    let mut total: u64 = 0;
    // The index into `UNITS` below which the next part's unit must be.
    let mut smaller_than = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration: {usage}"));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(match (unit.is_empty(), after.chars().next()) {
                (true, None) => format!("`{text}` has a number without a unit: {usage}"),
                (true, Some('µ' | 'μ')) => format!("`{text}`: write `us` for microseconds"),
                (true, Some(other)) => format!("`{text}`: unexpected `{other}`: {usage}"),
                (false, _) => format!("`{text}`: unknown unit `{unit}`: {usage}"),
            });
        };
        if index < smaller_than {
            return Err(format!(
                "`{text}`: write the parts largest unit first, each unit once"
            ));
        }
        smaller_than = index + 1;
        let too_long = || format!("`{text}` is too long for a duration");
        let value: u64 = number.parse().map_err(|_| too_long())?;
        let part = value.checked_mul(UNITS[index].1).ok_or_else(too_long)?;
        total = total.checked_add(part).ok_or_else(too_long)?;
        rest = after;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn durations_parse() {
        assert_eq!(parse("250ms"), Ok(250_000_000));
        assert_eq!(parse("5s"), Ok(5_000_000_000));
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse("2h"), Ok(7_200_000_000_000));
        assert_eq!(parse("1h2m3s4ms5us6ns"), Ok(3_723_004_005_006));
        assert_eq!(parse("0s"), Ok(0));
    }

    #[test]
    fn non_durations_are_refused_with_a_reason() {
        for (text, reason) in [
            ("", "empty"),
            ("5", "without a unit"),
            ("-1s", "not a duration"),
            ("1y", "unknown unit `y`"),
            ("1.5s", "unexpected `.`"),
            ("1_000ms", "unexpected `_`"),
            ("5µs", "write `us`"),
            ("s", "not a duration"),
            ("30s1m", "largest unit first"),
            ("1s1s", "largest unit first"),
            ("5 s", "unexpected ` `"),
            ("99999999999999h", "too long"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(reason), "{text:?}: {error}");
        }
    }
}
