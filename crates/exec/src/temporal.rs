//! Dates and times inside the engine. Values are kept on their local wall
//! clock (days and nanoseconds of day) plus an offset, the form Cypher's
//! field accessors and arithmetic want; `val.rs` converts them to and from
//! the client model (`causeway_value::Value`'s temporal variants, which
//! carry UTC instants as Bolt does) where they enter and leave a query.

use crate::val::{arg_error, type_error, Val};
use causeway_value::temporal::NamedZone;
use causeway_value::Result;
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Date,
    LocalTime,
    Time,
    LocalDateTime,
    DateTime,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Temporal {
    pub kind: Kind,
    /// Days since 1970-01-01 (local date).
    pub days: i64,
    /// Nanoseconds since local midnight.
    pub nanos: i64,
    /// Offset from UTC in seconds.
    pub offset: i32,
    /// A named zone (date-times only): `offset` is then the zone's offset
    /// at this instant, kept in step by `settle` after every change.
    pub zone: Option<NamedZone>,
}

/// A `timezone` given as text: a fixed offset, or a zone of the IANA
/// database (`UTC` and `Etc/GMT+5` included, shown with their name as
/// Neo4j shows them).
enum ZoneSpec {
    Fixed(i32),
    Named(NamedZone),
}

fn zone_spec(s: &str) -> Result<ZoneSpec> {
    if let Ok(o) = parse_offset(s) {
        return Ok(ZoneSpec::Fixed(o));
    }
    NamedZone::parse(s).map(ZoneSpec::Named).ok_or_else(|| {
        arg_error(
            "InvalidArgumentValue",
            format!("Unsupported time zone '{s}'"),
        )
    })
}

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

// One calendar implementation for the whole code base: the value crate's.
pub use causeway_value::temporal::{civil_from_days, days_from_civil};

pub const MAX_YEAR: i64 = 999_999_999;

/// Whether a date lies in the range Cypher supports.
pub fn in_range(days: i64) -> bool {
    (-MAX_YEAR..=MAX_YEAR).contains(&civil_from_days(days).0)
}

pub fn check_range(t: Temporal) -> Result<Temporal> {
    if in_range(t.days) {
        Ok(t)
    } else {
        Err(arg_error(
            "InvalidArgumentValue",
            "Temporal value out of the supported range",
        ))
    }
}

pub(crate) fn has_date(k: Kind) -> bool {
    matches!(k, Kind::Date | Kind::LocalDateTime | Kind::DateTime)
}

pub(crate) fn has_time(k: Kind) -> bool {
    !matches!(k, Kind::Date)
}

pub(crate) fn has_zone(k: Kind) -> bool {
    matches!(k, Kind::Time | Kind::DateTime)
}

impl Temporal {
    /// Local wall clock in whole seconds, and the nanoseconds within.
    fn local_seconds(&self) -> (i64, i64) {
        (
            self.days.saturating_mul(86_400) + self.nanos.div_euclid(1_000_000_000),
            self.nanos.rem_euclid(1_000_000_000),
        )
    }

    fn set_local_seconds(&mut self, secs: i64, frac: i64) {
        self.days = secs.div_euclid(86_400);
        self.nanos = secs.rem_euclid(86_400) * 1_000_000_000 + frac;
    }

    /// Places the wall clock in the named zone: sets the offset in force
    /// there, moving a time in a DST gap forward by the gap's length.
    pub fn settle(&mut self) {
        self.settle_with(true);
    }

    /// `settle` for a wall clock that has no offset of its own yet: the
    /// zone's rules alone choose (the earlier offset in an overlap).
    pub fn settle_new(&mut self) {
        self.settle_with(false);
    }

    fn settle_with(&mut self, keep_valid_offset: bool) {
        if let (Some(z), Kind::DateTime) = (self.zone, self.kind) {
            let (local, frac) = self.local_seconds();
            // The current offset stays while it is valid for the wall clock
            // (in an overlap either is, and Java keeps the one it had);
            // otherwise the zone's rules choose.
            if keep_valid_offset && z.offset_at(local - i64::from(self.offset)) == self.offset {
                return;
            }
            let (utc, offset) = z.from_local(local);
            self.offset = offset;
            self.set_local_seconds(utc + i64::from(offset), frac);
        }
    }

    /// Moves to another zone or offset, keeping the instant.
    pub fn move_to(&mut self, target: Option<NamedZone>, fixed: i32) {
        let (local, frac) = self.local_seconds();
        let utc = local - i64::from(self.offset);
        let offset = target.map_or(fixed, |z| z.offset_at(utc));
        self.offset = offset;
        self.zone = target.filter(|_| self.kind == Kind::DateTime);
        self.set_local_seconds(utc + i64::from(offset), frac);
        if !has_date(self.kind) {
            self.days = 0;
        }
    }

    /// Adds nanoseconds to the instant of a zoned date-time (the wall
    /// clock follows the zone's offset there).
    pub fn add_instant_nanos(&mut self, n: i128) -> Option<()> {
        let z = self.zone?;
        let local = self.days as i128 * NANOS_PER_DAY as i128 + self.nanos as i128;
        let utc = local - self.offset as i128 * 1_000_000_000 + n;
        let utc_secs = i64::try_from(utc.div_euclid(1_000_000_000)).ok()?;
        self.offset = z.offset_at(utc_secs);
        let local = utc + self.offset as i128 * 1_000_000_000;
        self.days = i64::try_from(local.div_euclid(NANOS_PER_DAY as i128)).ok()?;
        self.nanos = local.rem_euclid(NANOS_PER_DAY as i128) as i64;
        Some(())
    }

    /// A totally ordered key within one kind: instants for zoned values.
    fn key(&self) -> i128 {
        let local = self.days as i128 * NANOS_PER_DAY as i128 + self.nanos as i128;
        if has_zone(self.kind) {
            local - self.offset as i128 * 1_000_000_000
        } else {
            local
        }
    }

    pub fn cmp_same(&self, o: &Temporal) -> Option<Ordering> {
        if self.kind != o.kind {
            return None;
        }
        Some(self.key().cmp(&o.key()))
    }

    pub fn total_cmp(&self, o: &Temporal) -> Ordering {
        self.kind
            .cmp(&o.kind)
            .then_with(|| self.key().cmp(&o.key()))
            .then_with(|| self.offset.cmp(&o.offset))
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        if has_date(self.kind) {
            let (y, m, d) = civil_from_days(self.days);
            if (0..=9999).contains(&y) {
                s.push_str(&format!("{y:04}-{m:02}-{d:02}"));
            } else {
                s.push_str(&format!("{y:+}-{m:02}-{d:02}"));
            }
        }
        if has_time(self.kind) {
            if has_date(self.kind) {
                s.push('T');
            }
            let n = self.nanos;
            let (h, mi, sec, frac) = (
                n / 3_600_000_000_000,
                n / 60_000_000_000 % 60,
                n / 1_000_000_000 % 60,
                n % 1_000_000_000,
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
        if has_zone(self.kind) {
            s.push_str(&render_offset(self.offset));
        }
        if let Some(z) = self.zone {
            s.push('[');
            s.push_str(z.name());
            s.push(']');
        }
        s
    }

    pub fn field(&self, key: &str) -> Option<Val> {
        let (y, m, d) = civil_from_days(self.days);
        let dated = has_date(self.kind);
        let timed = has_time(self.kind);
        let n = self.nanos;
        let v = match key {
            "year" if dated => Val::Int(y),
            "month" if dated => Val::Int(m),
            "day" if dated => Val::Int(d),
            "quarter" if dated => Val::Int((m - 1) / 3 + 1),
            "ordinalDay" if dated => Val::Int(self.days - days_from_civil(y, 1, 1) + 1),
            "dayOfWeek" | "weekDay" if dated => Val::Int((self.days + 3).rem_euclid(7) + 1),
            "weekYear" if dated => Val::Int(iso_week(self.days).0),
            "week" if dated => Val::Int(iso_week(self.days).1),
            "dayOfQuarter" if dated => Val::Int(self.days - quarter_start(y, (m - 1) / 3 + 1) + 1),
            "hour" if timed => Val::Int(n / 3_600_000_000_000),
            "minute" if timed => Val::Int(n / 60_000_000_000 % 60),
            "second" if timed => Val::Int(n / 1_000_000_000 % 60),
            "millisecond" if timed => Val::Int(n % 1_000_000_000 / 1_000_000),
            "microsecond" if timed => Val::Int(n % 1_000_000_000 / 1000),
            "nanosecond" if timed => Val::Int(n % 1_000_000_000),
            "timezone" if self.zone.is_some() => Val::Str(self.zone?.name().to_string()),
            "timezone" | "offset" if has_zone(self.kind) => Val::Str(render_offset(self.offset)),
            "offsetSeconds" if has_zone(self.kind) => Val::Int(self.offset as i64),
            "offsetMinutes" if has_zone(self.kind) => Val::Int(self.offset as i64 / 60),
            "epochSeconds" if self.kind == Kind::DateTime => {
                Val::Int(i64::try_from(self.key().div_euclid(1_000_000_000)).ok()?)
            }
            "epochMillis" if self.kind == Kind::DateTime => {
                Val::Int(i64::try_from(self.key().div_euclid(1_000_000)).ok()?)
            }
            _ => return None,
        };
        Some(v)
    }
}

fn render_offset(off: i32) -> String {
    if off == 0 {
        return "Z".into();
    }
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s != 0 {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    } else {
        format!("{sign}{h:02}:{m:02}")
    }
}

fn parse_offset(s: &str) -> Result<i32> {
    if s == "Z" || s == "z" {
        return Ok(0);
    }
    let bad = || {
        arg_error(
            "InvalidArgumentValue",
            format!("Unsupported time zone '{s}'"),
        )
    };
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() < 2 {
        return Err(bad());
    }
    let num =
        |a: usize, b: usize| -> i32 { digits.get(a..b).and_then(|x| x.parse().ok()).unwrap_or(0) };
    let secs = num(0, 2) * 3600 + num(2, 4) * 60 + num(4, 6);
    if secs > 18 * 3600 {
        return Err(bad());
    }
    Ok(sign * secs)
}

/// Seconds since the epoch, now.
pub fn now_seconds() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_secs()).unwrap_or(0)
}

pub fn now() -> (i64, i64, i64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(d.as_secs()).unwrap_or(0);
    (
        secs.div_euclid(86_400),
        secs.rem_euclid(86_400) * 1_000_000_000 + i64::from(d.subsec_nanos()),
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
    )
}

pub fn is_constructor(name: &str) -> Option<Kind> {
    Some(match name {
        "date" => Kind::Date,
        "localtime" => Kind::LocalTime,
        "time" => Kind::Time,
        "localdatetime" => Kind::LocalDateTime,
        "datetime" => Kind::DateTime,
        _ => return None,
    })
}

fn int_field(m: &crate::val::ValMap, k: &str) -> Result<Option<i64>> {
    match m.get(k) {
        None | Some(Val::Null) => Ok(None),
        Some(Val::Int(i)) => Ok(Some(*i)),
        Some(other) => Err(type_error(format!(
            "Expected an Integer for {k} but got {}",
            other.type_name()
        ))),
    }
}

pub fn construct(kind: Kind, args: &[Val], clock: (i64, i64, i64)) -> Result<Val> {
    let Some(arg) = args.first() else {
        let (days, nanos, _) = clock;
        return Ok(Val::Temporal(Temporal {
            kind,
            days,
            nanos: if has_time(kind) { nanos } else { 0 },
            offset: 0,
            zone: None,
        }));
    };
    let t = match arg {
        Val::Null => return Ok(Val::Null),
        Val::Str(s) => parse(kind, s)?,
        Val::Temporal(t) => convert(kind, t),
        Val::Map(m) => from_map(kind, m)?,
        other => {
            return Err(type_error(format!(
                "Expected a String or Map but got {}",
                other.type_name()
            )))
        }
    };
    Ok(Val::Temporal(check_range(t)?))
}

fn convert(kind: Kind, t: &Temporal) -> Temporal {
    Temporal {
        kind,
        days: if has_date(kind) { t.days } else { 0 },
        nanos: if has_time(kind) && has_time(t.kind) {
            t.nanos
        } else {
            0
        },
        offset: if has_zone(kind) { t.offset } else { 0 },
        zone: if kind == Kind::DateTime { t.zone } else { None },
    }
}

fn from_map(kind: Kind, m: &crate::val::ValMap) -> Result<Temporal> {
    let range = |v: i64, lo: i64, hi: i64, what: &str| -> Result<i64> {
        if v < lo || v > hi {
            Err(arg_error(
                "InvalidArgumentValue",
                format!("Invalid value for {what}: {v}"),
            ))
        } else {
            Ok(v)
        }
    };
    let temporal = |k: &str| match m.get(k) {
        Some(Val::Temporal(t)) => Some(*t),
        _ => None,
    };
    // Components may be selected from other temporal values and then
    // overridden field by field.
    let base_date = temporal("date")
        .or_else(|| temporal("datetime"))
        .filter(|t| has_date(t.kind));
    let base_time = temporal("time")
        .or_else(|| temporal("datetime"))
        .filter(|t| has_time(t.kind));
    let mut days = 0;
    if has_date(kind) {
        let (by, bm, bd) = base_date
            .map(|t| civil_from_days(t.days))
            .unwrap_or((1970, 1, 1));
        let y = range(
            int_field(m, "year")?.unwrap_or(by),
            -999_999_999,
            999_999_999,
            "year",
        )?;
        let mo = range(int_field(m, "month")?.unwrap_or(bm), 1, 12, "month")?;
        let d = range(int_field(m, "day")?.unwrap_or(bd), 1, 31, "day")?;
        let max_d = days_from_civil(
            if mo == 12 { y + 1 } else { y },
            if mo == 12 { 1 } else { mo + 1 },
            1,
        ) - days_from_civil(y, mo, 1);
        range(d, 1, max_d, "day")?;
        days = days_from_civil(y, mo, d);
        let base_days = base_date.map(|t| t.days).unwrap_or(days);
        if let Some(week) = int_field(m, "week")? {
            let (bwy, _, bdow) = iso_week(base_days);
            let wy = int_field(m, "weekYear")?
                .or(int_field(m, "year")?)
                .unwrap_or(bwy);
            let dow =
                int_field(m, "dayOfWeek")?.unwrap_or(if base_date.is_some() { bdow } else { 1 });
            range(wy, -MAX_YEAR, MAX_YEAR, "weekYear")?;
            range(week, 1, 53, "week")?;
            range(dow, 1, 7, "dayOfWeek")?;
            days = week_one(wy) + (week - 1) * 7 + dow - 1;
        } else if let Some(od) = int_field(m, "ordinalDay")? {
            range(od, 1, 366, "ordinalDay")?;
            days = days_from_civil(y, 1, 1) + od - 1;
        } else if let Some(q) = int_field(m, "quarter")? {
            range(q, 1, 4, "quarter")?;
            let (by2, bm2, _) = civil_from_days(base_days);
            let base_dq = base_days - quarter_start(by2, (bm2 - 1) / 3 + 1) + 1;
            let dq = int_field(m, "dayOfQuarter")?.unwrap_or(if base_date.is_some() {
                base_dq
            } else {
                1
            });
            range(dq, 1, 92, "dayOfQuarter")?;
            days = quarter_start(y, q) + dq - 1;
        }
    }
    let mut nanos = 0;
    let source_offset = base_time.filter(|t| has_zone(t.kind)).map(|t| t.offset);
    if has_time(kind) {
        let bn = base_time.map(|t| t.nanos).unwrap_or(0);
        let h = range(
            int_field(m, "hour")?.unwrap_or(bn / 3_600_000_000_000),
            0,
            23,
            "hour",
        )?;
        let mi = range(
            int_field(m, "minute")?.unwrap_or(bn / 60_000_000_000 % 60),
            0,
            59,
            "minute",
        )?;
        let s = range(
            int_field(m, "second")?.unwrap_or(bn / 1_000_000_000 % 60),
            0,
            59,
            "second",
        )?;
        // Sub-second fields replace only their own digits of the base's
        // fraction, unless a value spans coarser digits too.
        let bf = bn % 1_000_000_000;
        let (mut msc, mut usc, mut nsc) = (bf / 1_000_000, bf / 1000 % 1000, bf % 1000);
        if let Some(ms) = int_field(m, "millisecond")? {
            msc = range(ms, 0, 999, "millisecond")?;
        }
        if let Some(us) = int_field(m, "microsecond")? {
            let us = range(us, 0, 999_999, "microsecond")?;
            if us > 999 {
                (msc, usc) = (us / 1000, us % 1000);
            } else {
                usc = us;
            }
        }
        if let Some(ns) = int_field(m, "nanosecond")? {
            let ns = range(ns, 0, 999_999_999, "nanosecond")?;
            if ns > 999 {
                (msc, usc, nsc) = (ns / 1_000_000, ns / 1000 % 1000, ns % 1000);
            } else {
                nsc = ns;
            }
        }
        let frac = msc * 1_000_000 + usc * 1000 + nsc;
        nanos = ((h * 60 + mi) * 60 + s) * 1_000_000_000 + frac;
    }
    let mut t = Temporal {
        kind,
        days,
        nanos,
        offset: 0,
        zone: None,
    };
    if has_zone(kind) {
        let source_zone = base_time.filter(|t| has_zone(t.kind)).and_then(|t| t.zone);
        match m.get("timezone") {
            Some(Val::Str(z)) => {
                let (target, fixed) = match zone_spec(z)? {
                    ZoneSpec::Fixed(o) => (None, o),
                    ZoneSpec::Named(nz) => (Some(nz), 0),
                };
                match source_offset {
                    // Selecting a zoned time into another zone keeps the
                    // instant and moves the wall clock.
                    Some(src) => {
                        t.offset = src;
                        t.zone = source_zone.filter(|_| kind == Kind::DateTime);
                        if kind == Kind::DateTime {
                            t.settle();
                        }
                        t.move_to(target, fixed);
                    }
                    None => match target {
                        Some(nz) if kind == Kind::DateTime => {
                            t.zone = Some(nz);
                            t.settle_new();
                        }
                        // A time has no date to place a named zone's rules
                        // on: the zone's offset at this moment.
                        Some(nz) => t.offset = nz.offset_at(crate::temporal::now_seconds()),
                        None => t.offset = fixed,
                    },
                }
            }
            _ => {
                t.offset = source_offset.unwrap_or(0);
                if kind == Kind::DateTime {
                    t.zone = source_zone;
                    if source_offset.is_some() {
                        t.settle();
                    } else {
                        t.settle_new();
                    }
                }
            }
        }
    }
    Ok(t)
}

/// Monday of ISO week 1 of `week_year`.
fn week_one(week_year: i64) -> i64 {
    let jan4 = days_from_civil(week_year, 1, 4);
    jan4 - (jan4 + 3).rem_euclid(7)
}

/// (ISO week-year, week, day of week 1..=7).
pub fn iso_week(days: i64) -> (i64, i64, i64) {
    let dow = (days + 3).rem_euclid(7);
    let thursday = days - dow + 3;
    let (wy, _, _) = civil_from_days(thursday);
    (wy, (thursday - days_from_civil(wy, 1, 1)) / 7 + 1, dow + 1)
}

fn quarter_start(y: i64, q: i64) -> i64 {
    days_from_civil(y, (q - 1) * 3 + 1, 1)
}

/// Calendar (`2015-07-21`, `20150721`, `2015-07`, `2015`), week
/// (`2015-W30-2`, `2015W302`, `2015-W30`) and ordinal (`2015-202`,
/// `2015202`) dates.
fn parse_date_part(date_part: &str) -> Option<i64> {
    if !date_part.is_ascii() || date_part.is_empty() {
        return None;
    }
    let (neg, body) = match date_part.as_bytes()[0] {
        b'-' => (true, &date_part[1..]),
        b'+' => (false, &date_part[1..]),
        _ => (false, date_part),
    };
    let year_len = if neg || date_part.starts_with('+') {
        body.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(body.len())
    } else {
        4.min(body.len())
    };
    let y: i64 = body.get(..year_len)?.parse().ok()?;
    let y = if neg { -y } else { y };
    if !(-MAX_YEAR..=MAX_YEAR).contains(&y) {
        return None;
    }
    let rest = body.get(year_len..)?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let digits = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
            None
        } else {
            t.parse().ok()
        }
    };
    if let Some(w) = rest.strip_prefix(['W', 'w']) {
        let w = w.replace('-', "");
        let week = digits(w.get(..2)?)?;
        let dow = if w.len() > 2 { digits(w.get(2..)?)? } else { 1 };
        if !(1..=53).contains(&week) || !(1..=7).contains(&dow) {
            return None;
        }
        return Some(week_one(y) + (week - 1) * 7 + dow - 1);
    }
    let compact = rest.replace('-', "");
    match (rest.len(), compact.len()) {
        (0, _) => Some(days_from_civil(y, 1, 1)),
        (3, 3) => {
            let od = digits(&compact)?;
            if !(1..=366).contains(&od) {
                return None;
            }
            Some(days_from_civil(y, 1, 1) + od - 1)
        }
        (_, 2) | (_, 4) => {
            let mo = digits(compact.get(..2)?)?;
            let d = if compact.len() == 4 {
                digits(compact.get(2..)?)?
            } else {
                1
            };
            if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
                return None;
            }
            Some(days_from_civil(y, mo, d))
        }
        _ => None,
    }
}

fn parse(kind: Kind, s: &str) -> Result<Temporal> {
    let bad = || {
        arg_error(
            "InvalidArgumentValue",
            format!("Text cannot be parsed to a {kind:?}: {s}"),
        )
    };
    let s = s.trim();
    let (date_part, rest) = if has_date(kind) {
        match s.find('T') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, ""),
        }
    } else {
        ("", s)
    };
    let mut days = 0;
    if has_date(kind) {
        days = parse_date_part(date_part).ok_or_else(bad)?;
    }
    let mut nanos = 0;
    let mut offset = 0;
    let mut offset_written = false;
    // `...[Europe/Berlin]`: the zone names the offset.
    let (rest, named) = match rest.find('[') {
        Some(i) if rest.ends_with(']') => {
            let id = &rest[i + 1..rest.len() - 1];
            let z = NamedZone::parse(id).ok_or_else(|| {
                arg_error(
                    "InvalidArgumentValue",
                    format!("Unsupported time zone '{id}'"),
                )
            })?;
            (&rest[..i], Some(z))
        }
        _ => (rest, None),
    };
    if has_time(kind) && !rest.is_empty() {
        let zone_at = rest.find(['Z', 'z', '+', '-']);
        let (tpart, zpart) = match zone_at {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        let (hms, frac) = match tpart.find('.') {
            Some(i) => (&tpart[..i], &tpart[i + 1..]),
            None => (tpart, ""),
        };
        let digits: String = hms.chars().filter(|c| *c != ':').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() < 2 {
            return Err(bad());
        }
        let num = |a: usize, b: usize| -> i64 {
            digits.get(a..b).and_then(|x| x.parse().ok()).unwrap_or(0)
        };
        let (h, mi, sec) = (num(0, 2), num(2, 4), num(4, 6));
        if h > 23 || mi > 59 || sec > 59 {
            return Err(bad());
        }
        let mut f: String = frac.chars().take(9).collect();
        if !f.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        while f.len() < 9 {
            f.push('0');
        }
        let fr: i64 = f.parse().unwrap_or(0);
        nanos = ((h * 60 + mi) * 60 + sec) * 1_000_000_000 + fr;
        if let Some(z) = zpart {
            if has_zone(kind) {
                offset = parse_offset(z)?;
                offset_written = true;
            }
        }
    }
    let mut t = Temporal {
        kind,
        days,
        nanos,
        offset,
        zone: None,
    };
    if let Some(z) = named.filter(|_| has_zone(kind)) {
        if kind == Kind::DateTime {
            t.zone = Some(z);
            // A written offset chooses between the two sides of an overlap.
            if offset_written {
                t.settle();
            } else {
                t.settle_new();
            }
        } else {
            t.offset = z.offset_at(now_seconds());
        }
    }
    Ok(t)
}

pub fn truncate_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "date.truncate" => Kind::Date,
        "localtime.truncate" => Kind::LocalTime,
        "time.truncate" => Kind::Time,
        "localdatetime.truncate" => Kind::LocalDateTime,
        "datetime.truncate" => Kind::DateTime,
        _ => return None,
    })
}

/// `<type>.truncate(unit, value [, overrides])`.
pub fn truncate(kind: Kind, args: &[Val]) -> Result<Val> {
    let unit = match args.first() {
        Some(Val::Str(u)) => u.clone(),
        Some(Val::Null) | None => return Ok(Val::Null),
        Some(other) => {
            return Err(type_error(format!(
                "Expected a String unit but got {}",
                other.type_name()
            )))
        }
    };
    let t = match args.get(1) {
        Some(Val::Temporal(t)) => *t,
        Some(Val::Null) | None => return Ok(Val::Null),
        Some(other) => {
            return Err(type_error(format!(
                "Expected a temporal value but got {}",
                other.type_name()
            )))
        }
    };
    let mut t = convert(kind, &t);
    let date_unit = |y: i64, m: i64, d: i64| days_from_civil(y, m, d);
    let (y, m, _) = civil_from_days(t.days);
    let bad = || {
        arg_error(
            "InvalidArgumentValue",
            format!("Unit '{unit}' cannot truncate a {kind:?}"),
        )
    };
    let time_unit = |n: i64, step: i64| n - n.rem_euclid(step);
    match unit.as_str() {
        "day" if !has_date(kind) => t.nanos = 0,
        "millennium" | "century" | "decade" | "year" | "weekYear" | "quarter" | "month"
        | "week" | "day" => {
            if !has_date(kind) {
                return Err(bad());
            }
            t.days = match unit.as_str() {
                "millennium" => date_unit(y - y.rem_euclid(1000), 1, 1),
                "century" => date_unit(y - y.rem_euclid(100), 1, 1),
                "decade" => date_unit(y - y.rem_euclid(10), 1, 1),
                "year" => date_unit(y, 1, 1),
                "weekYear" => {
                    // ISO week 1 is the week holding January 4th.
                    let monday_of = |days: i64| days - (days + 3).rem_euclid(7);
                    let mut start = monday_of(date_unit(y + 1, 1, 4));
                    if start > t.days {
                        start = monday_of(date_unit(y, 1, 4));
                    }
                    if start > t.days {
                        start = monday_of(date_unit(y - 1, 1, 4));
                    }
                    start
                }
                "quarter" => date_unit(y, (m - 1) / 3 * 3 + 1, 1),
                "month" => date_unit(y, m, 1),
                "week" => t.days - (t.days + 3).rem_euclid(7),
                _ => t.days,
            };
            t.nanos = 0;
        }
        "hour" => t.nanos = time_unit(t.nanos, 3_600_000_000_000),
        "minute" => t.nanos = time_unit(t.nanos, 60_000_000_000),
        "second" => t.nanos = time_unit(t.nanos, 1_000_000_000),
        "millisecond" => t.nanos = time_unit(t.nanos, 1_000_000),
        "microsecond" => t.nanos = time_unit(t.nanos, 1000),
        _ => return Err(bad()),
    }
    match args.get(2) {
        Some(Val::Map(over)) if !over.is_empty() => {
            let mut merged = over.clone();
            let key = match kind {
                Kind::Date => "date",
                Kind::LocalTime | Kind::Time => "time",
                _ => "datetime",
            };
            merged.insert(key.to_owned(), Val::Temporal(t));
            if has_zone(kind) {
                if let Some(Val::Str(z)) = over.get("timezone") {
                    // An override zone relabels the truncated wall clock.
                    match zone_spec(z)? {
                        ZoneSpec::Fixed(o) => {
                            t.offset = o;
                            t.zone = None;
                        }
                        ZoneSpec::Named(nz) => {
                            t.zone = Some(nz);
                            t.offset = nz.offset_at(now_seconds());
                            t.settle_new();
                        }
                    }
                    merged.insert(key.to_owned(), Val::Temporal(t));
                    merged.remove("timezone");
                }
            }
            Ok(Val::Temporal(check_range(from_map(kind, &merged)?)?))
        }
        _ => Ok(Val::Temporal(check_range(t)?)),
    }
}
