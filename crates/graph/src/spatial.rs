//! Point indexes. A point's key places it on a Z-order (Morton) curve
//! within its coordinate system: each coordinate is mapped, order
//! preserving, onto a fixed number of bits and the bits are interleaved.
//! A box then covers a set of curve intervals, found by splitting the
//! curve's cells breadth first down to a bounded count; the keys inside
//! those intervals are checked against the box itself, so a search answers
//! exactly whatever the cells' resolution.

use causeway_value::{Code, Error, Result};

/// Most curve intervals one box is split into. Cells still partly inside
/// the box at that point are scanned whole, their keys checked one by one.
const MAX_INTERVALS: usize = 256;

/// Bits per coordinate, so that the curve position fits 64 bits: 32 in
/// 2D, 21 in 3D.
pub(crate) fn bits(dims: usize) -> u32 {
    (64 / dims.clamp(1, 3)) as u32
}

/// The coordinate's cell: its float bits made to sort as unsigned
/// integers, then truncated. Monotone (not strictly), so the cells of a
/// box's corners bound the cells of everything inside it, whatever the
/// magnitude of the coordinates: no envelope needs configuring.
pub(crate) fn cell(c: f64, bits: u32) -> u64 {
    // -0.0 compares equal to 0.0 and must share its cell.
    let c = if c == 0.0 { 0.0 } else { c };
    let b = c.to_bits();
    let ordered = if b >> 63 == 1 { !b } else { b | (1 << 63) };
    ordered >> (64 - bits)
}

/// The low `bits` bits of each cell, interleaved from the top, the first
/// coordinate most significant.
fn interleave(cells: &[u64], bits: u32) -> u64 {
    let mut z = 0u64;
    for level in (0..bits).rev() {
        for c in cells {
            z = (z << 1) | ((c >> level) & 1);
        }
    }
    z
}

/// A point's position on the curve.
pub(crate) fn z_value(coords: &[f64]) -> u64 {
    let b = bits(coords.len());
    let cells: Vec<u64> = coords.iter().map(|&c| cell(c, b)).collect();
    interleave(&cells, b)
}

/// The curve interval of the node `cells` (each coordinate's cell at
/// `level` bits) of a curve with `bits` bits per coordinate.
fn interval(cells: &[u64], level: u32, bits: u32) -> (u64, u64) {
    let free = (bits - level) as usize * cells.len();
    let prefix = interleave(cells, level);
    if free >= 64 {
        return (0, u64::MAX);
    }
    let lo = prefix << free;
    (lo, lo | ((1u64 << free) - 1))
}

/// Sorted, disjoint curve intervals covering every cell in the box of
/// cells `lo..=hi` (per coordinate).
pub(crate) fn z_intervals(lo: &[u64], hi: &[u64], bits: u32) -> Vec<(u64, u64)> {
    let d = lo.len();
    let mut out = Vec::new();
    let mut partial: Vec<Vec<u64>> = vec![vec![0; d]];
    let mut level = 0;
    while level < bits && !partial.is_empty() && out.len() + (partial.len() << d) <= MAX_INTERVALS {
        let shift = bits - level - 1;
        let mut next = Vec::new();
        for node in &partial {
            for child in 0..(1usize << d) {
                let cells: Vec<u64> = (0..d)
                    .map(|j| node[j] * 2 + ((child >> (d - 1 - j)) & 1) as u64)
                    .collect();
                let mut inside = true;
                let mut disjoint = false;
                for j in 0..d {
                    let a = cells[j] << shift;
                    let b = a | ((1u64 << shift) - 1);
                    if b < lo[j] || a > hi[j] {
                        disjoint = true;
                        break;
                    }
                    if a < lo[j] || b > hi[j] {
                        inside = false;
                    }
                }
                if disjoint {
                    continue;
                }
                if inside {
                    out.push(interval(&cells, level + 1, bits));
                } else {
                    next.push(cells);
                }
            }
        }
        partial = next;
        level += 1;
    }
    for node in &partial {
        out.push(interval(node, level, bits));
    }
    out.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(out.len());
    for (a, b) in out {
        match merged.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(a) => last.1 = b,
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Neo4j's point index settings (`spatial.<crs>.min|max`) with its
/// defaults, by name. They bound the area Neo4j's index divides finely;
/// Causeway's curve spans every float, so here they are kept, checked and
/// shown, but do not change what the index finds.
const DEFAULT_SETTINGS: [(&str, &[f64]); 8] = [
    (
        "spatial.cartesian-3d.max",
        &[1_000_000.0, 1_000_000.0, 1_000_000.0],
    ),
    (
        "spatial.cartesian-3d.min",
        &[-1_000_000.0, -1_000_000.0, -1_000_000.0],
    ),
    ("spatial.cartesian.max", &[1_000_000.0, 1_000_000.0]),
    ("spatial.cartesian.min", &[-1_000_000.0, -1_000_000.0]),
    ("spatial.wgs-84-3d.max", &[180.0, 90.0, 1_000_000.0]),
    ("spatial.wgs-84-3d.min", &[-180.0, -90.0, -1_000_000.0]),
    ("spatial.wgs-84.max", &[180.0, 90.0]),
    ("spatial.wgs-84.min", &[-180.0, -90.0]),
];

/// A point index's settings, sorted by name.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSettings(pub Vec<(String, Vec<f64>)>);

impl Default for PointSettings {
    fn default() -> Self {
        PointSettings(
            DEFAULT_SETTINGS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                .collect(),
        )
    }
}

impl PointSettings {
    /// Sets one setting, which must exist and have one number per
    /// coordinate of its system.
    pub fn set(&mut self, key: &str, value: Vec<f64>) -> Result<()> {
        let bad = |msg: String| Error::new(Code::ArgumentError, msg);
        let Some(slot) = self.0.iter_mut().find(|(k, _)| k == key) else {
            return Err(bad(format!(
                "Invalid index config key '{key}', it was not recognized as an index setting."
            )));
        };
        if value.len() != slot.1.len() || value.iter().any(|v| !v.is_finite()) {
            return Err(bad(format!(
                "Invalid index config value for '{key}': expected a list of {} finite numbers.",
                slot.1.len()
            )));
        }
        slot.1 = value;
        Ok(())
    }

    /// Each system's minimum lies below its maximum in every coordinate.
    pub fn check(&self) -> Result<()> {
        for (key, max) in &self.0 {
            let Some(crs) = key.strip_suffix(".max") else {
                continue;
            };
            let min_key = format!("{crs}.min");
            let Some((_, min)) = self.0.iter().find(|(k, _)| *k == min_key) else {
                continue;
            };
            if min.iter().zip(max).any(|(a, b)| a >= b) {
                return Err(Error::new(
                    Code::ArgumentError,
                    format!(
                        "Invalid spatial index settings for {crs}: each value of '{min_key}' \
                         must be less than the matching value of '{key}'."
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_the_order_of_coordinates() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -5.5,
            -1e-300,
            -0.0,
            0.0,
            1e-300,
            3.0,
            3.0000001,
            1e300,
            f64::INFINITY,
        ];
        for b in [21, 32] {
            for w in xs.windows(2) {
                assert!(cell(w[0], b) <= cell(w[1], b), "{} {}", w[0], w[1]);
            }
            assert_eq!(cell(-0.0, b), cell(0.0, b));
        }
    }

    /// Every cell inside the box lies in an interval, and (the intervals
    /// being whole cells at the last level reached) the intervals hold
    /// nothing far from it: brute force over a small curve.
    #[test]
    fn intervals_cover_the_box() {
        let bits = 4;
        let n = 1u64 << bits;
        let boxes = [
            ([0, 0], [15, 15]),
            ([3, 5], [9, 6]),
            ([7, 7], [7, 7]),
            ([0, 9], [15, 9]),
            ([10, 2], [2, 10]),
        ];
        for (lo, hi) in boxes {
            let iv = z_intervals(&lo, &hi, bits);
            for w in iv.windows(2) {
                assert!(w[0].1 < w[1].0, "sorted and disjoint: {iv:?}");
            }
            let covered = |z: u64| iv.iter().any(|&(a, b)| a <= z && z <= b);
            for x in 0..n {
                for y in 0..n {
                    let z = interleave(&[x, y], bits);
                    let inside = lo[0] <= x && x <= hi[0] && lo[1] <= y && y <= hi[1];
                    // The box is split down to single cells here, so the
                    // cover is exact.
                    assert_eq!(covered(z), inside, "{lo:?} {hi:?} ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn large_boxes_stay_within_the_interval_budget() {
        let b = bits(3);
        let lo: Vec<u64> = [-1.0, -2.0, -3.0].iter().map(|&c| cell(c, b)).collect();
        let hi: Vec<u64> = [1e6, 2.5, 3e5].iter().map(|&c| cell(c, b)).collect();
        let iv = z_intervals(&lo, &hi, b);
        assert!(!iv.is_empty() && iv.len() <= MAX_INTERVALS, "{}", iv.len());
        let probe = |p: [f64; 3]| {
            let z = z_value(&p);
            iv.iter().any(|&(a, b)| a <= z && z <= b)
        };
        assert!(probe([0.0, 0.0, 0.0]));
        assert!(probe([1e6, 2.5, 3e5]));
        assert!(probe([-1.0, -2.0, -3.0]));
    }

    #[test]
    fn settings_are_checked() {
        let mut s = PointSettings::default();
        s.set("spatial.cartesian.min", vec![-10.0, -10.0]).unwrap();
        s.check().unwrap();
        assert!(s.set("spatial.cartesian.min", vec![1.0]).is_err());
        assert!(s.set("spatial.mars.min", vec![1.0, 2.0]).is_err());
        s.set("spatial.wgs-84.max", vec![-190.0, 90.0]).unwrap();
        assert!(s.check().is_err());
    }
}
