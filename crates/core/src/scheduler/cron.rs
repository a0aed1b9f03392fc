//! Cron expressions as the Conductor scheduler reads them: Spring's six fields
//! (`second minute hour day-of-month month day-of-week`, with `?`, `L`, `W`, `#`,
//! names such as `MON` and `JAN`, `0/5` steps, and macros such as `@daily`), evaluated in the
//! schedule's time zone. The day of the month and the day of the week must both
//! match when both are given, as in Spring; Sunday is `0` or `7`.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The longest expression read.
pub const MAX_EXPRESSION_CHARS: usize = 256;

/// A cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: Cron,
    zone: Tz,
}

impl CronSchedule {
    /// Reads an expression and a zone id (an IANA name such as `Europe/Berlin`, or
    /// `UTC`; none is UTC). The error says what is wrong.
    pub fn parse(expression: &str, zone_id: Option<&str>) -> Result<CronSchedule, String> {
        if expression.chars().count() > MAX_EXPRESSION_CHARS {
            return Err(format!(
                "Cron expression is longer than {MAX_EXPRESSION_CHARS} characters"
            ));
        }
        let zone = zone(zone_id)?;
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .dom_and_dow(true)
            // Spring reads `0/5` as "from 0, every 5".
            .sloppy_ranges(true)
            .build()
            .parse(expression)
            .map_err(|err| format!("Invalid cron expression '{expression}': {err}"))?;
        Ok(CronSchedule { cron, zone })
    }

    /// The first time the expression matches strictly after `after_ms` (epoch
    /// milliseconds), or None when it matches no more (say, the 30th of February).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = self.zone.timestamp_millis_opt(after_ms).single()?;
        self.cron
            .find_next_occurrence(&after, false)
            .ok()
            .map(|at: DateTime<Tz>| at.with_timezone(&Utc).timestamp_millis())
    }

    /// Up to `limit` times the expression matches after `start_ms` and no later than
    /// `end_ms`, in order.
    pub fn next_few(&self, start_ms: i64, end_ms: Option<i64>, limit: usize) -> Vec<i64> {
        let mut times = Vec::new();
        let mut after = start_ms;
        while times.len() < limit {
            match self.next_after(after) {
                Some(at) if end_ms.is_none_or(|end| at <= end) => {
                    times.push(at);
                    after = at;
                }
                _ => break,
            }
        }
        times
    }
}

/// The zone of an id; none (or blank) is UTC.
fn zone(zone_id: Option<&str>) -> Result<Tz, String> {
    match zone_id.map(str::trim).filter(|z| !z.is_empty()) {
        None => Ok(Tz::UTC),
        Some("Z") => Ok(Tz::UTC),
        Some(id) => id
            .parse::<Tz>()
            .map_err(|_| format!("Invalid zoneId '{id}': not a known time zone")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2027-01-15T08:00:00Z, a Friday.
    const FRIDAY_8H: i64 = 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000 + 8 * 3_600_000;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    #[test]
    fn six_fields_in_the_schedules_zone() {
        assert_eq!(FRIDAY_8H, at("2027-01-15T08:00:00Z"));
        let noon = CronSchedule::parse("0 0 12 * * MON-FRI", Some("Europe/Berlin")).unwrap();
        assert_eq!(
            noon.next_after(FRIDAY_8H),
            Some(at("2027-01-15T11:00:00Z")),
            "noon in Berlin is 11:00 UTC in winter"
        );
        // The weekend is skipped: the next after Friday noon is Monday.
        assert_eq!(
            noon.next_after(at("2027-01-15T11:00:00Z")),
            Some(at("2027-01-18T11:00:00Z"))
        );
        let every_five = CronSchedule::parse("0 */5 * * * *", None).unwrap();
        assert_eq!(
            every_five.next_few(FRIDAY_8H, None, 3),
            vec![
                at("2027-01-15T08:05:00Z"),
                at("2027-01-15T08:10:00Z"),
                at("2027-01-15T08:15:00Z")
            ]
        );
        assert_eq!(
            every_five
                .next_few(FRIDAY_8H, Some(at("2027-01-15T08:10:00Z")), 10)
                .len(),
            2,
            "no later than the end"
        );
    }

    #[test]
    fn springs_forms_are_read() {
        // Sunday is 0 or 7; `?` leaves a day field open; `L` and `#` as in Quartz.
        for (expression, next) in [
            ("0 0 0 ? * 7", "2027-01-17T00:00:00Z"),
            ("0 0 0 ? * 0", "2027-01-17T00:00:00Z"),
            ("0 0 0 ? * SUN", "2027-01-17T00:00:00Z"),
            ("0 0 0 L * ?", "2027-01-31T00:00:00Z"),
            ("0 0 0 ? * 1#2", "2027-02-08T00:00:00Z"),
            ("@daily", "2027-01-16T00:00:00Z"),
            ("0 0 0 1 JAN ?", "2028-01-01T00:00:00Z"),
            ("0/20 * * ? * *", "2027-01-15T08:00:20Z"),
        ] {
            let cron = CronSchedule::parse(expression, Some("UTC")).unwrap();
            assert_eq!(cron.next_after(FRIDAY_8H), Some(at(next)), "{expression}");
        }
        // Both day fields given: both must match (the 13th that is a Friday).
        let friday_13th = CronSchedule::parse("0 0 0 13 * FRI", None).unwrap();
        assert_eq!(
            friday_13th.next_after(FRIDAY_8H),
            Some(at("2027-08-13T00:00:00Z"))
        );
    }

    #[test]
    fn what_cannot_work_is_refused_or_never_matches() {
        for bad in [
            "",
            "* * * * *",
            "0 0 0 * * * 2027",
            "0 61 * * * *",
            "nonsense",
        ] {
            assert!(CronSchedule::parse(bad, None).is_err(), "{bad:?}");
        }
        let long = "0 ".repeat(200);
        assert!(CronSchedule::parse(&long, None).is_err());
        let err = CronSchedule::parse("0 0 * * * *", Some("Mars/Olympus")).unwrap_err();
        assert!(err.contains("Mars/Olympus"), "{err}");
        let never = CronSchedule::parse("0 0 0 30 2 ?", None).unwrap();
        assert_eq!(never.next_after(FRIDAY_8H), None);
        assert!(never.next_few(FRIDAY_8H, None, 5).is_empty());
    }
}
