//! PackStream temporal structures: every shape round-trips, the legacy and
//! UTC date-time forms match the spec's worked example byte for byte, and
//! malformed or out-of-range structures are refused cleanly.

use causeway_bolt::packstream::{decode_value, encode_value, DecodeOptions, GraphShape, Packer};
use causeway_value::{Code, DateTime, Duration, LocalDateTime, Time, Tz, Value};

fn samples() -> Vec<Value> {
    vec![
        Value::Date(0),
        Value::Date(-719_528),
        Value::Date(16_637),
        Value::Time(Time {
            nanos: 76_832_142_000_000,
            offset: 3600,
        }),
        Value::Time(Time {
            nanos: 0,
            offset: -18 * 3600,
        }),
        Value::LocalTime(86_399_999_999_999),
        Value::LocalDateTime(LocalDateTime {
            seconds: 1_437_511_232,
            nanos: 142_000_000,
        }),
        Value::LocalDateTime(LocalDateTime {
            seconds: -62_135_596_800,
            nanos: 0,
        }),
        Value::DateTime(DateTime {
            seconds: 1_437_507_632,
            nanos: 142_000_000,
            tz: Tz::Offset(3600),
        }),
        Value::DateTime(DateTime {
            seconds: -1,
            nanos: 999_999_999,
            tz: Tz::Offset(-34_200),
        }),
        Value::DateTime(DateTime {
            seconds: 1_700_000_000,
            nanos: 5,
            tz: Tz::Zone("UTC".into()),
        }),
        Value::DateTime(DateTime {
            seconds: 1_700_000_000,
            nanos: 0,
            tz: Tz::Zone("Etc/GMT-3".into()),
        }),
        Value::Duration(Duration {
            months: 14,
            days: -3,
            seconds: 3723,
            nanos: 500_000_000,
        }),
        Value::Duration(Duration {
            months: i64::MIN,
            days: i64::MAX,
            seconds: i64::MIN,
            nanos: -999_999_999,
        }),
    ]
}

fn encode(v: &Value, shape: GraphShape, utc: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    Packer::new(&mut buf, shape)
        .utc_datetime(utc)
        .value(v)
        .unwrap();
    buf
}

/// The decoder needs no date-time mode: each tag says how to read it.
fn opts(shape: GraphShape, _utc: bool) -> DecodeOptions {
    DecodeOptions::parameters(shape)
}

#[test]
fn every_temporal_round_trips_in_every_shape() {
    for (shape, utc) in [
        (GraphShape::V4, false),
        (GraphShape::V4, true),
        (GraphShape::V5, true),
    ] {
        for v in samples() {
            let bytes = encode(&v, shape, utc);
            let back = decode_value(&bytes, opts(shape, utc)).unwrap();
            assert_eq!(back, v, "{shape:?} utc={utc}: {bytes:02X?}");
            // Also inside a list and a map, as parameters arrive.
            let nested = Value::List(vec![v.clone(), Value::Map([("k".into(), v)].into())]);
            let bytes = encode(&nested, shape, utc);
            assert_eq!(decode_value(&bytes, opts(shape, utc)).unwrap(), nested);
        }
    }
}

#[test]
fn native_shapes_pick_the_datetime_form() {
    let v = Value::DateTime(DateTime {
        seconds: 4500,
        nanos: 0,
        tz: Tz::Offset(3600),
    });
    // The spec's example: 02:15 at +01:00 on 1970-01-01.
    assert_eq!(
        encode_value(&v, GraphShape::V5).unwrap(),
        [0xB3, 0x49, 0xC9, 0x11, 0x94, 0x00, 0xC9, 0x0E, 0x10]
    );
    assert_eq!(
        encode_value(&v, GraphShape::V4).unwrap(),
        [0xB3, 0x46, 0xC9, 0x1F, 0xA4, 0x00, 0xC9, 0x0E, 0x10]
    );
    let z = Value::DateTime(DateTime {
        seconds: 4500,
        nanos: 0,
        tz: Tz::Zone("Etc/GMT-1".into()),
    });
    let mut want = vec![0xB3, 0x66, 0xC9, 0x1F, 0xA4, 0x00, 0x89];
    want.extend_from_slice(b"Etc/GMT-1");
    assert_eq!(encode_value(&z, GraphShape::V4).unwrap(), want);
    want[1] = 0x69;
    want[3..5].copy_from_slice(&[0x11, 0x94]);
    assert_eq!(encode_value(&z, GraphShape::V5).unwrap(), want);
}

#[test]
fn other_temporal_wire_forms() {
    let cases: Vec<(Value, Vec<u8>)> = vec![
        (Value::Date(-1), vec![0xB1, 0x44, 0xFF]),
        (
            Value::Time(Time {
                nanos: 1,
                offset: -60,
            }),
            vec![0xB2, 0x54, 0x01, 0xC8, 0xC4],
        ),
        (Value::LocalTime(5), vec![0xB1, 0x74, 0x05]),
        (
            Value::LocalDateTime(LocalDateTime {
                seconds: 2,
                nanos: 3,
            }),
            vec![0xB2, 0x64, 0x02, 0x03],
        ),
        (
            Value::Duration(Duration {
                months: 1,
                days: 2,
                seconds: 3,
                nanos: 4,
            }),
            vec![0xB4, 0x45, 0x01, 0x02, 0x03, 0x04],
        ),
    ];
    for (v, bytes) in cases {
        for shape in [GraphShape::V4, GraphShape::V5] {
            assert_eq!(encode_value(&v, shape).unwrap(), bytes);
        }
    }
}

#[test]
fn either_datetime_tag_is_read_by_its_own_rules() {
    let want = Value::DateTime(DateTime {
        seconds: 4500,
        nanos: 0,
        tz: Tz::Offset(3600),
    });
    let legacy = [0xB3, 0x46, 0xC9, 0x1F, 0xA4, 0x00, 0xC9, 0x0E, 0x10];
    let fixed = [0xB3, 0x49, 0xC9, 0x11, 0x94, 0x00, 0xC9, 0x0E, 0x10];
    for utc in [false, true] {
        let o = opts(GraphShape::V4, utc);
        assert_eq!(decode_value(&legacy, o).unwrap(), want);
        assert_eq!(decode_value(&fixed, o).unwrap(), want);
    }
    // Legacy zone ids carry wall-clock seconds too.
    let mut f = vec![0xB3, 0x66, 0xC9, 0x1F, 0xA4, 0x00, 0x89];
    f.extend_from_slice(b"Etc/GMT-1");
    assert_eq!(
        decode_value(&f, opts(GraphShape::V4, false)).unwrap(),
        Value::DateTime(DateTime {
            seconds: 4500,
            nanos: 0,
            tz: Tz::Zone("Etc/GMT-1".into()),
        })
    );
}

fn int(i: i64) -> Vec<u8> {
    let mut b = vec![0xCB];
    b.extend_from_slice(&i.to_be_bytes());
    b
}

fn strukt(tag: u8, fields: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0xB0 | fields.len() as u8, tag];
    for f in fields {
        b.extend_from_slice(f);
    }
    b
}

fn rejected(bytes: &[u8], what: &str) {
    for shape in [GraphShape::V4, GraphShape::V5] {
        let err = decode_value(bytes, DecodeOptions::parameters(shape)).unwrap_err();
        assert_eq!(err.code, Code::RequestInvalidFormat, "{what}");
        assert!(!err.message.is_empty());
    }
}

/// A short PackStream string.
fn zone(s: &str) -> Vec<u8> {
    let mut b = vec![0x80 | s.len() as u8];
    b.extend_from_slice(s.as_bytes());
    b
}

#[test]
fn malformed_temporals_are_rejected() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (strukt(0x44, &[]), "date without fields"),
        (strukt(0x44, &[int(0), int(0)]), "date with two fields"),
        (
            strukt(0x44, &[vec![0xC1, 0, 0, 0, 0, 0, 0, 0, 0]]),
            "float days",
        ),
        (strukt(0x44, &[int(i64::MAX)]), "days out of range"),
        (strukt(0x44, &[int(i64::MIN)]), "days out of range"),
        (strukt(0x54, &[int(-1), int(0)]), "negative time"),
        (
            strukt(0x54, &[int(86_400_000_000_000), int(0)]),
            "time past a day",
        ),
        (
            strukt(0x54, &[int(0), int(18 * 3600 + 1)]),
            "offset too big",
        ),
        (strukt(0x54, &[int(0), int(i64::MIN)]), "offset overflow"),
        (strukt(0x74, &[zone("x")]), "string local time"),
        (strukt(0x74, &[int(i64::MAX)]), "local time past a day"),
        (strukt(0x64, &[int(0), int(1_000_000_000)]), "nanos too big"),
        (strukt(0x64, &[int(0), int(-1)]), "negative nanos"),
        (
            strukt(0x64, &[int(i64::MAX), int(0)]),
            "seconds out of range",
        ),
        (strukt(0x49, &[int(0), int(0)]), "datetime short"),
        (
            strukt(0x49, &[int(0), int(0), zone("UTC")]),
            "zone in offset form",
        ),
        (
            strukt(0x69, &[int(0), int(0), int(0)]),
            "offset in zone form",
        ),
        (
            strukt(0x69, &[int(0), int(0), zone("Mars/Olympus")]),
            "unknown zone",
        ),
        (
            strukt(0x66, &[int(0), int(0), zone("Mars/Olympus")]),
            "legacy unknown zone",
        ),
        (strukt(0x49, &[int(0), int(1_000_000_000), int(0)]), "nanos"),
        (strukt(0x49, &[int(0), int(0), int(-65_000)]), "offset"),
        (strukt(0x49, &[int(i64::MAX), int(0), int(0)]), "instant"),
        (
            strukt(0x46, &[int(i64::MIN), int(0), int(3600)]),
            "legacy underflow",
        ),
        (
            strukt(0x46, &[int(i64::MAX), int(0), int(-3600)]),
            "legacy overflow",
        ),
        (strukt(0x45, &[int(0), int(0), int(0)]), "duration short"),
        (
            strukt(0x45, &[int(0), int(0), int(0), vec![0xC0]]),
            "null nanos",
        ),
        (vec![0xB1, 0x44], "truncated"),
        (vec![0xB3, 0x49, 0x01, 0x02], "truncated"),
    ];
    for (bytes, what) in cases {
        rejected(&bytes, what);
    }
}

#[test]
fn truncations_never_panic() {
    for v in samples() {
        for (shape, utc) in [(GraphShape::V4, false), (GraphShape::V5, true)] {
            let bytes = encode(&v, shape, utc);
            for n in 0..bytes.len() {
                assert!(decode_value(&bytes[..n], opts(shape, utc)).is_err());
            }
            // Flipping any byte must give a value or an error, never a panic.
            for i in 0..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 0xFF;
                let _ = decode_value(&b, opts(shape, utc));
            }
        }
    }
}

#[test]
fn named_zones_travel_in_both_date_time_forms() {
    // 2024-07-01T12:00+02:00[Europe/Berlin]: 10:00 UTC.
    let v = Value::DateTime(DateTime {
        seconds: 1_719_828_000,
        nanos: 0,
        tz: Tz::Zone("Europe/Berlin".into()),
    });
    for (shape, utc) in [(GraphShape::V4, false), (GraphShape::V5, true)] {
        let bytes = encode(&v, shape, utc);
        assert_eq!(decode_value(&bytes, opts(shape, utc)).unwrap(), v);
    }
    // The legacy form carries the wall clock: 12:00 local.
    let legacy = strukt(0x66, &[int(1_719_835_200), int(0), zone("Europe/Berlin")]);
    assert_eq!(
        decode_value(&legacy, opts(GraphShape::V4, false)).unwrap(),
        v
    );
    // A zone the database does not know cannot be placed on the time line.
    let unknown = Value::DateTime(DateTime {
        seconds: 0,
        nanos: 0,
        tz: Tz::Zone("Mars/Olympus".into()),
    });
    assert!(encode_value(&unknown, GraphShape::V4).is_err());
}
