//! Ages in words ("3 minutes ago"), the way a maintainer reads a list: coarse, with the exact
//! date one hover away.

use chrono::DateTime;

/// How long ago `then` was, seen from `now` (both unix seconds), in the largest unit that fits:
/// "just now", "1 minute ago", "3 hours ago", "2 weeks ago", "5 months ago", "2 years ago".
/// A date in the future (a sender's clock ahead of ours) reads "in 3 hours".
pub fn age_in_words(then: i64, now: i64) -> String {
    let delta = now.saturating_sub(then);
    if delta.unsigned_abs() < 45 {
        return "just now".to_string();
    }
    let words = span_in_words(delta.unsigned_abs());
    if delta < 0 { format!("in {words}") } else { format!("{words} ago") }
}

/// A span of seconds as "N units", rounded down to the largest unit that fits. Weeks stop at
/// eight (after that months read better) and months at two years.
fn span_in_words(secs: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const WEEK: u64 = 7 * DAY;
    // The mean Gregorian month, so that twelve of them make a year.
    const MONTH: u64 = 2_629_746;
    const YEAR: u64 = 12 * MONTH;
    let (n, unit) = match secs {
        s if s < MINUTE => (s, "second"),
        s if s < HOUR => (s / MINUTE, "minute"),
        s if s < DAY => (s / HOUR, "hour"),
        s if s < 2 * WEEK => (s / DAY, "day"),
        s if s < 8 * WEEK => (s / WEEK, "week"),
        s if s < 2 * YEAR => ((s / MONTH).max(1), "month"),
        s => (s / YEAR, "year"),
    };
    plural(n, unit)
}

/// "1 patch", "3 patches": English plurals of the few nouns the pages count.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if noun.ends_with("ch") || noun.ends_with('s') || noun.ends_with('x') {
        format!("{n} {noun}es")
    } else if let Some(stem) = noun.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{n} {stem}ies")
    } else {
        format!("{n} {noun}s")
    }
}

/// The exact date for a title attribute: "2019-05-03 14:22:07 UTC"; "unknown date" for 0 or a
/// timestamp chrono cannot represent.
pub fn exact_date(ts: i64) -> String {
    if ts == 0 {
        return "unknown date".to_string();
    }
    match DateTime::from_timestamp(ts, 0) {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => "unknown date".to_string(),
    }
}

/// RFC 3339 for Atom's `<updated>`: "2019-05-03T14:22:07Z".
pub fn rfc3339(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What a page shows for a date: the words, and the exact date for hovering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    pub words: String,
    pub exact: String,
}

impl Age {
    pub fn new(then: i64, now: i64) -> Age {
        if then == 0 {
            return Age { words: "at an unknown date".into(), exact: exact_date(0) };
        }
        Age { words: age_in_words(then, now), exact: exact_date(then) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn seconds_round_to_just_now() {
        assert_eq!(age_in_words(NOW - 10, NOW), "just now");
        assert_eq!(age_in_words(NOW, NOW), "just now");
    }

    #[test]
    fn minutes_hours_days() {
        assert_eq!(age_in_words(NOW - 50, NOW), "50 seconds ago");
        assert_eq!(age_in_words(NOW - 60, NOW), "1 minute ago");
        assert_eq!(age_in_words(NOW - 3 * 60 - 59, NOW), "3 minutes ago");
        assert_eq!(age_in_words(NOW - 3600, NOW), "1 hour ago");
        assert_eq!(age_in_words(NOW - 5 * 3600, NOW), "5 hours ago");
        assert_eq!(age_in_words(NOW - 86400, NOW), "1 day ago");
        assert_eq!(age_in_words(NOW - 13 * 86400, NOW), "13 days ago");
    }

    #[test]
    fn weeks_until_two_months_then_months_then_years() {
        assert_eq!(age_in_words(NOW - 14 * 86400, NOW), "2 weeks ago");
        assert_eq!(age_in_words(NOW - 55 * 86400, NOW), "7 weeks ago");
        assert_eq!(age_in_words(NOW - 60 * 86400, NOW), "1 month ago");
        assert_eq!(age_in_words(NOW - 200 * 86400, NOW), "6 months ago");
        assert_eq!(age_in_words(NOW - 700 * 86400, NOW), "22 months ago");
        assert_eq!(age_in_words(NOW - 800 * 86400, NOW), "2 years ago");
    }

    #[test]
    fn future_dates_from_skewed_clocks_read_in() {
        assert_eq!(age_in_words(NOW + 3 * 3600, NOW), "in 3 hours");
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        assert!(age_in_words(i64::MIN, i64::MAX).ends_with("years ago"));
        assert_eq!(exact_date(i64::MAX), "unknown date");
        assert_eq!(rfc3339(i64::MIN), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn exact_date_is_utc() {
        assert_eq!(exact_date(1_556_893_327), "2019-05-03 14:22:07 UTC");
        assert_eq!(rfc3339(1_556_893_327), "2019-05-03T14:22:07Z");
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "patch"), "1 patch");
        assert_eq!(plural(3, "patch"), "3 patches");
        assert_eq!(plural(0, "message"), "0 messages");
        assert_eq!(plural(2, "reply"), "2 replies");
        assert_eq!(plural(2, "day"), "2 days");
    }
}
