//! Times as people say them ("3 minutes ago"), with the exact time beside them for a
//! `<time>` element's `datetime` and its hover text.

/// One instant, said three ways.
pub(crate) struct When {
    /// `2026-12-07T09:15:00Z`, for `datetime`.
    pub(crate) iso: String,
    /// `2026-12-07 09:15 UTC`, shown on hover.
    pub(crate) exact: String,
    /// "3 minutes ago", "in 2 hours", "on 7 Dec 2025".
    pub(crate) relative: String,
}

impl When {
    /// `t` said relative to `now` (both Unix seconds).
    pub(crate) fn at(t: i64, now: i64) -> Self {
        let exact = super::utc(t);
        let iso = format!(
            "{}T{}:00Z",
            &exact[..10],
            exact[11..16].trim_end_matches(" UTC")
        );
        Self {
            iso,
            relative: relative(t, now, &exact),
            exact,
        }
    }
}

fn relative(t: i64, now: i64, exact: &str) -> String {
    const MINUTE: i64 = 60;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let (span, past) = if t <= now {
        (now - t, true)
    } else {
        (t - now, false)
    };
    let amount = |n: i64, unit: &str| {
        let unit = if n == 1 {
            unit.to_owned()
        } else {
            format!("{unit}s")
        };
        let phrase = if n == 1 && unit == "hour" {
            "an hour".to_owned()
        } else if n == 1 {
            format!("a {unit}")
        } else {
            format!("{n} {unit}")
        };
        if past {
            format!("{phrase} ago")
        } else {
            format!("in {phrase}")
        }
    };
    match span {
        s if s < 45 => {
            if past {
                "just now".into()
            } else {
                "in a moment".into()
            }
        }
        s if s < 90 => amount(1, "minute"),
        s if s < 45 * MINUTE => amount((s + 30) / MINUTE, "minute"),
        s if s < 90 * MINUTE => amount(1, "hour"),
        s if s < 22 * HOUR => amount((s + HOUR / 2) / HOUR, "hour"),
        s if s < 36 * HOUR => {
            if past {
                "yesterday".into()
            } else {
                "tomorrow".into()
            }
        }
        s if s < 26 * DAY => amount((s + DAY / 2) / DAY, "day"),
        _ => format!("on {}", day_month_year(exact)),
    }
}

/// `2026-12-07 …` → `7 Dec 2026`.
fn day_month_year(exact: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let year = &exact[..4];
    let month: usize = exact[5..7].parse().unwrap_or(1);
    let day: u32 = exact[8..10].parse().unwrap_or(1);
    format!("{day} {} {year}", MONTHS[month.clamp(1, 12) - 1])
}

#[cfg(test)]
mod tests {
    use super::When;

    #[test]
    fn times_read_as_people_say_them() {
        let now = 1_800_000_000; // 2027-01-15 08:00 UTC
        let cases = [
            (now, "just now"),
            (now - 44, "just now"),
            (now - 60, "a minute ago"),
            (now - 3 * 60, "3 minutes ago"),
            (now - 50 * 60, "an hour ago"),
            (now - 5 * 3600, "5 hours ago"),
            (now - 30 * 3600, "yesterday"),
            (now - 3 * 86_400, "3 days ago"),
            (now - 400 * 86_400, "on 11 Dec 2025"),
            (now + 2 * 3600, "in 2 hours"),
            (now + 10, "in a moment"),
        ];
        for (t, said) in cases {
            assert_eq!(When::at(t, now).relative, said, "{t}");
        }
        let when = When::at(now - 3 * 60, now);
        assert_eq!(when.exact, "2027-01-15 07:57 UTC");
        assert_eq!(when.iso, "2027-01-15T07:57:00Z");
    }
}
