//! PackStream encoding and decoding, without sockets.
mod common;

use causeway_bolt::packstream::{
    decode_value, encode_value, DecodeOptions, GraphShape, Packer, MAX_NESTING_DEPTH,
};
use causeway_bolt::{decode_message, Request, Version};
use causeway_value::{Code, Map, Node, Path, Relationship, Value};
use common::*;

fn round_trip(v: &Value, shape: GraphShape) -> Vec<u8> {
    let bytes = encode_value(v, shape).unwrap();
    let back = decode_value(&bytes, DecodeOptions::results(shape)).unwrap();
    match (v, &back) {
        (Value::Float(a), Value::Float(b)) if a.is_nan() => assert!(b.is_nan()),
        _ => assert_eq!(&back, v),
    }
    bytes
}

fn params(bytes: &[u8]) -> Result<Value, causeway_value::Error> {
    decode_value(bytes, DecodeOptions::parameters(GraphShape::V5))
}

#[test]
fn integer_marker_boundaries() {
    let cases: &[(i64, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7F]),
        (-1, &[0xFF]),
        (-16, &[0xF0]),
        (-17, &[0xC8, 0xEF]),
        (-128, &[0xC8, 0x80]),
        (128, &[0xC9, 0x00, 0x80]),
        (-129, &[0xC9, 0xFF, 0x7F]),
        (32767, &[0xC9, 0x7F, 0xFF]),
        (-32768, &[0xC9, 0x80, 0x00]),
        (32768, &[0xCA, 0x00, 0x00, 0x80, 0x00]),
        (-32769, &[0xCA, 0xFF, 0xFF, 0x7F, 0xFF]),
        (i32::MAX as i64, &[0xCA, 0x7F, 0xFF, 0xFF, 0xFF]),
        (i32::MIN as i64, &[0xCA, 0x80, 0x00, 0x00, 0x00]),
        (i32::MAX as i64 + 1, &[0xCB, 0, 0, 0, 0, 0x80, 0, 0, 0]),
        (
            i32::MIN as i64 - 1,
            &[0xCB, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF],
        ),
        (
            i64::MAX,
            &[0xCB, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ),
        (i64::MIN, &[0xCB, 0x80, 0, 0, 0, 0, 0, 0, 0]),
    ];
    for (i, bytes) in cases {
        assert_eq!(round_trip(&Value::Int(*i), GraphShape::V4), *bytes, "{i}");
    }
}

#[test]
fn non_minimal_integer_forms_are_accepted() {
    for bytes in [
        &[0xC8, 0x01][..],
        &[0xC9, 0x00, 0x01],
        &[0xCA, 0, 0, 0, 1],
        &[0xCB, 0, 0, 0, 0, 0, 0, 0, 1],
    ] {
        assert_eq!(params(bytes).unwrap(), Value::Int(1));
    }
}

#[test]
fn scalars() {
    assert_eq!(round_trip(&Value::Null, GraphShape::V4), [0xC0]);
    assert_eq!(round_trip(&Value::Bool(true), GraphShape::V4), [0xC3]);
    assert_eq!(round_trip(&Value::Bool(false), GraphShape::V4), [0xC2]);
    assert_eq!(
        round_trip(&Value::Float(1.1), GraphShape::V4),
        [0xC1, 0x3F, 0xF1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A]
    );
    for f in [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
    ] {
        round_trip(&Value::Float(f), GraphShape::V4);
    }
}

fn header_len(v: &Value) -> usize {
    let bytes = encode_value(v, GraphShape::V4).unwrap();
    let payload = match v {
        Value::String(s) => s.len(),
        Value::Bytes(b) => b.len(),
        _ => 0,
    };
    bytes.len() - payload
}

#[test]
fn string_and_bytes_size_boundaries() {
    for (len, header) in [
        (0, 1),
        (15, 1),
        (16, 2),
        (255, 2),
        (256, 3),
        (65535, 3),
        (65536, 5),
    ] {
        let s = Value::String("a".repeat(len));
        round_trip(&s, GraphShape::V4);
        assert_eq!(header_len(&s), header, "string of {len}");
    }
    assert_eq!(
        encode_value(&Value::from(""), GraphShape::V4).unwrap(),
        [0x80]
    );
    assert_eq!(
        encode_value(&Value::from("a"), GraphShape::V4).unwrap()[0],
        0x81
    );
    for (len, header) in [(0, 2), (255, 2), (256, 3), (65535, 3), (65536, 5)] {
        let b = Value::Bytes(vec![7; len]);
        round_trip(&b, GraphShape::V4);
        assert_eq!(header_len(&b), header, "bytes of {len}");
    }
    // Multi-byte UTF-8: sizes count bytes.
    let s = Value::from("ä".repeat(8)); // 16 bytes
    assert_eq!(encode_value(&s, GraphShape::V4).unwrap()[..2], [0xD0, 16]);
    round_trip(&s, GraphShape::V4);
}

#[test]
fn list_and_map_size_boundaries() {
    for (len, marker) in [
        (0, 0x90),
        (15, 0x9F),
        (16, 0xD4),
        (255, 0xD4),
        (256, 0xD5),
        (65535, 0xD5),
        (65536, 0xD6),
    ] {
        let l = Value::List(vec![Value::Null; len]);
        let bytes = round_trip(&l, GraphShape::V4);
        assert_eq!(bytes[0], marker, "list of {len}");
    }
    for (len, marker) in [
        (0, 0xA0),
        (15, 0xAF),
        (16, 0xD8),
        (255, 0xD8),
        (256, 0xD9),
        (65536, 0xDA),
    ] {
        let m: Map = (0..len)
            .map(|i| (format!("k{i}"), Value::Int(i as i64)))
            .collect();
        let bytes = round_trip(&Value::Map(m), GraphShape::V4);
        assert_eq!(bytes[0], marker, "map of {len}");
    }
}

#[test]
fn nested_and_mixed() {
    let mut inner = Map::new();
    inner.insert(
        "list".into(),
        Value::from(vec![Value::Int(1), Value::from("x"), Value::Null]),
    );
    inner.insert("bytes".into(), Value::Bytes(vec![1, 2, 3]));
    let v = Value::List(vec![
        Value::Map(inner.clone()),
        Value::Map(Map::new()),
        Value::List(vec![]),
    ]);
    round_trip(&v, GraphShape::V5);
}

#[test]
fn duplicate_map_keys_last_wins() {
    let bytes = [0xA2, 0x81, b'a', 0x01, 0x81, b'a', 0x02];
    let mut expected = Map::new();
    expected.insert("a".into(), Value::Int(2));
    assert_eq!(params(&bytes).unwrap(), Value::Map(expected));
}

#[test]
fn graph_structures_4x_shape() {
    let n = Value::Node(sample_node(5));
    let bytes = round_trip(&n, GraphShape::V4);
    assert_eq!(&bytes[..2], &[0xB3, 0x4E]);
    let r = Value::Relationship(sample_rel(9, 5, 6));
    let bytes = round_trip(&r, GraphShape::V4);
    assert_eq!(&bytes[..2], &[0xB5, 0x52]);
}

#[test]
fn graph_structures_5x_shape_with_element_ids() {
    let n = Value::Node(sample_node(5));
    let bytes = round_trip(&n, GraphShape::V5);
    assert_eq!(&bytes[..2], &[0xB4, 0x4E]);
    let eid = causeway_value::element_id(5);
    assert!(bytes.ends_with(eid.as_bytes()));
    let r = Value::Relationship(sample_rel(9, 5, 6));
    let bytes = round_trip(&r, GraphShape::V5);
    assert_eq!(&bytes[..2], &[0xB8, 0x52]);
    let tail = [
        causeway_value::rel_element_id(9),
        causeway_value::element_id(5),
        causeway_value::element_id(6),
    ]
    .iter()
    .map(|s| {
        let mut v = vec![0x80 | s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    })
    .collect::<Vec<_>>()
    .concat();
    assert!(bytes.ends_with(&tail));
}

#[test]
fn path_uses_unbound_relationships_and_signed_indices() {
    let p = sample_path();
    for shape in [GraphShape::V4, GraphShape::V5] {
        let bytes = round_trip(&Value::Path(p.clone()), shape);
        assert_eq!(&bytes[..2], &[0xB3, 0x50]);
        // Three distinct nodes although the walk visits four.
        assert_eq!(bytes[2], 0x93);
        // Indices: rel 1 forward to node 1, rel 2 backwards to node 2, rel 3
        // forward back to node 0.
        assert!(bytes.ends_with(&[0x96, 0x01, 0x01, 0xFE, 0x02, 0x03, 0x00]));
        // Unbound relationships (tag 'r'), never full ones, inside paths.
        assert!(
            bytes
                .windows(2)
                .filter(|w| w[1] == 0x72 && (w[0] == 0xB3 || w[0] == 0xB4))
                .count()
                >= 3
        );
    }
}

#[test]
fn path_revisiting_a_relationship() {
    let (a, b) = (sample_node(1), sample_node(2));
    let r = sample_rel(7, 1, 2);
    let p = Path {
        nodes: vec![a.clone(), b.clone(), a.clone()],
        rels: vec![r.clone(), r.clone()],
    };
    let bytes = round_trip(&Value::Path(p), GraphShape::V5);
    assert!(bytes.ends_with(&[0x94, 0x01, 0x01, 0xFF, 0x00]));
    let single = Path {
        nodes: vec![a],
        rels: vec![],
    };
    round_trip(&Value::Path(single), GraphShape::V4);
}

#[test]
fn malformed_path_is_an_encode_error_not_a_panic() {
    let p = Path {
        nodes: vec![],
        rels: vec![sample_rel(1, 1, 1)],
    };
    assert!(encode_value(&Value::Path(p), GraphShape::V5).is_err());
}

#[test]
fn virtual_entity_ids_go_out_negative() {
    // Ids from 2^63 up belong to virtual entities (APOC's meta graphs);
    // Bolt sees them as negative, as Neo4j sends its virtual ids.
    let virtual_node = Node {
        id: u64::MAX,
        labels: vec![],
        props: Map::new(),
    };
    let bytes = encode_value(&Value::Node(virtual_node), GraphShape::V5).unwrap();
    // Structure of 4, tag N, id -1 (a tiny int), no labels, no properties,
    // then the element id.
    assert_eq!(&bytes[..5], &[0xB4, 0x4E, 0xFF, 0x90, 0xA0]);
    assert!(bytes.ends_with(b"4:causeway:-1"));
}

#[test]
fn graph_structs_rejected_as_parameters() {
    let bytes = encode_value(&Value::Node(sample_node(1)), GraphShape::V5).unwrap();
    let err = params(&bytes).unwrap_err();
    assert_eq!(err.code, Code::RequestInvalidFormat);
}

#[test]
fn malformed_temporal_and_spatial_rejected_cleanly() {
    // Temporal structures with the wrong number of fields.
    for t in [0x54u8, 0x64, 0x46, 0x66, 0x49, 0x69, 0x45] {
        let err = params(&[0xB1, t, 0x01]).unwrap_err();
        assert_eq!(err.code, Code::RequestInvalidFormat);
        assert!(err.message.contains("fields"), "{}", err.message);
    }
    // Points: the wrong number of fields, an unknown coordinate system,
    // a coordinate that is not a float, a latitude out of range.
    for t in [0x58u8, 0x59] {
        let err = params(&[0xB2, t, 0x01, 0x01]).unwrap_err();
        assert!(err.message.contains("fields"), "{}", err.message);
    }
    let float = |f: f64| {
        let mut v = vec![0xC1];
        v.extend_from_slice(&f.to_be_bytes());
        v
    };
    let point = |srid: u8, coords: &[Vec<u8>]| {
        let mut v = vec![0xB3, 0x58, 0xC9, 0x00, srid];
        for c in coords {
            v.extend_from_slice(c);
        }
        v
    };
    let err = params(&point(0x01, &[float(1.0), float(2.0)])).unwrap_err();
    assert!(
        err.message.contains("coordinate reference system"),
        "{}",
        err.message
    );
    let err = params(&[0xB3, 0x58, 0xC9, 0x1C, 0x23, 0x01, 0x01]).unwrap_err();
    assert!(err.message.contains("float"), "{}", err.message);
    // 4326 = 0x10E6; latitude 95 is out of range.
    let mut bad = vec![0xB3, 0x58, 0xC9, 0x10, 0xE6];
    bad.extend_from_slice(&float(10.0));
    bad.extend_from_slice(&float(95.0));
    assert_eq!(params(&bad).unwrap_err().code, Code::RequestInvalidFormat);
    assert!(params(&[0xB0, 0x01]).is_err());
}

#[test]
fn points_round_trip() {
    for p in [
        causeway_value::Point::new(causeway_value::spatial::CARTESIAN, &[1.5, -2.0]).unwrap(),
        causeway_value::Point::new(causeway_value::spatial::WGS84_3D, &[12.5, 56.0, 10.0]).unwrap(),
    ] {
        let bytes = encode_value(&Value::Point(p), GraphShape::V5).unwrap();
        assert_eq!(bytes[1], if p.z.is_some() { 0x59 } else { 0x58 });
        assert_eq!(params(&bytes).unwrap(), Value::Point(p));
    }
}

#[test]
fn invalid_utf8_is_invalid_format() {
    let err = params(&[0x82, 0xC3, 0x28]).unwrap_err();
    assert_eq!(err.code, Code::RequestInvalidFormat);
    let err = params(&[0xA1, 0x82, 0xFF, 0xFE, 0x01]).unwrap_err();
    assert_eq!(err.code, Code::RequestInvalidFormat);
}

#[test]
fn nesting_10000_deep_is_rejected_without_overflow() {
    for open in [0x91u8, 0xD4] {
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.push(open);
            if open == 0xD4 {
                bytes.push(1);
            }
        }
        bytes.push(0xC0);
        let err = params(&bytes).unwrap_err();
        assert_eq!(err.code, Code::RequestInvalidFormat);
    }
    // Maps and structures, too.
    let mut bytes = Vec::new();
    for _ in 0..10_000 {
        bytes.extend_from_slice(&[0xA1, 0x81, b'k']);
    }
    bytes.push(0xC0);
    assert!(params(&bytes).is_err());
    // Exactly at the limit is fine.
    let mut ok = vec![0x91; MAX_NESTING_DEPTH];
    ok.push(0xC0);
    assert!(params(&ok).is_ok());
    let mut too_deep = vec![0x91; MAX_NESTING_DEPTH + 1];
    too_deep.push(0xC0);
    assert!(params(&too_deep).is_err());
}

#[test]
fn huge_length_prefixes_do_not_allocate() {
    for bytes in [
        &[0xD6, 0x7F, 0xFF, 0xFF, 0xFF][..],
        &[0xDA, 0x7F, 0xFF, 0xFF, 0xFF],
        &[0xD2, 0x7F, 0xFF, 0xFF, 0xFF, b'a'],
        &[0xCE, 0x7F, 0xFF, 0xFF, 0xFF],
        &[0xD6, 0xFF, 0xFF, 0xFF, 0xFF],
        &[0xD5, 0xFF, 0xFF, 0x01],
    ] {
        assert_eq!(params(bytes).unwrap_err().code, Code::RequestInvalidFormat);
    }
}

#[test]
fn truncated_and_reserved_markers() {
    for bytes in [
        &[][..],
        &[0xC1, 0, 0],
        &[0xCB, 1],
        &[0x85, b'a'],
        &[0x92, 0x01],
        &[0xA1, 0x81],
        &[0xC4],
        &[0xCF],
        &[0xD3],
        &[0xD7],
        &[0xDB],
        &[0xE0],
        &[0xEF],
    ] {
        assert!(params(bytes).is_err(), "{bytes:?}");
    }
    // Non-string map key.
    assert!(params(&[0xA1, 0x01, 0x01]).is_err());
    // Trailing garbage after one value.
    assert!(params(&[0x01, 0x02]).is_err());
}

#[test]
fn encoder_refuses_absurd_nesting() {
    let mut v = Value::Null;
    for _ in 0..2000 {
        v = Value::List(vec![v]);
    }
    assert!(encode_value(&v, GraphShape::V4).is_err());
    // Drop iteratively-ish: unwrap layer by layer to avoid deep recursion in
    // Drop for the test's own value.
    while let Value::List(mut l) = v {
        v = l.pop().unwrap_or(Value::Null);
    }
}

#[test]
fn packer_headers() {
    let mut buf = Vec::new();
    let mut p = Packer::new(&mut buf, GraphShape::V4);
    p.struct_header(3, 0x10);
    p.list_header(16).unwrap();
    p.map_header(0).unwrap();
    assert_eq!(buf, [0xB3, 0x10, 0xD4, 16, 0xA0]);
}

#[test]
fn decode_message_shapes() {
    let v44 = Version::new(4, 4);
    let v43 = Version::new(4, 3);
    // ROUTE with 4.4 map and 4.3 string both parse in either version.
    let route_map = encode_struct(
        0x66,
        &[
            map(&[]),
            Value::List(vec![]),
            map(&[("db", Value::from("x"))]),
        ],
        GraphShape::V4,
    );
    let route_str = encode_struct(
        0x66,
        &[map(&[]), Value::List(vec![]), Value::from("x")],
        GraphShape::V4,
    );
    for v in [v43, v44] {
        for body in [&route_map, &route_str] {
            match decode_message(body, v).unwrap() {
                Request::Route(r) => assert_eq!(r.db.as_deref(), Some("x")),
                other => panic!("{other:?}"),
            }
        }
    }
    // ROUTE does not exist in 4.1.
    assert_eq!(
        decode_message(&route_map, Version::new(4, 1))
            .unwrap_err()
            .code,
        Code::RequestInvalid
    );
    // Wrong arity.
    assert!(decode_message(&[0xB0, 0x10], v44).is_err());
    assert!(decode_message(&[0xB1, 0x0F, 0xC0], v44).is_err());
    // PULL needs n.
    let pull = encode_struct(0x3F, &[map(&[])], GraphShape::V4);
    assert_eq!(
        decode_message(&pull, v44).unwrap_err().code,
        Code::RequestInvalid
    );
    let pull0 = encode_struct(0x3F, &[map(&[("n", Value::Int(0))])], GraphShape::V4);
    assert!(decode_message(&pull0, v44).is_err());
    // TELEMETRY only in 5.4+.
    let tel = encode_struct(0x54, &[Value::Int(0)], GraphShape::V5);
    assert!(decode_message(&tel, Version::new(5, 3)).is_err());
    assert_eq!(
        decode_message(&tel, Version::new(5, 4)).unwrap(),
        Request::Telemetry(0)
    );
    // HELLO ≤ 5.0 carries auth; an empty auth means scheme none.
    let hello = encode_struct(
        0x01,
        &[map(&[("user_agent", Value::from("x"))])],
        GraphShape::V4,
    );
    match decode_message(&hello, v44).unwrap() {
        Request::Hello(h) => assert_eq!(h.auth.unwrap().scheme, "none"),
        other => panic!("{other:?}"),
    }
    match decode_message(&hello, Version::new(5, 1)).unwrap() {
        Request::Hello(h) => assert!(h.auth.is_none()),
        other => panic!("{other:?}"),
    }
    // Empty LOGON = anonymous.
    let logon = encode_struct(0x6A, &[map(&[])], GraphShape::V5);
    match decode_message(&logon, Version::new(5, 4)).unwrap() {
        Request::Logon(t) => assert_eq!(t.scheme, "none"),
        other => panic!("{other:?}"),
    }
    // Credentials never show up in Debug output.
    let logon = encode_struct(
        0x6A,
        &[map(&[
            ("scheme", Value::from("basic")),
            ("principal", Value::from("u")),
            ("credentials", Value::from("hunter2")),
        ])],
        GraphShape::V5,
    );
    let req = decode_message(&logon, Version::new(5, 4)).unwrap();
    assert!(!format!("{req:?}").contains("hunter2"));
}

#[test]
fn relationship_fields_round_trip_props() {
    let mut props = Map::new();
    props.insert("since".into(), Value::Int(2020));
    let r = Relationship {
        id: 1,
        start: 2,
        end: 3,
        rel_type: "T".into(),
        props,
    };
    round_trip(&Value::Relationship(r), GraphShape::V5);
}

/// Every `0x80..0x8F` tiny string in `bytes` that looks like an element id.
fn element_ids_in(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for i in 0..bytes.len() {
        let id_like =
            bytes[i..].starts_with(b"4:causeway:") || bytes[i..].starts_with(b"5:causeway:");
        if id_like && i > 0 {
            let len = (bytes[i - 1] & 0x0F) as usize;
            if let Some(s) = bytes.get(i..i + len) {
                found.push(String::from_utf8(s.to_vec()).unwrap());
            }
        }
    }
    found
}

#[test]
fn element_ids_are_consistent_inside_paths() {
    // Trap 10: every entity in a path has a non-empty element id, each node
    // and relationship appears once, with the same id as elsewhere.
    let bytes = encode_value(&Value::Path(sample_path()), GraphShape::V5).unwrap();
    let mut ids = element_ids_in(&bytes);
    ids.sort();
    let mut expected: Vec<String> = [1, 2, 3]
        .iter()
        .map(|i| causeway_value::element_id(*i))
        .chain(
            [10, 11, 12]
                .iter()
                .map(|i| causeway_value::rel_element_id(*i)),
        )
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    // No empty strings where an element id belongs.
    assert!(!bytes.contains(&0x80));
    // A relationship's endpoint element ids match its nodes'.
    let rel = encode_value(&Value::Relationship(sample_rel(10, 1, 2)), GraphShape::V5).unwrap();
    assert_eq!(
        element_ids_in(&rel),
        vec![
            causeway_value::rel_element_id(10),
            causeway_value::element_id(1),
            causeway_value::element_id(2)
        ]
    );
    // 4.x sends no element ids at all.
    let v4 = encode_value(&Value::Path(sample_path()), GraphShape::V4).unwrap();
    assert!(element_ids_in(&v4).is_empty());
}

#[test]
fn value_count_limit_bounds_decoded_size() {
    // 1000 nulls in a list: fine by default, refused with a lower limit.
    let mut bytes = vec![0xD5, 0x03, 0xE8];
    bytes.extend(std::iter::repeat_n(0xC0, 1000));
    assert!(params(&bytes).is_ok());
    let opts = DecodeOptions {
        max_values: 500,
        ..DecodeOptions::parameters(GraphShape::V4)
    };
    let err = decode_value(&bytes, opts).unwrap_err();
    assert_eq!(err.code, Code::RequestInvalidFormat);
    // A forged huge count backed by enough bytes still only grows as items
    // arrive, and stops at the limit.
    let mut forged = vec![0xD6, 0x00, 0x10, 0x00, 0x00];
    forged.extend(std::iter::repeat_n(0xC0, 1 << 20));
    assert!(decode_value(&forged, opts).is_err());
}
