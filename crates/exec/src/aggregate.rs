//! Aggregate functions: per-group accumulators.

use crate::eval::{as_f64, eval, list_too_long, Ctx};
use crate::val::*;
use causeway_cypher::ast::Expr;
use causeway_value::Result;
use std::collections::HashSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Collect,
    StDev,
    StDevP,
    PercentileCont,
    PercentileDisc,
}

pub struct Agg<'e> {
    kind: Kind,
    distinct: bool,
    arg: Option<&'e Expr>,
    param: Option<&'e Expr>,
    seen: HashSet<Key>,
    count: i64,
    int_sum: i64,
    float_sum: f64,
    any_float: bool,
    best: Option<Val>,
    values: Vec<Val>,
    percentile: Option<f64>,
}

impl<'e> Agg<'e> {
    pub fn new(e: &'e Expr) -> Agg<'e> {
        let (kind, distinct, arg, param) = match e {
            Expr::Function {
                name,
                distinct,
                args,
            } => {
                let k = match name.to_ascii_lowercase().as_str() {
                    "count" => Kind::Count,
                    "sum" => Kind::Sum,
                    "avg" => Kind::Avg,
                    "min" => Kind::Min,
                    "max" => Kind::Max,
                    "collect" => Kind::Collect,
                    "stdev" => Kind::StDev,
                    "stdevp" => Kind::StDevP,
                    "percentilecont" => Kind::PercentileCont,
                    _ => Kind::PercentileDisc,
                };
                (k, *distinct, args.first(), args.get(1))
            }
            _ => (Kind::CountStar, false, None, None),
        };
        Agg {
            kind,
            distinct,
            arg,
            param,
            seen: HashSet::new(),
            count: 0,
            int_sum: 0,
            float_sum: 0.0,
            any_float: false,
            best: None,
            values: Vec::new(),
            percentile: None,
        }
    }

    pub fn feed(&mut self, ctx: &Ctx, row: &Row) -> Result<()> {
        if self.kind == Kind::CountStar {
            self.count = self.count.checked_add(1).ok_or_else(overflow)?;
            return Ok(());
        }
        let Some(arg) = self.arg else {
            return Ok(());
        };
        let v = eval(ctx, arg, row)?;
        if v.is_null() {
            return Ok(());
        }
        if let Some(p) = self.param {
            let pv = eval(ctx, p, row)?;
            let f = match pv {
                Val::Int(i) => i as f64,
                Val::Float(f) => f,
                other => {
                    return Err(type_error(format!(
                        "Expected a number for percentile but got {}",
                        other.type_name()
                    )))
                }
            };
            if !(0.0..=1.0).contains(&f) {
                return Err(arg_error(
                    "NumberOutOfRange",
                    format!("Invalid input '{f}' is not a valid argument, must be a number in the range 0.0 to 1.0"),
                ));
            }
            self.percentile = Some(f);
        }
        if self.distinct && !self.seen.insert(key_of(&v)) {
            return Ok(());
        }
        match self.kind {
            Kind::CountStar | Kind::Count => {
                self.count = self.count.checked_add(1).ok_or_else(overflow)?;
            }
            Kind::Sum | Kind::Avg => {
                match v {
                    Val::Int(i) => {
                        if self.any_float {
                            self.float_sum += i as f64;
                        } else {
                            match self.int_sum.checked_add(i) {
                                Some(s) => self.int_sum = s,
                                None if self.kind == Kind::Avg => {
                                    self.any_float = true;
                                    self.float_sum = self.int_sum as f64 + i as f64;
                                }
                                None => return Err(overflow()),
                            }
                        }
                    }
                    Val::Float(f) => {
                        if !self.any_float {
                            self.any_float = true;
                            self.float_sum = self.int_sum as f64;
                        }
                        self.float_sum += f;
                    }
                    other => {
                        return Err(type_error(format!(
                            "{} can only handle numerical values, got {}",
                            if self.kind == Kind::Sum { "sum" } else { "avg" },
                            other.type_name()
                        )))
                    }
                }
                self.count += 1;
            }
            Kind::Min | Kind::Max => {
                let replace = match &self.best {
                    None => true,
                    Some(b) => {
                        let o = total_cmp(&v, b);
                        if self.kind == Kind::Min {
                            o == std::cmp::Ordering::Less
                        } else {
                            o == std::cmp::Ordering::Greater
                        }
                    }
                };
                if replace {
                    self.best = Some(v);
                }
            }
            Kind::Collect => {
                if self.values.len() >= ctx.sh.limits.max_list_len {
                    return Err(list_too_long());
                }
                self.values.push(v);
            }
            Kind::StDev | Kind::StDevP | Kind::PercentileCont | Kind::PercentileDisc => {
                match v {
                    Val::Int(_) | Val::Float(_) => {}
                    other => {
                        return Err(type_error(format!(
                            "Expected a number but got {}",
                            other.type_name()
                        )))
                    }
                }
                if self.values.len() >= ctx.sh.limits.max_materialized_rows {
                    return Err(list_too_long());
                }
                self.values.push(v);
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Result<Val> {
        Ok(match self.kind {
            Kind::CountStar | Kind::Count => Val::Int(self.count),
            Kind::Sum => {
                if self.any_float {
                    Val::Float(self.float_sum)
                } else {
                    Val::Int(self.int_sum)
                }
            }
            Kind::Avg => {
                if self.count == 0 {
                    Val::Null
                } else if self.any_float {
                    Val::Float(self.float_sum / self.count as f64)
                } else {
                    Val::Float(self.int_sum as f64 / self.count as f64)
                }
            }
            Kind::Min | Kind::Max => self.best.unwrap_or(Val::Null),
            Kind::Collect => Val::List(self.values),
            Kind::StDev | Kind::StDevP => {
                let n = self.values.len();
                let min_n = if self.kind == Kind::StDev { 2 } else { 1 };
                if n < min_n {
                    return Ok(Val::Float(0.0));
                }
                let xs: Vec<f64> = self.values.iter().map(as_f64).collect();
                let mean = xs.iter().sum::<f64>() / n as f64;
                let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
                let denom = if self.kind == Kind::StDev {
                    (n - 1) as f64
                } else {
                    n as f64
                };
                Val::Float((ss / denom).sqrt())
            }
            Kind::PercentileCont | Kind::PercentileDisc => {
                let mut vals = self.values;
                if vals.is_empty() {
                    return Ok(Val::Null);
                }
                vals.sort_by(total_cmp);
                let p = self.percentile.unwrap_or(0.0);
                let n = vals.len();
                if self.kind == Kind::PercentileDisc {
                    let idx = if p >= 1.0 {
                        n - 1
                    } else {
                        ((p * n as f64).ceil() as usize)
                            .saturating_sub(1)
                            .min(n - 1)
                    };
                    vals.swap_remove(idx)
                } else {
                    let fi = p * (n - 1) as f64;
                    let lo = fi.floor() as usize;
                    let hi = fi.ceil() as usize;
                    let (a, b) = (as_f64(&vals[lo.min(n - 1)]), as_f64(&vals[hi.min(n - 1)]));
                    Val::Float(a + (b - a) * (fi - lo as f64))
                }
            }
        })
    }
}
