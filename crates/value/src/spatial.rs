//! Spatial points: the four coordinate reference systems Neo4j supports,
//! building a point from Cypher's `point({...})` map, distances, bounding
//! boxes and the text form. Geographic distances follow Neo4j: haversine
//! on a sphere of radius 6,378,140 m, with the height difference added by
//! Pythagoras in 3D.

use crate::{Code, Error, Map, Result, Value};

/// A point: a coordinate reference system (by SRID) and 2 or 3
/// coordinates. For the geographic systems `x` is the longitude and `y` the
/// latitude, in degrees, and `z` the height in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub srid: u32,
    pub x: f64,
    pub y: f64,
    pub z: Option<f64>,
}

/// A coordinate reference system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crs {
    pub srid: u32,
    pub name: &'static str,
    pub dimensions: usize,
    pub geographic: bool,
    /// Where the system is described, as Neo4j's HTTP API links it.
    pub href: &'static str,
}

pub const CARTESIAN: Crs = Crs {
    srid: 7203,
    name: "cartesian",
    dimensions: 2,
    geographic: false,
    href: "http://spatialreference.org/ref/sr-org/7203/",
};
pub const CARTESIAN_3D: Crs = Crs {
    srid: 9157,
    name: "cartesian-3d",
    dimensions: 3,
    geographic: false,
    href: "http://spatialreference.org/ref/sr-org/9157/",
};
pub const WGS84: Crs = Crs {
    srid: 4326,
    name: "wgs-84",
    dimensions: 2,
    geographic: true,
    href: "http://spatialreference.org/ref/epsg/4326/",
};
pub const WGS84_3D: Crs = Crs {
    srid: 4979,
    name: "wgs-84-3d",
    dimensions: 3,
    geographic: true,
    href: "http://spatialreference.org/ref/epsg/4979/",
};
pub const SYSTEMS: [Crs; 4] = [CARTESIAN, CARTESIAN_3D, WGS84, WGS84_3D];

/// A box's lower and upper corner, one bound per coordinate.
pub type Corners = (Vec<f64>, Vec<f64>);

/// The sphere geographic distances are measured on, in metres.
const EARTH_RADIUS: f64 = 6_378_140.0;

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Code::ArgumentError, msg)
}

pub fn crs_by_srid(srid: i64) -> Option<Crs> {
    SYSTEMS.into_iter().find(|c| i64::from(c.srid) == srid)
}

pub fn crs_by_name(name: &str) -> Option<Crs> {
    SYSTEMS
        .into_iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
}

impl Point {
    /// A point in `crs` from its coordinates, checked as Neo4j checks them
    /// (count, finiteness, geographic ranges).
    pub fn new(crs: Crs, coords: &[f64]) -> Result<Point> {
        if coords.len() != crs.dimensions {
            return Err(invalid(format!(
                "Cannot create point with {}D coordinate reference system and {} coordinates. \
                 Please consider using equivalent {}D coordinate reference system",
                crs.dimensions,
                coords.len(),
                coords.len()
            )));
        }
        if coords.iter().any(|c| !c.is_finite()) {
            return Err(invalid("Cannot create a point with non-finite coordinates"));
        }
        if crs.geographic {
            if !(-180.0..=180.0).contains(&coords[0]) {
                return Err(invalid(format!(
                    "Cannot create WGS84 point with invalid coordinate: {coords:?}. \
                     Valid range for X coordinate is [-180, 180]."
                )));
            }
            if !(-90.0..=90.0).contains(&coords[1]) {
                return Err(invalid(format!(
                    "Cannot create WGS84 point with invalid coordinate: {coords:?}. \
                     Valid range for Y coordinate is [-90, 90]."
                )));
            }
        }
        Ok(Point {
            srid: crs.srid,
            x: coords[0],
            y: coords[1],
            z: coords.get(2).copied(),
        })
    }

    pub fn crs(&self) -> Crs {
        crs_by_srid(i64::from(self.srid)).unwrap_or(CARTESIAN)
    }

    /// Cypher's `point({...})`: `x`, `y` (and `z`), or `longitude`,
    /// `latitude` (and `height`), with an optional `crs` name or `srid`.
    /// `Ok(None)` when a coordinate is null, as Neo4j returns null then.
    pub fn from_map(given: &Map) -> Result<Option<Point>> {
        // Keys match whatever their case, as in Neo4j.
        let m: Map = given
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        let coords = |names: [&str; 3]| -> Result<Option<Vec<Option<f64>>>> {
            let mut out = Vec::new();
            for (i, n) in names.iter().enumerate() {
                // A geographic point may name its height `z`.
                let found = match m.get(*n) {
                    None if *n == "height" => m.get("z"),
                    other => other,
                };
                match found {
                    None if i < 2 => return Ok(None),
                    None => {}
                    Some(Value::Null) => out.push(None),
                    Some(Value::Int(v)) => out.push(Some(*v as f64)),
                    Some(Value::Float(v)) => out.push(Some(*v)),
                    Some(other) => {
                        return Err(Error::new(
                            Code::TypeError,
                            format!(
                                "Cannot assign {} to a point coordinate '{n}'",
                                other.type_name()
                            ),
                        ))
                    }
                }
            }
            Ok(Some(out))
        };
        let cartesian = coords(["x", "y", "z"])?;
        let geographic = coords(["longitude", "latitude", "height"])?;
        let (given, geo) = match (cartesian, geographic) {
            (Some(c), None) => (c, false),
            (None, Some(g)) => (g, true),
            (Some(_), Some(_)) => return Err(invalid(
                "A point must contain either 'x' and 'y', or 'latitude' and 'longitude', not both",
            )),
            (None, None) => {
                return Err(invalid(
                    "A point must contain either 'x' and 'y', or 'latitude' and 'longitude'",
                ))
            }
        };
        let crs = match (m.get("crs"), m.get("srid")) {
            (Some(Value::Null), _) | (_, Some(Value::Null)) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "Cannot specify both coordinate reference system and SRID",
                ))
            }
            (Some(Value::String(name)), None) => crs_by_name(name)
                .ok_or_else(|| invalid(format!("Unknown coordinate reference system: {name}")))?,
            (None, Some(Value::Int(srid))) => crs_by_srid(*srid).ok_or_else(|| {
                invalid(format!("Unknown coordinate reference system code: {srid}"))
            })?,
            (Some(other), None) | (None, Some(other)) => {
                return Err(Error::new(
                    Code::TypeError,
                    format!(
                        "Cannot use {} as a coordinate reference system",
                        other.type_name()
                    ),
                ))
            }
            (None, None) => match (geo, given.len()) {
                (false, 2) => CARTESIAN,
                (false, _) => CARTESIAN_3D,
                (true, 2) => WGS84,
                (true, _) => WGS84_3D,
            },
        };
        if geo && !crs.geographic {
            return Err(invalid(format!(
                "Geographic points with latitude/longitude require a geographic coordinate \
                 reference system, not {}",
                crs.name
            )));
        }
        let Some(coords) = given.into_iter().collect::<Option<Vec<f64>>>() else {
            return Ok(None);
        };
        Point::new(crs, &coords).map(Some)
    }

    /// The distance to `other` in the system's unit (metres for the
    /// geographic ones); `None` across coordinate systems.
    pub fn distance(&self, other: &Point) -> Option<f64> {
        if self.srid != other.srid {
            return None;
        }
        let dz = match (self.z, other.z) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        };
        if !self.crs().geographic {
            let (dx, dy) = (other.x - self.x, other.y - self.y);
            return Some((dx * dx + dy * dy + dz * dz).sqrt());
        }
        let (lat1, lat2) = (self.y.to_radians(), other.y.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.x - self.x).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        let c = 2.0 * a.sqrt().atan2((1.0 - a).max(0.0).sqrt());
        // In 3D the arc is taken at the points' mean height.
        let mean_height = match (self.z, other.z) {
            (Some(a), Some(b)) => (a + b) / 2.0,
            _ => 0.0,
        };
        let surface = (EARTH_RADIUS + mean_height) * c;
        Some((surface * surface + dz * dz).sqrt())
    }

    /// Whether the point lies in the box from `lower_left` to
    /// `upper_right`, edges included; `None` across coordinate systems. A
    /// geographic box whose left edge lies east of its right edge crosses
    /// the antimeridian.
    pub fn within_bbox(&self, lower_left: &Point, upper_right: &Point) -> Option<bool> {
        if self.srid != lower_left.srid || self.srid != upper_right.srid {
            return None;
        }
        let x_in = if self.crs().geographic && lower_left.x > upper_right.x {
            self.x >= lower_left.x || self.x <= upper_right.x
        } else {
            lower_left.x <= self.x && self.x <= upper_right.x
        };
        let y_in = lower_left.y <= self.y && self.y <= upper_right.y;
        let z_in = match (self.z, lower_left.z, upper_right.z) {
            (Some(z), Some(lo), Some(hi)) => lo <= z && z <= hi,
            _ => true,
        };
        Some(x_in && y_in && z_in)
    }

    fn coords(&self) -> Vec<f64> {
        [Some(self.x), Some(self.y), self.z]
            .into_iter()
            .flatten()
            .collect()
    }

    /// Boxes (lower and upper corner, one bound per coordinate, edges
    /// included) that together hold every point of this system within
    /// `r` of this one: what a point index searches for
    /// `point.distance(p, centre) <= r`. A little larger than needed,
    /// never smaller, since rounding must not lose a point; the distance
    /// itself is checked afterwards.
    pub fn distance_boxes(&self, r: f64) -> Vec<Corners> {
        // NaN or negative: no point is that close.
        if r.is_nan() || r < 0.0 {
            return Vec::new();
        }
        let widen = |v: f64| v * (1.0 + 1e-9) + 1e-9;
        let c = self.coords();
        if !self.crs().geographic {
            let lo = c.iter().map(|x| x - widen(r) - x.abs() * 1e-12).collect();
            let hi = c.iter().map(|x| x + widen(r) + x.abs() * 1e-12).collect();
            return vec![(lo, hi)];
        }
        // The arc is measured at the mean height of the two points, which
        // in 3D lies above `h - r` for every point within reach.
        let radius = EARTH_RADIUS + self.z.map_or(0.0, |h| (h - r).min(0.0));
        let theta = if radius > 1.0 {
            widen(r / radius)
        } else {
            std::f64::consts::PI
        };
        let dlat = theta.to_degrees();
        let (lat_lo, lat_hi) = (self.y - dlat, self.y + dlat);
        let heights = self.z.map(|h| (h - widen(r), h + widen(r)));
        let make = |lon_lo: f64, lon_hi: f64| {
            let mut lo = vec![lon_lo, lat_lo];
            let mut hi = vec![lon_hi, lat_hi];
            if let Some((a, b)) = heights {
                lo.push(a);
                hi.push(b);
            }
            (lo, hi)
        };
        // Over a pole every longitude is within reach; elsewhere the
        // widest longitude difference at angular distance theta.
        let spread = theta.sin() / self.y.to_radians().cos();
        if theta >= std::f64::consts::PI
            || lat_hi >= 90.0
            || lat_lo <= -90.0
            || spread.is_nan()
            || spread >= 1.0
        {
            return vec![make(-180.0, 180.0)];
        }
        let dlon = widen(spread.asin().to_degrees());
        let (a, b) = (self.x - dlon, self.x + dlon);
        if a < -180.0 {
            vec![make(a + 360.0, 180.0), make(-180.0, b)]
        } else if b > 180.0 {
            vec![make(a, 180.0), make(-180.0, b - 360.0)]
        } else {
            vec![make(a, b)]
        }
    }

    /// The boxes `point.withinBBox(p, lower_left, upper_right)` accepts,
    /// as `distance_boxes` gives them: one, two for a geographic box
    /// across the antimeridian, none across coordinate systems.
    pub fn bbox_boxes(lower_left: &Point, upper_right: &Point) -> Vec<Corners> {
        if lower_left.srid != upper_right.srid {
            return Vec::new();
        }
        let (lo, hi) = (lower_left.coords(), upper_right.coords());
        if lower_left.crs().geographic && lower_left.x > upper_right.x {
            let mut east = (lo.clone(), hi.clone());
            east.1[0] = f64::INFINITY;
            let mut west = (lo, hi);
            west.0[0] = f64::NEG_INFINITY;
            return vec![east, west];
        }
        vec![(lo, hi)]
    }

    /// A component by Cypher's property name (`p.x`, `p.latitude`,
    /// `p.crs`, ...); an error for a name the point's system lacks.
    pub fn component(&self, key: &str) -> Result<Value> {
        let crs = self.crs();
        let missing = || {
            invalid(format!(
                "Field '{key}' is not available on a point in the {} coordinate reference system",
                crs.name
            ))
        };
        Ok(match key {
            "x" => Value::Float(self.x),
            "y" => Value::Float(self.y),
            "z" => Value::Float(self.z.ok_or_else(missing)?),
            "longitude" if crs.geographic => Value::Float(self.x),
            "latitude" if crs.geographic => Value::Float(self.y),
            "height" if crs.geographic => Value::Float(self.z.ok_or_else(missing)?),
            "crs" => Value::String(crs.name.to_owned()),
            "srid" => Value::Int(i64::from(self.srid)),
            _ => return Err(missing()),
        })
    }

    /// `point({x: 12.5, y: 56.0, crs: 'wgs-84'})`, Neo4j's `toString`
    /// form.
    pub fn text(&self) -> String {
        let mut s = format!(
            "point({{x: {}, y: {}",
            crate::java_double(self.x),
            crate::java_double(self.y)
        );
        if let Some(z) = self.z {
            s.push_str(&format!(", z: {}", crate::java_double(z)));
        }
        s.push_str(&format!(", crs: '{}'}})", self.crs().name));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn points_from_maps() {
        let p = Point::from_map(&map(&[("x", Value::Int(1)), ("y", Value::Float(2.5))]))
            .unwrap()
            .unwrap();
        assert_eq!((p.srid, p.x, p.y, p.z), (7203, 1.0, 2.5, None));
        let p = Point::from_map(&map(&[
            ("longitude", Value::Float(12.0)),
            ("latitude", Value::Float(56.0)),
            ("height", Value::Int(100)),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(p.srid, 4979);
        // Keys in any case; `z` as the height of a geographic point.
        let p = Point::from_map(&map(&[
            ("Longitude", Value::Float(12.0)),
            ("LATITUDE", Value::Float(56.0)),
            ("z", Value::Int(5)),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((p.srid, p.z), (4979, Some(5.0)));
        let p = Point::from_map(&map(&[
            ("x", Value::Int(1)),
            ("y", Value::Int(2)),
            ("crs", Value::from("WGS-84")),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(p.srid, 4326);
        assert!(
            Point::from_map(&map(&[("x", Value::Null), ("y", Value::Int(2))]))
                .unwrap()
                .is_none()
        );
        assert!(Point::from_map(&map(&[("x", Value::Int(1))])).is_err());
        assert!(Point::from_map(&map(&[
            ("longitude", Value::Int(1)),
            ("latitude", Value::Int(91))
        ]))
        .is_err());
        assert!(Point::from_map(&map(&[
            ("x", Value::Int(1)),
            ("y", Value::Int(2)),
            ("srid", Value::Int(9157))
        ]))
        .is_err());
        assert!(Point::from_map(&map(&[
            ("x", Value::Int(1)),
            ("y", Value::Int(2)),
            ("srid", Value::Int(1234))
        ]))
        .is_err());
    }

    #[test]
    fn distances_and_boxes() {
        let a = Point::new(CARTESIAN, &[0.0, 0.0]).unwrap();
        let b = Point::new(CARTESIAN, &[3.0, 4.0]).unwrap();
        assert_eq!(a.distance(&b), Some(5.0));
        let g = Point::new(WGS84, &[0.0, 0.0]).unwrap();
        assert_eq!(a.distance(&g), None);
        // A degree of longitude on the equator: R * pi / 180.
        let h = Point::new(WGS84, &[1.0, 0.0]).unwrap();
        let d = g.distance(&h).unwrap();
        assert!(
            (d - EARTH_RADIUS * std::f64::consts::PI / 180.0).abs() < 1e-6,
            "{d}"
        );
        // Malmö to Copenhagen is about 28 km.
        let malmo = Point::new(WGS84, &[13.0, 55.6]).unwrap();
        let cph = Point::new(WGS84, &[12.57, 55.68]).unwrap();
        let d = malmo.distance(&cph).unwrap();
        assert!((27_000.0..29_000.0).contains(&d), "{d}");
        // In 3D the arc lies at the mean height, then the rise is added.
        let low = Point::new(WGS84_3D, &[0.0, 0.0, 0.0]).unwrap();
        let high = Point::new(WGS84_3D, &[1.0, 0.0, 1000.0]).unwrap();
        let arc = (EARTH_RADIUS + 500.0) * std::f64::consts::PI / 180.0;
        let d = low.distance(&high).unwrap();
        assert!((d - (arc * arc + 1e6).sqrt()).abs() < 1e-6, "{d}");
        let inside = Point::new(CARTESIAN, &[1.0, 1.0]).unwrap();
        assert_eq!(inside.within_bbox(&a, &b), Some(true));
        assert_eq!(b.within_bbox(&a, &b), Some(true));
        let out = Point::new(CARTESIAN, &[4.0, 1.0]).unwrap();
        assert_eq!(out.within_bbox(&a, &b), Some(false));
        // A box across the antimeridian.
        let ll = Point::new(WGS84, &[170.0, -10.0]).unwrap();
        let ur = Point::new(WGS84, &[-170.0, 10.0]).unwrap();
        let p = Point::new(WGS84, &[179.0, 0.0]).unwrap();
        assert_eq!(p.within_bbox(&ll, &ur), Some(true));
        assert_eq!(g.within_bbox(&ll, &ur), Some(false));
    }

    /// Every point within the distance lies in one of the boxes, near
    /// the poles and the antimeridian too: checked on a pseudo-random
    /// sample around each centre.
    #[test]
    fn distance_boxes_hold_every_point_in_reach() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let inside = |p: &Point, boxes: &[Corners]| {
            let c = p.coords();
            boxes.iter().any(|(lo, hi)| {
                c.iter()
                    .zip(lo.iter().zip(hi))
                    .all(|(x, (l, h))| l <= x && x <= h)
            })
        };
        let centres = [
            Point::new(WGS84, &[0.0, 0.0]).unwrap(),
            Point::new(WGS84, &[179.5, 10.0]).unwrap(),
            Point::new(WGS84, &[-179.9, -60.0]).unwrap(),
            Point::new(WGS84, &[20.0, 89.0]).unwrap(),
            Point::new(WGS84_3D, &[-179.0, 45.0, 500.0]).unwrap(),
            Point::new(CARTESIAN, &[0.1, -3.0]).unwrap(),
            Point::new(CARTESIAN_3D, &[1e6, 2.0, -7.5]).unwrap(),
        ];
        for c in centres {
            for r in [10.0, 150_000.0, 2_000_000.0] {
                let boxes = c.distance_boxes(r);
                assert!(!boxes.is_empty());
                let mut near = 0;
                for _ in 0..4000 {
                    let coords: Vec<f64> = if c.crs().geographic {
                        let mut v = vec![next() * 360.0 - 180.0, next() * 180.0 - 90.0];
                        // Most samples close to the centre.
                        if next() < 0.8 {
                            let k = r / 50_000.0;
                            v[0] = (c.x + (next() - 0.5) * k).clamp(-180.0, 180.0);
                            v[1] = (c.y + (next() - 0.5) * k).clamp(-90.0, 90.0);
                        }
                        if let Some(h) = c.z {
                            v.push(h + (next() - 0.5) * 2.0 * r);
                        }
                        v
                    } else {
                        let v: Vec<f64> = c
                            .coords()
                            .iter()
                            .map(|x| x + (next() - 0.5) * 2.2 * r)
                            .collect();
                        v
                    };
                    let p = Point::new(c.crs(), &coords).unwrap();
                    if c.distance(&p).unwrap() <= r {
                        near += 1;
                        assert!(inside(&p, &boxes), "{p:?} near {c:?} at {r}: {boxes:?}");
                    }
                }
                assert!(near > 0, "{c:?} {r}");
            }
        }
        assert!(Point::new(CARTESIAN, &[0.0, 0.0])
            .unwrap()
            .distance_boxes(-1.0)
            .is_empty());
        assert!(Point::new(CARTESIAN, &[0.0, 0.0])
            .unwrap()
            .distance_boxes(f64::NAN)
            .is_empty());
    }

    #[test]
    fn components_and_text() {
        let p = Point::new(WGS84_3D, &[12.5, 56.0, 100.0]).unwrap();
        assert_eq!(p.component("latitude").unwrap(), Value::Float(56.0));
        assert_eq!(p.component("height").unwrap(), Value::Float(100.0));
        assert_eq!(p.component("crs").unwrap(), Value::from("wgs-84-3d"));
        assert_eq!(p.component("srid").unwrap(), Value::Int(4979));
        let c = Point::new(CARTESIAN, &[1.0, 2.0]).unwrap();
        assert!(c.component("latitude").is_err());
        assert!(c.component("z").is_err());
        assert_eq!(c.text(), "point({x: 1.0, y: 2.0, crs: 'cartesian'})");
        assert_eq!(
            p.text(),
            "point({x: 12.5, y: 56.0, z: 100.0, crs: 'wgs-84-3d'})"
        );
    }
}
