//! Temporal values as Bolt carries them. The representations mirror the
//! PackStream structures field for field, so that a value received from a
//! client can be sent back (or stored and read back) without loss.

use std::fmt;

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const SECONDS_PER_DAY: i64 = 86_400;
pub const NANOS_PER_DAY: i64 = SECONDS_PER_DAY * NANOS_PER_SECOND;
/// Cypher's year range; beyond it dates cannot be rendered or parsed.
pub const MAX_YEAR: i64 = 999_999_999;
/// Offsets are bounded as in ISO-8601 / java.time: at most 18 hours.
pub const MAX_OFFSET_SECONDS: i32 = 18 * 3600;

/// A time of day with its UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Time {
    /// Nanoseconds since local midnight.
    pub nanos: i64,
    pub offset: i32,
}

/// Where a zoned date-time lives: a fixed offset or a named zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tz {
    Offset(i32),
    Zone(String),
}

/// An instant with a zone. `seconds` counts from the Unix epoch in UTC, as
/// Bolt 5 sends it; the legacy (wall-clock) form is derived at the edge.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    pub seconds: i64,
    pub nanos: i64,
    pub tz: Tz,
}

/// A wall-clock date-time: seconds since the epoch as if local were UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalDateTime {
    pub seconds: i64,
    pub nanos: i64,
}

/// Cypher durations keep months, days and the time part apart because none
/// of them converts exactly into another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Duration {
    pub months: i64,
    pub days: i64,
    pub seconds: i64,
    pub nanos: i64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (i128 inside, so no
/// input overflows; results beyond i64 saturate).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let (y, m, d) = (y as i128, m as i128, d as i128);
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// (year, month, day) of a day number; total over all of i64.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z as i128 + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        y.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        m as i64,
        d as i64,
    )
}

/// Whether a day number lies in Cypher's supported year range.
pub fn days_in_range(days: i64) -> bool {
    (-MAX_YEAR..=MAX_YEAR).contains(&civil_from_days(days).0)
}

/// A named zone of the IANA time-zone database (compiled in, through
/// chrono-tz), for zones whose offset changes over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NamedZone(chrono_tz::Tz);

impl NamedZone {
    /// The zone of that IANA id (exact case, as Java's ZoneId).
    pub fn parse(id: &str) -> Option<NamedZone> {
        id.parse::<chrono_tz::Tz>().ok().map(NamedZone)
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The offset in force at an instant (seconds since the epoch, UTC).
    pub fn offset_at(&self, utc_seconds: i64) -> i32 {
        use chrono::{Offset, TimeZone};
        match chrono::DateTime::from_timestamp(utc_seconds, 0) {
            Some(t) => self
                .0
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
            // Outside chrono's range (about ±262,000 years) no rule
            // applies: the zone's standard offset at the range's edge.
            None => {
                let edge = if utc_seconds < 0 {
                    -8_000_000_000_000
                } else {
                    8_000_000_000_000
                };
                self.offset_at(edge)
            }
        }
    }

    /// The instant a wall-clock time names in this zone, and the offset it
    /// has there, as Java's `ZonedDateTime.ofLocal`: in an overlap the
    /// earlier offset; in a gap the offset before it, so the wall clock
    /// moves forward by the gap's length.
    pub fn from_local(&self, local_seconds: i64) -> (i64, i32) {
        let before = self.offset_at(local_seconds.saturating_sub(2 * SECONDS_PER_DAY));
        let after = self.offset_at(local_seconds.saturating_add(2 * SECONDS_PER_DAY));
        // Each candidate offset is consistent if the instant it gives has
        // that very offset; the earlier (larger) one wins an overlap.
        let mut candidates = [before, after];
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        for o in candidates {
            let utc = local_seconds.saturating_sub(i64::from(o));
            if self.offset_at(utc) == o {
                return (utc, o);
            }
        }
        // A gap: read the wall clock with the offset before it.
        let utc = local_seconds.saturating_sub(i64::from(before));
        (utc, self.offset_at(utc))
    }
}

/// The offset of a zone at an instant: fixed zones (below) and named ones.
pub fn zone_offset_at(id: &str, utc_seconds: i64) -> Option<i32> {
    fixed_zone_offset(id).or_else(|| NamedZone::parse(id).map(|z| z.offset_at(utc_seconds)))
}

/// The instant and offset of a wall-clock time in a zone (see
/// `NamedZone::from_local`).
pub fn zone_from_local(id: &str, local_seconds: i64) -> Option<(i64, i32)> {
    if let Some(o) = fixed_zone_offset(id) {
        return Some((local_seconds.saturating_sub(i64::from(o)), o));
    }
    NamedZone::parse(id).map(|z| z.from_local(local_seconds))
}

/// The offset of a zone id that denotes a fixed offset (UTC and its
/// aliases, `Etc/GMT±h`, `+hh:mm`, `UTC+hh:mm`); `None` for regional zones,
/// whose offset depends on the date (`zone_offset_at`).
pub fn fixed_zone_offset(id: &str) -> Option<i32> {
    const UTC_ALIASES: [&str; 16] = [
        "Z",
        "UTC",
        "UCT",
        "GMT",
        "GMT0",
        "Zulu",
        "Universal",
        "Greenwich",
        "Etc/UTC",
        "Etc/UCT",
        "Etc/GMT",
        "Etc/GMT0",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "Etc/Zulu",
        "Etc/Universal",
    ];
    if UTC_ALIASES.contains(&id) || id == "Etc/Greenwich" {
        return Some(0);
    }
    if let Some(h) = id.strip_prefix("Etc/GMT") {
        // POSIX style: Etc/GMT+5 is five hours *behind* UTC.
        let (sign, digits) = match h.as_bytes().first() {
            Some(b'+') => (-1, &h[1..]),
            Some(b'-') => (1, &h[1..]),
            _ => return None,
        };
        if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours: i32 = digits.parse().ok()?;
        return (hours <= 14).then_some(sign * hours * 3600);
    }
    let rest = id
        .strip_prefix("UTC")
        .or_else(|| id.strip_prefix("GMT"))
        .unwrap_or(id);
    parse_offset(rest)
}

/// `+hh`, `+hh:mm`, `+hhmm`, `+hh:mm:ss` (or `-`); within ±18:00.
pub fn parse_offset(s: &str) -> Option<i32> {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = body.chars().filter(|c| *c != ':').collect();
    if !matches!(digits.len(), 2 | 4 | 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |a: usize| -> i32 {
        digits
            .get(a..a + 2)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0)
    };
    let (h, m, sec) = (part(0), part(2), part(4));
    if m > 59 || sec > 59 {
        return None;
    }
    let total = h * 3600 + m * 60 + sec;
    (total <= MAX_OFFSET_SECONDS).then_some(sign * total)
}

impl DateTime {
    /// The offset in force at this instant; `None` for a zone id that is
    /// neither fixed nor in the time-zone database.
    pub fn offset(&self) -> Option<i32> {
        match &self.tz {
            Tz::Offset(o) => Some(*o),
            Tz::Zone(z) => zone_offset_at(z, self.seconds),
        }
    }

    /// Local wall clock as (days since epoch, nanoseconds of day), in the
    /// zone's offset (UTC for zones we cannot resolve).
    pub fn local(&self) -> (i64, i64) {
        let local = self.seconds as i128 + self.offset().unwrap_or(0) as i128;
        split_seconds(local, self.nanos)
    }
}

impl LocalDateTime {
    pub fn local(&self) -> (i64, i64) {
        split_seconds(self.seconds as i128, self.nanos)
    }
}

fn split_seconds(secs: i128, nanos: i64) -> (i64, i64) {
    let day = secs.div_euclid(SECONDS_PER_DAY as i128);
    let sod = secs.rem_euclid(SECONDS_PER_DAY as i128) as i64;
    (
        day.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        sod * NANOS_PER_SECOND + nanos.clamp(0, NANOS_PER_SECOND - 1),
    )
}

/// Checks that carry over from the wire and from storage share.
pub fn check_nanos_of_second(n: i64) -> Result<(), String> {
    if (0..NANOS_PER_SECOND).contains(&n) {
        Ok(())
    } else {
        Err(format!("nanoseconds {n} not in 0..=999999999"))
    }
}

pub fn check_nanos_of_day(n: i64) -> Result<(), String> {
    if (0..NANOS_PER_DAY).contains(&n) {
        Ok(())
    } else {
        Err(format!("time of day {n}ns not within one day"))
    }
}

pub fn check_offset(o: i64) -> Result<i32, String> {
    match i32::try_from(o) {
        Ok(v) if v.abs() <= MAX_OFFSET_SECONDS => Ok(v),
        _ => Err(format!("time zone offset {o}s not within ±18:00")),
    }
}

pub fn check_days(d: i64) -> Result<(), String> {
    if days_in_range(d) {
        Ok(())
    } else {
        Err(format!("date {d} days from the epoch is out of range"))
    }
}

/// Epoch seconds whose date is in Cypher's range.
pub fn check_seconds(s: i64) -> Result<(), String> {
    check_days(s.div_euclid(SECONDS_PER_DAY))
}

pub(crate) fn write_date(s: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        s.push_str(&format!("{y:04}-{m:02}-{d:02}"));
    } else {
        s.push_str(&format!("{y:+}-{m:02}-{d:02}"));
    }
}

/// `hh:mm`, then seconds and fraction only when non-zero, in groups of
/// three digits: the form Cypher (and the TCK) print times in.
pub(crate) fn write_time(s: &mut String, n: i64) {
    let n = n.clamp(0, NANOS_PER_DAY - 1);
    let (h, mi, sec, frac) = (
        n / 3_600_000_000_000,
        n / 60_000_000_000 % 60,
        n / NANOS_PER_SECOND % 60,
        n % NANOS_PER_SECOND,
    );
    s.push_str(&format!("{h:02}:{mi:02}"));
    if sec != 0 || frac != 0 {
        s.push_str(&format!(":{sec:02}"));
        if frac != 0 {
            if frac % 1_000_000 == 0 {
                s.push_str(&format!(".{:03}", frac / 1_000_000));
            } else if frac % 1000 == 0 {
                s.push_str(&format!(".{:06}", frac / 1000));
            } else {
                s.push_str(&format!(".{frac:09}"));
            }
        }
    }
}

pub(crate) fn write_offset(s: &mut String, off: i32) {
    if off == 0 {
        s.push('Z');
        return;
    }
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let (h, m, sec) = (a / 3600, a / 60 % 60, a % 60);
    if sec != 0 {
        s.push_str(&format!("{sign}{h:02}:{m:02}:{sec:02}"));
    } else {
        s.push_str(&format!("{sign}{h:02}:{m:02}"));
    }
}

impl Duration {
    /// The time part as one nanosecond count (cannot overflow i128).
    pub fn total_nanos(&self) -> i128 {
        self.seconds as i128 * NANOS_PER_SECOND as i128 + self.nanos as i128
    }

    /// ISO-8601 form as Cypher prints it (`P1Y2M3DT4H5M6.5S`, `PT0S`).
    pub fn iso(&self) -> String {
        duration_iso(self.months, self.days, self.total_nanos())
    }
}

/// ISO-8601 form of a duration given as months, days and nanoseconds, as
/// Cypher prints it. Shared with the executor, whose durations carry a
/// wider time part.
pub fn duration_iso(months: i64, days: i64, n: i128) -> String {
    if months == 0 && days == 0 && n == 0 {
        return "PT0S".into();
    }
    let mut s = String::from("P");
    let (y, mo) = (months / 12, months % 12);
    if y != 0 {
        s.push_str(&format!("{y}Y"));
    }
    if mo != 0 {
        s.push_str(&format!("{mo}M"));
    }
    if days != 0 {
        s.push_str(&format!("{days}D"));
    }
    if n != 0 {
        s.push('T');
        let h = n / 3_600_000_000_000;
        let rem = n % 3_600_000_000_000;
        let mi = rem / 60_000_000_000;
        let rem = rem % 60_000_000_000;
        if h != 0 {
            s.push_str(&format!("{h}H"));
        }
        if mi != 0 {
            s.push_str(&format!("{mi}M"));
        }
        if rem != 0 {
            let sign = if rem < 0 { "-" } else { "" };
            let a = rem.unsigned_abs();
            let (sec, frac) = (a / 1_000_000_000, a % 1_000_000_000);
            if frac == 0 {
                s.push_str(&format!("{sign}{sec}S"));
            } else {
                let f = format!("{frac:09}");
                s.push_str(&format!("{sign}{sec}.{}S", f.trim_end_matches('0')));
            }
        }
    }
    s
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}
