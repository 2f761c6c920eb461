//! Times as people read them, the same on the server and in the browser.
//! The server cannot know the reader's time zone, so pages render UTC and
//! `local_time.rs` switches to local time once the page is live.

/// `2026-11-23 20:41:07 UTC` from milliseconds since the Unix epoch.
pub fn display(ms: i64) -> String {
    let ((y, m, d), (h, min, s)) = parts(ms);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02} UTC")
}

/// `2026-11-23T20:41:07Z`, for a `<time datetime>` attribute.
pub fn iso(ms: i64) -> String {
    let ((y, m, d), (h, min, s)) = parts(ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
}

/// The instant `display` wrote, back as milliseconds: many stores hand
/// pages these strings (the REST API shares their types), and pages turn
/// them into local time. `None` for anything else.
pub fn parse_display(text: &str) -> Option<i64> {
    let rest = text.strip_suffix(" UTC")?;
    let (date, time) = rest.split_once(' ')?;
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    let mut t = time.split(':');
    let (h, min, sec) = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
    if d.next().is_some()
        || t.next().is_some()
        || !(1..=12).contains(&m)
        || h > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let ms = (days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + sec) * 1000;
    // A day past the month's end (02-30) would come back as another date.
    (display(ms) == text).then_some(ms)
}

/// "just now", "3 min ago", "2 h ago", "5 days ago": how long before `now_ms`.
pub fn ago(ms: i64, now_ms: i64) -> String {
    let secs = (now_ms - ms).max(0) / 1000;
    match secs {
        0..=44 => "just now".into(),
        45..=3599 => format!("{} min ago", (secs / 60).max(1)),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        86_400..=172_799 => "1 day ago".into(),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// How long something has waited, short, for the queue: "5s", "1h 5m".
pub fn age(from_ms: i64, now_ms: i64) -> String {
    let secs = (now_ms - from_ms).max(0) / 1000;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h {}m", secs / 3600, (secs % 3600) / 60),
        _ => format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3600),
    }
}

type Date = (i64, i64, i64);

fn parts(ms: i64) -> (Date, Date) {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    (
        civil_from_days(days),
        (rem / 3600, (rem % 3600) / 60, rem % 60),
    )
}

// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// Howard Hinnant's days-from-civil, the inverse of `civil_from_days`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::{age, ago, display, iso, parse_display};

    #[test]
    fn known_instants_are_shown_in_utc() {
        assert_eq!(display(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(display(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(display(1_795_466_467_000), "2026-11-23 20:41:07 UTC");
        assert_eq!(display(-1_000), "1969-12-31 23:59:59 UTC");
        assert_eq!(iso(1_795_466_467_000), "2026-11-23T20:41:07Z");
    }

    #[test]
    fn displayed_times_read_back_to_the_same_instant() {
        for ms in [
            0,
            951_782_400_000,
            1_795_466_467_000,
            -1_000,
            4_102_444_799_000,
        ] {
            assert_eq!(parse_display(&display(ms)), Some(ms), "{}", display(ms));
        }
    }

    #[test]
    fn anything_else_is_not_a_time() {
        for text in [
            "",
            "never",
            "2026-11-23 20:41:07",
            "2026-11-23T20:41:07Z",
            "2026-02-30 00:00:00 UTC",
            "2026-11-23 24:00:00 UTC",
            "2026-1-23 20:41:07 UTC",
            "+026-11-23 20:41:07 UTC",
        ] {
            assert_eq!(parse_display(text), None, "{text}");
        }
    }

    #[test]
    fn ages_read_as_people_say_them() {
        let min = 60_000;
        assert_eq!(ago(0, 10_000), "just now");
        assert_eq!(ago(0, 3 * min), "3 min ago");
        assert_eq!(ago(0, 59 * min), "59 min ago");
        assert_eq!(ago(0, 61 * min), "1 h ago");
        assert_eq!(ago(0, 25 * 60 * min), "1 day ago");
        assert_eq!(ago(0, 5 * 24 * 60 * min), "5 days ago");
        // A clock a little behind the server's never shows a future.
        assert_eq!(ago(5_000, 0), "just now");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(0, 5_000), "5s");
        assert_eq!(age(0, 125_000), "2m");
        assert_eq!(age(0, 3_900_000), "1h 5m");
        assert_eq!(age(0, 90_000_000), "1d 1h");
        assert_eq!(age(10, 0), "0s");
    }
}
