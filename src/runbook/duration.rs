//! Durations written as `"30s"`, `"10m"`, `"48h"`, `"1h 30m"`, `"200ms"`.
//!
//! Units are `ms`, `s`, `m`, `h`, `d` and their long forms, in lower case:
//! `"5M"` is refused rather than read as five months (or five minutes), and
//! weeks, months and years are not units, so that no duration is ambiguous.

use std::time::Duration;

const UNIT_LIST: &str = "ms, s, m, h, d";

/// Each unit's spellings (those a runbook could use before) and its length in ms.
const UNITS: &[(&[&str], u64)] = &[
    (&["ms", "msec", "millis"], 1),
    (&["s", "sec", "secs", "second", "seconds"], 1_000),
    (&["m", "min", "mins", "minute", "minutes"], 60_000),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000),
    (&["d", "day", "days"], 86_400_000),
];

fn unit_ms(unit: &str) -> Option<u64> {
    UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit))
        .map(|(_, ms)| *ms)
}

fn example() -> &'static str {
    "write it like \"30s\", \"10m\" or \"48h\""
}

pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("a duration cannot be empty; {}", example()));
    }
    if trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "'{text}' has no unit; write it like \"{trimmed}s\" or \"{trimmed}m\""
        ));
    }
    let not_a_duration = || format!("'{text}' is not a duration; {}", example());
    let too_long = || format!("'{text}' is too long a duration");
    let mut rest = trimmed;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(not_a_duration());
        }
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(if after.is_empty() {
                format!("'{text}' ends in '{number}' with no unit; units are {UNIT_LIST}")
            } else {
                not_a_duration()
            });
        }
        let Some(ms_per_unit) = unit_ms(unit) else {
            let hint = match unit {
                "M" => " (minutes are 'm'; months are not a unit)",
                _ if unit_ms(&unit.to_lowercase()).is_some() => " (units are lower case)",
                _ => "",
            };
            return Err(format!(
                "'{text}': '{unit}' is not a unit{hint}; units are {UNIT_LIST}"
            ));
        };
        total_ms = amount_ms(number, ms_per_unit)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| {
                if number.matches('.').count() > 1 || number.ends_with('.') {
                    not_a_duration()
                } else {
                    too_long()
                }
            })?;
        rest = after.trim_start();
    }
    Ok(Duration::from_millis(total_ms))
}

/// `number` (digits, perhaps with a decimal point) of a unit, in whole ms.
fn amount_ms(number: &str, ms_per_unit: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (number.contains('.') && fraction.is_empty()) {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut ms = whole.checked_mul(ms_per_unit)?;
    // A fraction finer than a millisecond is dropped.
    let mut scale = ms_per_unit;
    for digit in fraction.chars().filter_map(|c| c.to_digit(10)) {
        scale /= 10;
        ms = ms.checked_add(u64::from(digit) * scale)?;
    }
    Some(ms)
}

/// Short human form: `850ms`, `12.3s`, `4m05s`, `2h10m`.
pub fn short(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let s = d.as_secs();
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_runbooks_use() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(parse("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(
            parse("10")
                .expect_err("a bare number is refused")
                .contains("no unit")
        );
        assert!(parse("ten minutes").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn long_unit_words_are_kept() {
        assert_eq!(parse("5 minutes"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("2hours"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1 day 3 hrs"), Ok(Duration::from_secs(27 * 3600)));
        assert_eq!(parse("30secs"), Ok(Duration::from_secs(30)));
    }

    #[test]
    fn ambiguous_and_foreign_units_are_refused() {
        let months = parse("5M").expect_err("'M' is not minutes nor months");
        assert!(months.contains("'M' is not a unit"), "{months}");
        assert!(months.contains("minutes are 'm'"), "{months}");
        for text in ["2w", "1y", "3months", "10us", "5S", "1h 30", "1..5s", "1.s"] {
            assert!(parse(text).is_err(), "'{text}' is refused");
        }
        assert!(parse("5S").expect_err("upper case").contains("lower case"));
        assert!(parse("1h 30").expect_err("no unit").contains("no unit"));
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let err = parse("99999999999999999999d").expect_err("too long");
        assert!(err.contains("too long"), "{err}");
        assert!(parse("18446744073709551615d").is_err());
    }

    #[test]
    fn short_form() {
        assert_eq!(short(Duration::from_millis(850)), "850ms");
        assert_eq!(short(Duration::from_secs(30)), "30s");
        assert_eq!(short(Duration::from_millis(1500)), "1.5s");
        assert_eq!(short(Duration::from_secs(245)), "4m05s");
        assert_eq!(short(Duration::from_secs(7800)), "2h10m");
    }
}
