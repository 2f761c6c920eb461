//! Times as people read them, the same on the server and in the browser.

/// `2026-11-23 20:41:07 UTC` from milliseconds since the Unix epoch.
pub fn display(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
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

#[cfg(test)]
mod tests {
    use super::display;

    #[test]
    fn known_instants_are_shown_in_utc() {
        assert_eq!(display(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(display(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(display(1_795_466_467_000), "2026-11-23 20:41:07 UTC");
        assert_eq!(display(-1_000), "1969-12-31 23:59:59 UTC");
    }
}
