//! Durations: months, days and a time part kept apart, as Cypher defines
//! them (a month has no fixed length, nor a day across zone changes).

use crate::temporal::{
    civil_from_days, days_from_civil, has_date, has_time, has_zone, Kind, Temporal,
};
use crate::val::{arg_error, overflow, type_error, Val, ValMap};
use causeway_value::Result;

const NANOS_PER_DAY: i128 = 86_400_000_000_000;
/// The average Gregorian month, which fractional months are converted with.
const SECONDS_PER_MONTH: f64 = 2_629_746.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration {
    pub months: i64,
    pub days: i64,
    pub nanos: i128,
}

/// Keeps the time part far from i128's limits so that sums cannot overflow.
fn bounded(d: Duration) -> Result<Duration> {
    if d.nanos.unsigned_abs() > 1_000_000_000_000_000_000_000_000_000_000_000_000 {
        Err(overflow())
    } else {
        Ok(d)
    }
}

fn num(v: &Val, k: &str) -> Result<Option<f64>> {
    match v {
        Val::Null => Ok(None),
        Val::Int(i) => Ok(Some(*i as f64)),
        Val::Float(f) => Ok(Some(*f)),
        other => Err(type_error(format!(
            "Expected a number for {k} but got {}",
            other.type_name()
        ))),
    }
}

/// Builds a duration from possibly fractional components, cascading
/// fractions of months into days and of days into the time part.
fn from_parts(months: f64, days: f64, nanos: f64) -> Result<Duration> {
    if !(months.is_finite() && days.is_finite() && nanos.is_finite()) {
        return Err(arg_error("InvalidArgumentValue", "Duration out of range"));
    }
    let whole_months = months.trunc();
    let mut secs_from_months = (months - whole_months) * SECONDS_PER_MONTH;
    let extra_days = (secs_from_months / 86_400.0).trunc();
    secs_from_months -= extra_days * 86_400.0;
    let all_days = days + extra_days;
    let whole_days = all_days.trunc();
    let nanos = nanos + (all_days - whole_days) * 86_400e9 + secs_from_months * 1e9;
    let fits = |x: f64| x.abs() < 9.2e18;
    if !fits(whole_months) || !fits(whole_days) || nanos.abs() > 1e36 {
        return Err(overflow());
    }
    Ok(Duration {
        months: whole_months as i64,
        days: whole_days as i64,
        nanos: nanos.round() as i128,
    })
}

pub fn from_map(m: &ValMap) -> Result<Duration> {
    let mut exact = true;
    let mut get = |k: &str| -> Result<f64> {
        let v = m.get(k).map(|v| num(v, k)).transpose()?.flatten();
        if matches!(m.get(k), Some(Val::Float(_))) {
            exact = false;
        }
        Ok(v.unwrap_or(0.0))
    };
    let months = get("years")? * 12.0 + get("quarters")? * 3.0 + get("months")?;
    let days = get("weeks")? * 7.0 + get("days")?;
    let (h, mi, s) = (get("hours")?, get("minutes")?, get("seconds")?);
    let (ms, us, ns) = (
        get("milliseconds")?,
        get("microseconds")?,
        get("nanoseconds")?,
    );
    if exact {
        // Integer components are summed exactly: f64 would lose nanoseconds.
        let int = |k: &str| match m.get(k) {
            Some(Val::Int(i)) => *i as i128,
            _ => 0,
        };
        let months = int("years") * 12 + int("quarters") * 3 + int("months");
        let days = int("weeks") * 7 + int("days");
        let nanos = int("hours") * 3_600_000_000_000
            + int("minutes") * 60_000_000_000
            + int("seconds") * 1_000_000_000
            + int("milliseconds") * 1_000_000
            + int("microseconds") * 1000
            + int("nanoseconds");
        return bounded(Duration {
            months: i64::try_from(months).map_err(|_| overflow())?,
            days: i64::try_from(days).map_err(|_| overflow())?,
            nanos,
        });
    }
    let nanos = h * 3_600e9 + mi * 60e9 + s * 1e9 + ms * 1e6 + us * 1e3 + ns;
    from_parts(months, days, nanos)
}

pub fn parse(s: &str) -> Result<Duration> {
    let bad = || {
        arg_error(
            "InvalidArgumentValue",
            format!("Text cannot be parsed to a Duration: {s}"),
        )
    };
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let body = body.strip_prefix(['P', 'p']).ok_or_else(bad)?;
    let mut m = ValMap::new();
    let mut in_time = false;
    let mut numtxt = String::new();
    for c in body.chars() {
        match c {
            'T' | 't' => in_time = true,
            '0'..='9' | '.' | '-' | '+' | ',' => numtxt.push(if c == ',' { '.' } else { c }),
            _ => {
                let key = match (c.to_ascii_uppercase(), in_time) {
                    ('Y', false) => "years",
                    ('M', false) => "months",
                    ('W', false) => "weeks",
                    ('D', false) => "days",
                    ('H', true) => "hours",
                    ('M', true) => "minutes",
                    ('S', true) => "seconds",
                    _ => return Err(bad()),
                };
                let v = if numtxt.contains('.') {
                    Val::Float(numtxt.parse::<f64>().map_err(|_| bad())?)
                } else {
                    Val::Int(numtxt.parse::<i64>().map_err(|_| bad())?)
                };
                m.insert(key.to_owned(), v);
                numtxt.clear();
            }
        }
    }
    if !numtxt.is_empty() {
        return Err(bad());
    }
    let d = from_map(&m)?;
    Ok(if neg { d.neg()? } else { d })
}

impl Duration {
    pub fn neg(&self) -> Result<Duration> {
        Ok(Duration {
            months: self.months.checked_neg().ok_or_else(overflow)?,
            days: self.days.checked_neg().ok_or_else(overflow)?,
            nanos: self.nanos.checked_neg().ok_or_else(overflow)?,
        })
    }

    pub fn add(&self, o: &Duration) -> Result<Duration> {
        bounded(Duration {
            months: self.months.checked_add(o.months).ok_or_else(overflow)?,
            days: self.days.checked_add(o.days).ok_or_else(overflow)?,
            nanos: self.nanos.checked_add(o.nanos).ok_or_else(overflow)?,
        })
    }

    pub fn scale(&self, f: f64) -> Result<Duration> {
        from_parts(
            self.months as f64 * f,
            self.days as f64 * f,
            self.nanos as f64 * f,
        )
    }

    pub fn render(&self) -> String {
        causeway_value::temporal::duration_iso(self.months, self.days, self.nanos)
    }

    pub fn field(&self, key: &str) -> Option<Val> {
        let n = self.nanos;
        let i = |x: i128| i64::try_from(x).ok().map(Val::Int);
        match key {
            "years" => Some(Val::Int(self.months / 12)),
            "quarters" => Some(Val::Int(self.months / 3)),
            "months" => Some(Val::Int(self.months)),
            "weeks" => Some(Val::Int(self.days / 7)),
            "days" => Some(Val::Int(self.days)),
            "hours" => i(n / 3_600_000_000_000),
            "minutes" => i(n / 60_000_000_000),
            "seconds" => i(n / 1_000_000_000),
            "milliseconds" => i(n / 1_000_000),
            "microseconds" => i(n / 1000),
            "nanoseconds" => i(n),
            "quartersOfYear" => Some(Val::Int(self.months / 3 % 4)),
            "monthsOfQuarter" => Some(Val::Int(self.months % 3)),
            "monthsOfYear" => Some(Val::Int(self.months % 12)),
            "daysOfWeek" => Some(Val::Int(self.days % 7)),
            "minutesOfHour" => i(n / 60_000_000_000 % 60),
            "secondsOfMinute" => i(n / 1_000_000_000 % 60),
            "millisecondsOfSecond" => i(n / 1_000_000 % 1000),
            "microsecondsOfSecond" => i(n / 1000 % 1_000_000),
            "nanosecondsOfSecond" => i(n % 1_000_000_000),
            _ => None,
        }
    }
}

fn add_months(days: i64, months: i64) -> Result<i64> {
    let (y, m, d) = civil_from_days(days);
    let total = (y as i128) * 12 + (m as i128 - 1) + months as i128;
    let ny = i64::try_from(total.div_euclid(12)).map_err(|_| overflow())?;
    if !(-crate::temporal::MAX_YEAR..=crate::temporal::MAX_YEAR).contains(&ny) {
        return Err(overflow());
    }
    let nm = (total.rem_euclid(12) + 1) as i64;
    let last = days_from_civil(
        if nm == 12 { ny + 1 } else { ny },
        if nm == 12 { 1 } else { nm + 1 },
        1,
    ) - days_from_civil(ny, nm, 1);
    Ok(days_from_civil(ny, nm, d.min(last)))
}

/// `temporal + duration`.
pub fn add_to(t: &Temporal, d: &Duration) -> Result<Temporal> {
    let mut r = *t;
    if has_date(t.kind) {
        r.days = add_months(r.days, d.months)?;
        r.days = r.days.checked_add(d.days).ok_or_else(overflow)?;
        if t.kind == Kind::Date {
            let extra = d.nanos / NANOS_PER_DAY;
            r.days = r
                .days
                .checked_add(i64::try_from(extra).map_err(|_| overflow())?)
                .ok_or_else(overflow)?;
            return crate::temporal::check_range(r);
        }
        if r.zone.is_some() {
            // In a named zone, months and days move the wall clock and the
            // rest moves the instant, as Java's ZonedDateTime does (which
            // leaves the value alone when no months or days are added).
            if d.months != 0 || d.days != 0 {
                r.settle();
            }
            r.add_instant_nanos(d.nanos).ok_or_else(overflow)?;
            return crate::temporal::check_range(r);
        }
        let total = (r.nanos as i128)
            .checked_add(d.nanos)
            .ok_or_else(overflow)?;
        let carry = total.div_euclid(NANOS_PER_DAY);
        r.days = r
            .days
            .checked_add(i64::try_from(carry).map_err(|_| overflow())?)
            .ok_or_else(overflow)?;
        r.nanos = total.rem_euclid(NANOS_PER_DAY) as i64;
        return crate::temporal::check_range(r);
    } else {
        r.nanos = (r.nanos as i128)
            .checked_add(d.nanos)
            .ok_or_else(overflow)?
            .rem_euclid(NANOS_PER_DAY) as i64;
    }
    Ok(r)
}

/// `t` (without a zone) as a date-time in zone `z`, on `other`'s date when
/// it has none of its own.
fn in_zone(t: &Temporal, other: &Temporal, z: causeway_value::temporal::NamedZone) -> Temporal {
    let mut r = Temporal {
        kind: Kind::DateTime,
        days: if has_date(t.kind) { t.days } else { other.days },
        nanos: if has_time(t.kind) { t.nanos } else { 0 },
        offset: 0,
        zone: Some(z),
    };
    r.settle_new();
    r
}

fn local(t: &Temporal) -> i128 {
    t.days as i128 * NANOS_PER_DAY + t.nanos as i128
}

/// `duration.between(a, b)` and its `inMonths`/`inDays`/`inSeconds` forms.
pub fn between(a: &Temporal, b: &Temporal, unit: &str) -> Result<Duration> {
    // A value without a zone, against a date-time in a named zone, is read
    // in that zone (on its date, when it has none): DST days then count
    // their real length.
    match (a.zone, b.zone) {
        (Some(z), None) if !has_zone(b.kind) => return between(a, &in_zone(b, a, z), unit),
        (None, Some(z)) if !has_zone(a.kind) => return between(&in_zone(a, b, z), b, unit),
        _ => {}
    }
    let zoned = |k: Kind| matches!(k, Kind::Time | Kind::DateTime);
    let both_zoned = zoned(a.kind) && zoned(b.kind);
    // Compare in a's offset when both carry one, else on the wall clock.
    let mut b2 = *b;
    if both_zoned && a.offset != b.offset {
        let shifted = local(b) + (a.offset as i128 - b.offset as i128) * 1_000_000_000;
        b2.days = i64::try_from(shifted.div_euclid(NANOS_PER_DAY)).map_err(|_| overflow())?;
        b2.nanos = shifted.rem_euclid(NANOS_PER_DAY) as i64;
    }
    let zero = Duration {
        months: 0,
        days: 0,
        nanos: 0,
    };
    if !(has_date(a.kind) && has_date(b.kind)) {
        // Without two dates only the times of day are compared.
        if unit == "months" || unit == "days" {
            return Ok(zero);
        }
        return Ok(Duration {
            months: 0,
            days: 0,
            nanos: b2.nanos as i128 - a.nanos as i128,
        });
    }
    let a_nanos = if a.kind == Kind::Date { 0 } else { a.nanos };
    let b_nanos = if b.kind == Kind::Date { 0 } else { b2.nanos };
    let (la, lb) = (
        a.days as i128 * NANOS_PER_DAY + a_nanos as i128,
        b2.days as i128 * NANOS_PER_DAY + b_nanos as i128,
    );
    match unit {
        "days" => {
            return Ok(Duration {
                months: 0,
                days: i64::try_from((lb - la) / NANOS_PER_DAY).map_err(|_| overflow())?,
                nanos: 0,
            })
        }
        "seconds" => {
            return Ok(Duration {
                months: 0,
                days: 0,
                nanos: lb - la,
            })
        }
        _ => {}
    }
    let (y1, m1, d1) = civil_from_days(a.days);
    let (y2, m2, d2) = civil_from_days(b2.days);
    let mut months = (y2 - y1) * 12 + (m2 - m1);
    if months > 0 && (d2, b_nanos) < (d1, a_nanos) {
        months -= 1;
    } else if months < 0 && (d2, b_nanos) > (d1, a_nanos) {
        months += 1;
    }
    if unit == "months" {
        return Ok(Duration {
            months,
            days: 0,
            nanos: 0,
        });
    }
    let shifted = add_months(a.days, months)? as i128 * NANOS_PER_DAY + a_nanos as i128;
    let rest = lb - shifted;
    Ok(Duration {
        months,
        days: i64::try_from(rest / NANOS_PER_DAY).map_err(|_| overflow())?,
        nanos: rest % NANOS_PER_DAY,
    })
}

pub fn construct(args: &[Val]) -> Result<Val> {
    match args.first() {
        None | Some(Val::Null) => Ok(Val::Null),
        Some(Val::Map(m)) => Ok(Val::Duration(Box::new(from_map(m)?))),
        Some(Val::Str(s)) => Ok(Val::Duration(Box::new(parse(s)?))),
        Some(Val::Duration(d)) => Ok(Val::Duration(d.clone())),
        Some(other) => Err(type_error(format!(
            "Expected a Map or String but got {}",
            other.type_name()
        ))),
    }
}

pub fn between_fn(unit: &str, args: &[Val]) -> Result<Val> {
    match (args.first(), args.get(1)) {
        (Some(Val::Temporal(a)), Some(Val::Temporal(b))) => {
            Ok(Val::Duration(Box::new(between(a, b, unit)?)))
        }
        (Some(Val::Null), _) | (_, Some(Val::Null)) | (None, _) | (_, None) => Ok(Val::Null),
        (Some(x), _) => Err(type_error(format!(
            "Expected temporal values but got {}",
            x.type_name()
        ))),
    }
}
