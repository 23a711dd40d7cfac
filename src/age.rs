//! Ages and durations as kubectl prints them (`45s`, `5m3s`, `3h`, `2d4h`, `400d`), one
//! helper for `podfleet status` and the Kubernetes API's tables.

/// kubectl's human duration (`45s`, `5m3s`, `3h`, `2d4h`, `400d`).
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// The age of an RFC 3339 time at `now` in kubectl's form; `<unknown>` if it does not parse.
pub fn since(t: Option<&str>, now: jiff::Timestamp) -> String {
    match t.and_then(|s| s.parse::<jiff::Timestamp>().ok()) {
        Some(t) => human_duration(now.duration_since(t).as_secs()),
        None => "<unknown>".into(),
    }
}

/// An RFC 3339 time to the second (`2026-11-30T14:55:01Z`), as tables and details print
/// it; the text itself if it does not parse.
pub fn to_seconds(t: &str) -> String {
    t.parse::<jiff::Timestamp>()
        .ok()
        .and_then(|ts| ts.round(jiff::Unit::Second).ok())
        .map(|ts| ts.to_string())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_to_the_second() {
        assert_eq!(
            to_seconds("2026-11-30T14:55:01.123456789Z"),
            "2026-11-30T14:55:01Z"
        );
        assert_eq!(to_seconds("2026-11-30T14:55:01.6Z"), "2026-11-30T14:55:02Z");
        assert_eq!(to_seconds("-"), "-");
    }

    #[test]
    fn durations_like_kubectl() {
        for (s, want) in [
            (5, "5s"),
            (119, "119s"),
            (303, "5m3s"),
            (1200, "20m"),
            (4 * 3600 + 60, "4h1m"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 3600, "3d1h"),
            (400 * 86_400, "400d"),
        ] {
            assert_eq!(human_duration(s), want);
        }
    }

    #[test]
    fn ages_of_times() {
        let now: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        assert_eq!(since(Some("2026-11-28T08:00:00Z"), now), "2d4h");
        assert_eq!(since(Some("garbage"), now), "<unknown>");
        assert_eq!(since(None, now), "<unknown>");
    }
}
