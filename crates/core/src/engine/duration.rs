//! The time formats of `WAIT` tasks: durations such as `"5s"` or `"1 hours 2 minutes"`,
//! and dates such as `"2026-12-01 14:30 UTC"`.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

/// Parses a duration into seconds: optional days, hours, minutes and seconds, in that
/// order, each a number followed by a unit (`d|day|days`, `h|hr|hrs|hour|hours`,
/// `m|min|mins|minute|minutes`, `s|sec|secs|second|seconds`), case-insensitive.
pub fn parse_duration_seconds(text: &str) -> Option<i64> {
    const UNITS: [(&[&str], i64); 4] = [
        (&["days", "day", "d"], 86_400),
        (&["hours", "hour", "hrs", "hr", "h"], 3_600),
        (&["minutes", "minute", "mins", "min", "m"], 60),
        (&["seconds", "second", "secs", "sec", "s"], 1),
    ];
    let lower = text.to_ascii_lowercase();
    let mut rest = lower.trim_start();
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return None;
        }
        let number: i64 = rest[..digits_end].parse().ok()?;
        rest = rest[digits_end..].trim_start();
        let mut matched = None;
        for (position, (names, seconds)) in UNITS.iter().enumerate().skip(next_unit) {
            // Longest names first, so "mins" is not read as "m" + "ins".
            if let Some(name) = names.iter().find(|name| {
                rest.starts_with(**name)
                    && !rest[name.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
            }) {
                matched = Some((position, *seconds, name.len()));
                break;
            }
        }
        let (position, seconds, len) = matched?;
        total = total.checked_add(number.checked_mul(seconds)?)?;
        next_unit = position + 1;
        rest = rest[len..].trim_start();
    }
    if next_unit == 0 { None } else { Some(total) }
}

/// Parses a `WAIT` `until` date into epoch milliseconds. Accepted forms:
/// `yyyy-MM-dd HH:mm`, `yyyy-MM-dd HH:mm <zone>` and `yyyy-MM-dd`. Dates without a zone
/// are UTC. Zones: `UTC`, `GMT`, `Z`, offsets such as `+05:30` or `GMT-08:00`, and the
/// common North American abbreviations.
pub fn parse_until_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    if let Ok(datetime) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M") {
        return Some(datetime.and_utc().timestamp_millis());
    }
    let (datetime_text, zone) = text.rsplit_once(' ')?;
    let datetime = NaiveDateTime::parse_from_str(datetime_text.trim(), "%Y-%m-%d %H:%M").ok()?;
    let offset = zone_offset(zone)?;
    offset
        .from_local_datetime(&datetime)
        .single()
        .map(|dt| dt.timestamp_millis())
}

fn zone_offset(zone: &str) -> Option<FixedOffset> {
    let upper = zone.trim().to_ascii_uppercase();
    let hours = match upper.as_str() {
        "UTC" | "GMT" | "Z" | "UT" => Some(0),
        "EST" => Some(-5),
        "EDT" => Some(-4),
        "CST" => Some(-6),
        "CDT" => Some(-5),
        "MST" => Some(-7),
        "MDT" => Some(-6),
        "PST" => Some(-8),
        "PDT" => Some(-7),
        _ => None,
    };
    if let Some(hours) = hours {
        return FixedOffset::east_opt(hours * 3600);
    }
    let numeric = upper
        .strip_prefix("GMT")
        .or_else(|| upper.strip_prefix("UTC"))
        .unwrap_or(&upper);
    let (sign, digits) = match numeric.chars().next()? {
        '+' => (1, &numeric[1..]),
        '-' => (-1, &numeric[1..]),
        _ => return None,
    };
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if digits.len() == 4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        None => (digits.parse().ok()?, 0),
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_seconds("5s"), Some(5));
        assert_eq!(parse_duration_seconds("1 hours 2 minutes"), Some(3720));
        assert_eq!(parse_duration_seconds("3d"), Some(259_200));
        assert_eq!(parse_duration_seconds("1d 1h 1m 1s"), Some(90_061));
        assert_eq!(parse_duration_seconds(" 10 mins "), Some(600));
        assert_eq!(parse_duration_seconds("2 Seconds"), Some(2));
        assert_eq!(parse_duration_seconds("1m 1h"), None);
        assert_eq!(parse_duration_seconds("abc"), None);
        assert_eq!(parse_duration_seconds(""), None);
        assert_eq!(parse_duration_seconds("10"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_until_millis("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_until_millis("1970-01-01 01:00"), Some(3_600_000));
        assert_eq!(parse_until_millis("1970-01-01 01:00 UTC"), Some(3_600_000));
        assert_eq!(parse_until_millis("1970-01-01 01:00 GMT+01:00"), Some(0));
        assert_eq!(
            parse_until_millis("1970-01-01 00:00 PST"),
            Some(8 * 3_600_000)
        );
        assert_eq!(parse_until_millis("tomorrow"), None);
        assert_eq!(parse_until_millis("1970-01-01 01:00 Mars"), None);
    }
}
