//! PackStream v1: the self-describing binary value format inside Bolt messages.
//!
//! The decoder is fed bytes from untrusted clients, so it never trusts a length
//! field: every size is checked against the bytes that are actually left before
//! anything is allocated, and recursion is bounded by an explicit depth limit
//! so that a deeply nested list cannot overflow the stack.

use causeway_value::temporal;
use causeway_value::{
    element_id, rel_element_id, spatial, Code, DateTime, Duration, Error, LocalDateTime, Map, Node,
    Path, Relationship, Time, Tz, Value,
};

/// Default limit on how deeply lists, maps and structures may nest in a
/// received message. Real parameters rarely exceed a handful of levels; the
/// limit exists so that recursion depth stays far below the stack size.
pub const MAX_NESTING_DEPTH: usize = 64;

/// Default limit on how many values (scalars and containers alike) one
/// received message may contain. Decoded values are far larger than their
/// wire form (a one-byte null becomes a whole `Value`), so without this a
/// maximal message of nulls would cost gigabytes.
pub const MAX_VALUES_PER_MESSAGE: usize = 16 * 1024 * 1024;

/// Largest capacity reserved up front for a list; longer lists grow as their
/// items actually arrive, so a forged length cannot reserve memory.
const MAX_PREALLOCATED_ITEMS: usize = 1024;

/// Limit on nesting in values we *send*. Values come from our own engine, so
/// this is generous; it only protects the encoder's recursion.
pub const MAX_ENCODE_DEPTH: usize = 512;

/// PackStream forbids sizes above `i32::MAX`, even though the u32 length
/// markers could express more.
pub const MAX_SIZE: usize = i32::MAX as usize;

/// Marker bytes, named after the types they introduce.
pub mod marker {
    pub const NULL: u8 = 0xC0;
    pub const FLOAT64: u8 = 0xC1;
    pub const FALSE: u8 = 0xC2;
    pub const TRUE: u8 = 0xC3;
    pub const INT8: u8 = 0xC8;
    pub const INT16: u8 = 0xC9;
    pub const INT32: u8 = 0xCA;
    pub const INT64: u8 = 0xCB;
    pub const BYTES8: u8 = 0xCC;
    pub const BYTES16: u8 = 0xCD;
    pub const BYTES32: u8 = 0xCE;
    pub const TINY_STRING: u8 = 0x80;
    pub const STRING8: u8 = 0xD0;
    pub const STRING16: u8 = 0xD1;
    pub const STRING32: u8 = 0xD2;
    pub const TINY_LIST: u8 = 0x90;
    pub const LIST8: u8 = 0xD4;
    pub const LIST16: u8 = 0xD5;
    pub const LIST32: u8 = 0xD6;
    pub const TINY_MAP: u8 = 0xA0;
    pub const MAP8: u8 = 0xD8;
    pub const MAP16: u8 = 0xD9;
    pub const MAP32: u8 = 0xDA;
    pub const TINY_STRUCT: u8 = 0xB0;
}

/// Structure tags of the value types (not messages).
pub mod tag {
    pub const NODE: u8 = 0x4E;
    pub const RELATIONSHIP: u8 = 0x52;
    pub const UNBOUND_RELATIONSHIP: u8 = 0x72;
    pub const PATH: u8 = 0x50;
    pub const DATE: u8 = 0x44;
    pub const TIME: u8 = 0x54;
    pub const LOCAL_TIME: u8 = 0x74;
    pub const LOCAL_DATE_TIME: u8 = 0x64;
    pub const LEGACY_DATE_TIME: u8 = 0x46;
    pub const LEGACY_DATE_TIME_ZONE_ID: u8 = 0x66;
    pub const DATE_TIME: u8 = 0x49;
    pub const DATE_TIME_ZONE_ID: u8 = 0x69;
    pub const DURATION: u8 = 0x45;
    pub const POINT_2D: u8 = 0x58;
    pub const POINT_3D: u8 = 0x59;
    pub const VECTOR: u8 = 0x56;
}

fn format_error(msg: impl Into<String>) -> Error {
    Error::new(Code::RequestInvalidFormat, msg)
}

fn encode_error(msg: impl Into<String>) -> Error {
    Error::new(Code::Unknown, msg)
}

/// Whether graph entities carry Bolt 5 element ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphShape {
    /// Bolt 4.x: integer ids only.
    V4,
    /// Bolt 5.x: integer ids plus element id strings.
    V5,
}

/// Appends PackStream encodings to a byte buffer.
pub struct Packer<'a> {
    buf: &'a mut Vec<u8>,
    shape: GraphShape,
    /// 'I'/'i' (UTC seconds) rather than legacy 'F'/'f' (wall-clock
    /// seconds) date-times: Bolt 5, or 4.3/4.4 after the `utc` patch.
    utc_datetime: bool,
}

impl<'a> Packer<'a> {
    /// Date-times take the form native to the shape (UTC from Bolt 5 on);
    /// [`Packer::utc_datetime`] overrides it for patched 4.x connections.
    pub fn new(buf: &'a mut Vec<u8>, shape: GraphShape) -> Self {
        Packer {
            buf,
            shape,
            utc_datetime: shape == GraphShape::V5,
        }
    }

    pub fn utc_datetime(mut self, utc: bool) -> Self {
        self.utc_datetime = utc;
        self
    }

    pub fn null(&mut self) {
        self.buf.push(marker::NULL);
    }

    pub fn bool(&mut self, b: bool) {
        self.buf.push(if b { marker::TRUE } else { marker::FALSE });
    }

    pub fn int(&mut self, i: i64) {
        if (-16..=127).contains(&i) {
            self.buf.push(i as i8 as u8);
        } else if i8::try_from(i).is_ok() {
            self.buf.push(marker::INT8);
            self.buf.push(i as i8 as u8);
        } else if let Ok(v) = i16::try_from(i) {
            self.buf.push(marker::INT16);
            self.buf.extend_from_slice(&v.to_be_bytes());
        } else if let Ok(v) = i32::try_from(i) {
            self.buf.push(marker::INT32);
            self.buf.extend_from_slice(&v.to_be_bytes());
        } else {
            self.buf.push(marker::INT64);
            self.buf.extend_from_slice(&i.to_be_bytes());
        }
    }

    pub fn float(&mut self, f: f64) {
        self.buf.push(marker::FLOAT64);
        self.buf.extend_from_slice(&f.to_bits().to_be_bytes());
    }

    fn sized_header(
        &mut self,
        tiny: u8,
        m8: u8,
        m16: u8,
        m32: u8,
        len: usize,
    ) -> Result<(), Error> {
        if len > MAX_SIZE {
            return Err(encode_error(format!(
                "value of size {len} exceeds the PackStream limit"
            )));
        }
        if len < 16 && tiny != 0 {
            self.buf.push(tiny | len as u8);
        } else if len <= u8::MAX as usize {
            self.buf.push(m8);
            self.buf.push(len as u8);
        } else if len <= u16::MAX as usize {
            self.buf.push(m16);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(m32);
            self.buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
        Ok(())
    }

    pub fn string(&mut self, s: &str) -> Result<(), Error> {
        self.sized_header(
            marker::TINY_STRING,
            marker::STRING8,
            marker::STRING16,
            marker::STRING32,
            s.len(),
        )?;
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        // Bytes have no tiny form; 0 as the tiny marker disables it.
        self.sized_header(0, marker::BYTES8, marker::BYTES16, marker::BYTES32, b.len())?;
        self.buf.extend_from_slice(b);
        Ok(())
    }

    pub fn list_header(&mut self, len: usize) -> Result<(), Error> {
        self.sized_header(
            marker::TINY_LIST,
            marker::LIST8,
            marker::LIST16,
            marker::LIST32,
            len,
        )
    }

    pub fn map_header(&mut self, len: usize) -> Result<(), Error> {
        self.sized_header(
            marker::TINY_MAP,
            marker::MAP8,
            marker::MAP16,
            marker::MAP32,
            len,
        )
    }

    pub fn struct_header(&mut self, fields: u8, tag: u8) {
        debug_assert!(fields < 16);
        self.buf.push(marker::TINY_STRUCT | (fields & 0x0F));
        self.buf.push(tag);
    }

    pub fn map(&mut self, m: &Map) -> Result<(), Error> {
        self.map_at(m, 0)
    }

    pub fn value(&mut self, v: &Value) -> Result<(), Error> {
        self.value_at(v, 0)
    }

    fn map_at(&mut self, m: &Map, depth: usize) -> Result<(), Error> {
        self.map_header(m.len())?;
        for (k, v) in m {
            self.string(k)?;
            self.value_at(v, depth + 1)?;
        }
        Ok(())
    }

    fn value_at(&mut self, v: &Value, depth: usize) -> Result<(), Error> {
        if depth > MAX_ENCODE_DEPTH {
            return Err(encode_error("value is nested too deeply to be sent"));
        }
        match v {
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(i) => self.int(*i),
            Value::Float(f) => self.float(*f),
            Value::String(s) => self.string(s)?,
            Value::Bytes(b) => self.bytes(b)?,
            Value::List(items) => {
                self.list_header(items.len())?;
                for item in items {
                    self.value_at(item, depth + 1)?;
                }
            }
            Value::Map(m) => self.map_at(m, depth)?,
            Value::Node(n) => self.node(n, depth)?,
            Value::Relationship(r) => self.relationship(r, depth)?,
            Value::Path(p) => self.path(p, depth)?,
            Value::Date(days) => {
                self.struct_header(1, tag::DATE);
                self.int(*days);
            }
            Value::Time(t) => {
                self.struct_header(2, tag::TIME);
                self.int(t.nanos);
                self.int(i64::from(t.offset));
            }
            Value::LocalTime(nanos) => {
                self.struct_header(1, tag::LOCAL_TIME);
                self.int(*nanos);
            }
            Value::LocalDateTime(l) => {
                self.struct_header(2, tag::LOCAL_DATE_TIME);
                self.int(l.seconds);
                self.int(l.nanos);
            }
            Value::DateTime(dt) => self.datetime(dt)?,
            Value::Duration(d) => {
                self.struct_header(4, tag::DURATION);
                self.int(d.months);
                self.int(d.days);
                self.int(d.seconds);
                self.int(d.nanos);
            }
            Value::Point(p) => {
                match p.z {
                    None => self.struct_header(3, tag::POINT_2D),
                    Some(_) => self.struct_header(4, tag::POINT_3D),
                }
                self.int(i64::from(p.srid));
                self.float(p.x);
                self.float(p.y);
                if let Some(z) = p.z {
                    self.float(z);
                }
            }
        }
        Ok(())
    }

    fn datetime(&mut self, dt: &DateTime) -> Result<(), Error> {
        let seconds = if self.utc_datetime {
            dt.seconds
        } else {
            // Legacy clients read the wall clock of the value's own zone.
            let offset = dt.offset().ok_or_else(|| {
                encode_error(format!(
                    "time zone '{}' cannot be sent to a Bolt 4 client without the utc patch",
                    match &dt.tz {
                        Tz::Zone(z) => z.as_str(),
                        Tz::Offset(_) => "",
                    }
                ))
            })?;
            dt.seconds
                .checked_add(i64::from(offset))
                .ok_or_else(|| encode_error("date-time out of range"))?
        };
        let (t_offset, t_zone) = if self.utc_datetime {
            (tag::DATE_TIME, tag::DATE_TIME_ZONE_ID)
        } else {
            (tag::LEGACY_DATE_TIME, tag::LEGACY_DATE_TIME_ZONE_ID)
        };
        match &dt.tz {
            Tz::Offset(o) => {
                self.struct_header(3, t_offset);
                self.int(seconds);
                self.int(dt.nanos);
                self.int(i64::from(*o));
            }
            Tz::Zone(z) => {
                self.struct_header(3, t_zone);
                self.int(seconds);
                self.int(dt.nanos);
                self.string(z)?;
            }
        }
        Ok(())
    }

    /// Stored ids stay below 2^63; ids at or above it belong to virtual
    /// entities (APOC's meta graphs) and go out negative, as Neo4j's
    /// virtual ids do.
    fn entity_id(&mut self, id: u64) -> Result<(), Error> {
        self.int(id as i64);
        Ok(())
    }

    fn node(&mut self, n: &Node, depth: usize) -> Result<(), Error> {
        let v5 = self.shape == GraphShape::V5;
        self.struct_header(if v5 { 4 } else { 3 }, tag::NODE);
        self.entity_id(n.id)?;
        self.list_header(n.labels.len())?;
        for l in &n.labels {
            self.string(l)?;
        }
        self.map_at(&n.props, depth + 1)?;
        if v5 {
            self.string(&element_id(n.id))?;
        }
        Ok(())
    }

    fn relationship(&mut self, r: &Relationship, depth: usize) -> Result<(), Error> {
        let v5 = self.shape == GraphShape::V5;
        self.struct_header(if v5 { 8 } else { 5 }, tag::RELATIONSHIP);
        self.entity_id(r.id)?;
        self.entity_id(r.start)?;
        self.entity_id(r.end)?;
        self.string(&r.rel_type)?;
        self.map_at(&r.props, depth + 1)?;
        if v5 {
            self.string(&rel_element_id(r.id))?;
            self.string(&element_id(r.start))?;
            self.string(&element_id(r.end))?;
        }
        Ok(())
    }

    fn unbound_relationship(&mut self, r: &Relationship, depth: usize) -> Result<(), Error> {
        let v5 = self.shape == GraphShape::V5;
        self.struct_header(if v5 { 4 } else { 3 }, tag::UNBOUND_RELATIONSHIP);
        self.entity_id(r.id)?;
        self.string(&r.rel_type)?;
        self.map_at(&r.props, depth + 1)?;
        if v5 {
            self.string(&rel_element_id(r.id))?;
        }
        Ok(())
    }

    /// Bolt paths list every distinct node and relationship once and describe
    /// the walk with indices, so a path that revisits an entity stays small
    /// and clients can key entities by identity.
    fn path(&mut self, p: &Path, depth: usize) -> Result<(), Error> {
        if p.nodes.is_empty() || p.rels.len() + 1 != p.nodes.len() {
            return Err(encode_error(format!(
                "malformed path: {} nodes and {} relationships",
                p.nodes.len(),
                p.rels.len()
            )));
        }
        let mut nodes: Vec<&Node> = Vec::new();
        let mut node_index = Vec::with_capacity(p.nodes.len());
        for n in &p.nodes {
            let i = match nodes.iter().position(|m| m.id == n.id) {
                Some(i) => i,
                None => {
                    nodes.push(n);
                    nodes.len() - 1
                }
            };
            node_index.push(i);
        }
        let mut rels: Vec<&Relationship> = Vec::new();
        let mut indices: Vec<i64> = Vec::with_capacity(p.rels.len() * 2);
        for (step, r) in p.rels.iter().enumerate() {
            let ri = match rels.iter().position(|m| m.id == r.id) {
                Some(i) => i,
                None => {
                    rels.push(r);
                    rels.len() - 1
                }
            };
            let from = &p.nodes[step];
            // A relationship whose start is the node we are leaving is walked
            // forwards; anything else is walked against its direction.
            let forward = r.start == from.id;
            let one_based = ri as i64 + 1;
            indices.push(if forward { one_based } else { -one_based });
            indices.push(node_index[step + 1] as i64);
        }
        self.struct_header(3, tag::PATH);
        self.list_header(nodes.len())?;
        for n in nodes {
            self.node(n, depth + 1)?;
        }
        self.list_header(rels.len())?;
        for r in rels {
            self.unbound_relationship(r, depth + 1)?;
        }
        self.list_header(indices.len())?;
        for i in indices {
            self.int(i);
        }
        Ok(())
    }
}

/// Encodes one value into a fresh buffer; handy for tests and tools.
pub fn encode_value(v: &Value, shape: GraphShape) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    Packer::new(&mut buf, shape).value(v)?;
    Ok(buf)
}

/// What the decoder accepts beyond plain data.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    pub max_depth: usize,
    pub max_values: usize,
    /// Clients may not send nodes, relationships or paths as parameters; only
    /// tests (acting as a client reading our output) turn this on.
    pub graph_structs: bool,
    pub shape: GraphShape,
}

impl DecodeOptions {
    pub fn parameters(shape: GraphShape) -> Self {
        DecodeOptions {
            max_depth: MAX_NESTING_DEPTH,
            max_values: MAX_VALUES_PER_MESSAGE,
            graph_structs: false,
            shape,
        }
    }

    pub fn results(shape: GraphShape) -> Self {
        DecodeOptions {
            max_depth: MAX_NESTING_DEPTH,
            max_values: MAX_VALUES_PER_MESSAGE,
            graph_structs: true,
            shape,
        }
    }
}

/// Reads PackStream values from a byte slice.
pub struct Unpacker<'a> {
    data: &'a [u8],
    pos: usize,
    opts: DecodeOptions,
    values: usize,
}

impl<'a> Unpacker<'a> {
    pub fn new(data: &'a [u8], opts: DecodeOptions) -> Self {
        Unpacker {
            data,
            pos: 0,
            opts,
            values: 0,
        }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(format_error("message ends in the middle of a value"));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn len_u8(&mut self) -> Result<usize, Error> {
        Ok(self.u8()? as usize)
    }

    fn len_u16(&mut self) -> Result<usize, Error> {
        Ok(u16::from_be_bytes(self.array()?) as usize)
    }

    fn len_u32(&mut self) -> Result<usize, Error> {
        let n = u32::from_be_bytes(self.array()?) as usize;
        if n > MAX_SIZE {
            return Err(format_error(format!(
                "size {n} exceeds the PackStream limit"
            )));
        }
        Ok(n)
    }

    /// Reads a structure header: `(field count, tag)`.
    pub fn struct_header(&mut self) -> Result<(usize, u8), Error> {
        let m = self.u8()?;
        if m & 0xF0 != marker::TINY_STRUCT {
            return Err(format_error(format!(
                "expected a structure, found marker 0x{m:02X}"
            )));
        }
        let tag = self.u8()?;
        Ok(((m & 0x0F) as usize, tag))
    }

    pub fn value(&mut self) -> Result<Value, Error> {
        self.value_at(0)
    }

    /// Refuses a collection header whose item count cannot possibly be backed
    /// by the bytes left, so that a forged length never drives an allocation.
    fn check_count(&self, count: usize, min_item_bytes: usize) -> Result<(), Error> {
        if count.saturating_mul(min_item_bytes) > self.remaining() {
            return Err(format_error(format!(
                "collection claims {count} items but the message is too short"
            )));
        }
        Ok(())
    }

    fn string_of(&mut self, len: usize) -> Result<String, Error> {
        let raw = self.take(len)?;
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(format_error("string is not valid UTF-8")),
        }
    }

    fn value_at(&mut self, depth: usize) -> Result<Value, Error> {
        self.values += 1;
        if self.values > self.opts.max_values {
            return Err(format_error(format!(
                "message contains more than {} values",
                self.opts.max_values
            )));
        }
        let m = self.u8()?;
        match m {
            0x00..=0x7F => Ok(Value::Int(m as i64)),
            0xF0..=0xFF => Ok(Value::Int(m as i8 as i64)),
            marker::NULL => Ok(Value::Null),
            marker::FALSE => Ok(Value::Bool(false)),
            marker::TRUE => Ok(Value::Bool(true)),
            marker::FLOAT64 => Ok(Value::Float(f64::from_bits(u64::from_be_bytes(
                self.array()?,
            )))),
            marker::INT8 => Ok(Value::Int(self.u8()? as i8 as i64)),
            marker::INT16 => Ok(Value::Int(i16::from_be_bytes(self.array()?) as i64)),
            marker::INT32 => Ok(Value::Int(i32::from_be_bytes(self.array()?) as i64)),
            marker::INT64 => Ok(Value::Int(i64::from_be_bytes(self.array()?))),
            marker::BYTES8 | marker::BYTES16 | marker::BYTES32 => {
                let len = match m {
                    marker::BYTES8 => self.len_u8()?,
                    marker::BYTES16 => self.len_u16()?,
                    _ => self.len_u32()?,
                };
                Ok(Value::Bytes(self.take(len)?.to_vec()))
            }
            0x80..=0x8F => {
                let len = (m & 0x0F) as usize;
                Ok(Value::String(self.string_of(len)?))
            }
            marker::STRING8 | marker::STRING16 | marker::STRING32 => {
                let len = match m {
                    marker::STRING8 => self.len_u8()?,
                    marker::STRING16 => self.len_u16()?,
                    _ => self.len_u32()?,
                };
                Ok(Value::String(self.string_of(len)?))
            }
            0x90..=0x9F | marker::LIST8 | marker::LIST16 | marker::LIST32 => {
                let len = match m {
                    marker::LIST8 => self.len_u8()?,
                    marker::LIST16 => self.len_u16()?,
                    marker::LIST32 => self.len_u32()?,
                    _ => (m & 0x0F) as usize,
                };
                self.enter(depth)?;
                self.check_count(len, 1)?;
                let mut items = Vec::with_capacity(len.min(MAX_PREALLOCATED_ITEMS));
                for _ in 0..len {
                    items.push(self.value_at(depth + 1)?);
                }
                Ok(Value::List(items))
            }
            0xA0..=0xAF | marker::MAP8 | marker::MAP16 | marker::MAP32 => {
                let len = match m {
                    marker::MAP8 => self.len_u8()?,
                    marker::MAP16 => self.len_u16()?,
                    marker::MAP32 => self.len_u32()?,
                    _ => (m & 0x0F) as usize,
                };
                self.enter(depth)?;
                Ok(Value::Map(self.map_body(len, depth)?))
            }
            0xB0..=0xBF => {
                self.enter(depth)?;
                let fields = (m & 0x0F) as usize;
                let t = self.u8()?;
                self.structure(fields, t, depth)
            }
            _ => Err(format_error(format!("reserved marker 0x{m:02X}"))),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), Error> {
        if depth >= self.opts.max_depth {
            return Err(format_error(format!(
                "value is nested more than {} levels deep",
                self.opts.max_depth
            )));
        }
        Ok(())
    }

    fn map_body(&mut self, len: usize, depth: usize) -> Result<Map, Error> {
        self.check_count(len, 2)?;
        let mut map = Map::new();
        for _ in 0..len {
            let key = match self.value_at(depth + 1)? {
                Value::String(s) => s,
                other => {
                    return Err(format_error(format!(
                        "map keys must be strings, found {}",
                        other.type_name()
                    )))
                }
            };
            // Duplicate keys: the last one wins, as PackStream specifies.
            let v = self.value_at(depth + 1)?;
            map.insert(key, v);
        }
        Ok(map)
    }

    fn structure(&mut self, fields: usize, t: u8, depth: usize) -> Result<Value, Error> {
        match t {
            tag::NODE | tag::RELATIONSHIP | tag::UNBOUND_RELATIONSHIP | tag::PATH
                if self.opts.graph_structs =>
            {
                self.graph_struct(fields, t, depth)
            }
            tag::NODE | tag::RELATIONSHIP | tag::UNBOUND_RELATIONSHIP | tag::PATH => Err(
                format_error("nodes, relationships and paths cannot be used as parameters"),
            ),
            tag::DATE
            | tag::TIME
            | tag::LOCAL_TIME
            | tag::LOCAL_DATE_TIME
            | tag::LEGACY_DATE_TIME
            | tag::LEGACY_DATE_TIME_ZONE_ID
            | tag::DATE_TIME
            | tag::DATE_TIME_ZONE_ID
            | tag::DURATION => self.temporal(fields, t, depth + 1),
            tag::POINT_2D | tag::POINT_3D => self.point(fields, t, depth + 1),
            tag::VECTOR => Err(format_error("vectors are not supported")),
            _ => Err(format_error(format!("unknown structure tag 0x{t:02X}"))),
        }
    }

    /// Point2D (srid, x, y) and Point3D (srid, x, y, z), checked against
    /// the coordinate systems Cypher knows, as `point()` would check them.
    fn point(&mut self, fields: usize, t: u8, d: usize) -> Result<Value, Error> {
        let want = if t == tag::POINT_2D { 3 } else { 4 };
        if fields != want {
            return Err(format_error(format!(
                "Point structure has {fields} fields, expected {want}"
            )));
        }
        let srid = self.int_field("srid", d)?;
        let mut coords = Vec::with_capacity(3);
        for _ in 1..want {
            coords.push(match self.value_at(d)? {
                Value::Float(f) => f,
                other => {
                    return Err(format_error(format!(
                        "point coordinates must be floats, found {}",
                        other.type_name()
                    )))
                }
            });
        }
        let crs = spatial::crs_by_srid(srid)
            .ok_or_else(|| format_error(format!("unknown coordinate reference system {srid}")))?;
        spatial::Point::new(crs, &coords)
            .map(Value::Point)
            .map_err(|e| format_error(e.message))
    }

    fn int_field(&mut self, what: &str, depth: usize) -> Result<i64, Error> {
        match self.value_at(depth)? {
            Value::Int(i) => Ok(i),
            other => Err(format_error(format!(
                "{what} must be an integer, found {}",
                other.type_name()
            ))),
        }
    }

    /// Temporal structures. Every field is range-checked here, so the
    /// engine never sees a value it cannot render or compute with.
    /// Date-times are accepted in both the legacy ('F'/'f') and the UTC
    /// ('I'/'i') form whatever was negotiated: the tags are distinct, so
    /// each is read by its own rules and nothing is ambiguous.
    fn temporal(&mut self, fields: usize, t: u8, d: usize) -> Result<Value, Error> {
        let (name, want) = match t {
            tag::DATE => ("Date", 1),
            tag::TIME => ("Time", 2),
            tag::LOCAL_TIME => ("LocalTime", 1),
            tag::LOCAL_DATE_TIME => ("LocalDateTime", 2),
            tag::DURATION => ("Duration", 4),
            _ => ("DateTime", 3),
        };
        if fields != want {
            return Err(format_error(format!(
                "{name} structure has {fields} fields, expected {want}"
            )));
        }
        let bad = |msg: String| format_error(format!("invalid {name}: {msg}"));
        let v = match t {
            tag::DATE => {
                let days = self.int_field("days", d)?;
                temporal::check_days(days).map_err(bad)?;
                Value::Date(days)
            }
            tag::TIME => {
                let nanos = self.int_field("nanoseconds", d)?;
                let offset = self.int_field("tz_offset_seconds", d)?;
                temporal::check_nanos_of_day(nanos).map_err(bad)?;
                let offset = temporal::check_offset(offset).map_err(bad)?;
                Value::Time(Time { nanos, offset })
            }
            tag::LOCAL_TIME => {
                let nanos = self.int_field("nanoseconds", d)?;
                temporal::check_nanos_of_day(nanos).map_err(bad)?;
                Value::LocalTime(nanos)
            }
            tag::LOCAL_DATE_TIME => {
                let seconds = self.int_field("seconds", d)?;
                let nanos = self.int_field("nanoseconds", d)?;
                temporal::check_seconds(seconds).map_err(bad)?;
                temporal::check_nanos_of_second(nanos).map_err(bad)?;
                Value::LocalDateTime(LocalDateTime { seconds, nanos })
            }
            tag::DURATION => Value::Duration(Duration {
                months: self.int_field("months", d)?,
                days: self.int_field("days", d)?,
                seconds: self.int_field("seconds", d)?,
                nanos: self.int_field("nanoseconds", d)?,
            }),
            _ => {
                let seconds = self.int_field("seconds", d)?;
                let nanos = self.int_field("nanoseconds", d)?;
                temporal::check_nanos_of_second(nanos).map_err(bad)?;
                let legacy = matches!(t, tag::LEGACY_DATE_TIME | tag::LEGACY_DATE_TIME_ZONE_ID);
                let (tz, offset) = match t {
                    tag::DATE_TIME | tag::LEGACY_DATE_TIME => {
                        let o = self.int_field("tz_offset_seconds", d)?;
                        let o = temporal::check_offset(o).map_err(bad)?;
                        (Tz::Offset(o), o)
                    }
                    _ => {
                        let zone = self.string_field(d)?;
                        // Legacy structures carry the wall clock, the others
                        // the instant; either way the zone gives the offset.
                        let found = if legacy {
                            temporal::zone_from_local(&zone, seconds)
                        } else {
                            temporal::zone_offset_at(&zone, seconds).map(|o| (seconds, o))
                        };
                        let (_, o) =
                            found.ok_or_else(|| bad(format!("unknown time zone '{zone}'")))?;
                        (Tz::Zone(zone), o)
                    }
                };
                let seconds = if legacy {
                    match &tz {
                        Tz::Zone(z) => temporal::zone_from_local(z, seconds)
                            .map(|(utc, _)| utc)
                            .unwrap_or(seconds),
                        Tz::Offset(_) => seconds
                            .checked_sub(i64::from(offset))
                            .ok_or_else(|| bad("seconds out of range".into()))?,
                    }
                } else {
                    seconds
                };
                // Both the instant and the wall clock must be in range.
                temporal::check_seconds(seconds).map_err(bad)?;
                temporal::check_seconds(seconds.saturating_add(i64::from(offset))).map_err(bad)?;
                Value::DateTime(DateTime { seconds, nanos, tz })
            }
        };
        Ok(v)
    }

    fn expect_fields(&self, what: &str, got: usize, v4: usize, v5: usize) -> Result<(), Error> {
        let want = match self.opts.shape {
            GraphShape::V4 => v4,
            GraphShape::V5 => v5,
        };
        if got != want {
            return Err(format_error(format!(
                "{what} structure has {got} fields, expected {want}"
            )));
        }
        Ok(())
    }

    fn id_field(&mut self, depth: usize) -> Result<u64, Error> {
        match self.value_at(depth)? {
            Value::Int(i) => u64::try_from(i).map_err(|_| format_error("negative entity id")),
            other => Err(format_error(format!(
                "entity id must be an integer, found {}",
                other.type_name()
            ))),
        }
    }

    fn string_field(&mut self, depth: usize) -> Result<String, Error> {
        match self.value_at(depth)? {
            Value::String(s) => Ok(s),
            other => Err(format_error(format!(
                "expected a string, found {}",
                other.type_name()
            ))),
        }
    }

    fn map_field(&mut self, depth: usize) -> Result<Map, Error> {
        match self.value_at(depth)? {
            Value::Map(m) => Ok(m),
            other => Err(format_error(format!(
                "expected a map, found {}",
                other.type_name()
            ))),
        }
    }

    fn list_field(&mut self, depth: usize) -> Result<Vec<Value>, Error> {
        match self.value_at(depth)? {
            Value::List(l) => Ok(l),
            other => Err(format_error(format!(
                "expected a list, found {}",
                other.type_name()
            ))),
        }
    }

    fn graph_struct(&mut self, fields: usize, t: u8, depth: usize) -> Result<Value, Error> {
        let d = depth + 1;
        match t {
            tag::NODE => {
                self.expect_fields("node", fields, 3, 4)?;
                let id = self.id_field(d)?;
                let mut labels = Vec::new();
                for l in self.list_field(d)? {
                    match l {
                        Value::String(s) => labels.push(s),
                        _ => return Err(format_error("node labels must be strings")),
                    }
                }
                let props = self.map_field(d)?;
                if self.opts.shape == GraphShape::V5 {
                    self.string_field(d)?;
                }
                Ok(Value::Node(Node { id, labels, props }))
            }
            tag::RELATIONSHIP => {
                self.expect_fields("relationship", fields, 5, 8)?;
                let id = self.id_field(d)?;
                let start = self.id_field(d)?;
                let end = self.id_field(d)?;
                let rel_type = self.string_field(d)?;
                let props = self.map_field(d)?;
                if self.opts.shape == GraphShape::V5 {
                    for _ in 0..3 {
                        self.string_field(d)?;
                    }
                }
                Ok(Value::Relationship(Relationship {
                    id,
                    start,
                    end,
                    rel_type,
                    props,
                }))
            }
            tag::UNBOUND_RELATIONSHIP => {
                self.expect_fields("unbound relationship", fields, 3, 4)?;
                let id = self.id_field(d)?;
                let rel_type = self.string_field(d)?;
                let props = self.map_field(d)?;
                if self.opts.shape == GraphShape::V5 {
                    self.string_field(d)?;
                }
                // Endpoints are unknown until the enclosing path places it.
                Ok(Value::Relationship(Relationship {
                    id,
                    start: 0,
                    end: 0,
                    rel_type,
                    props,
                }))
            }
            _ => {
                if fields != 3 {
                    return Err(format_error("path structure must have 3 fields"));
                }
                let mut nodes = Vec::new();
                for n in self.list_field(d)? {
                    match n {
                        Value::Node(n) => nodes.push(n),
                        _ => return Err(format_error("path nodes must be nodes")),
                    }
                }
                let mut rels = Vec::new();
                for r in self.list_field(d)? {
                    match r {
                        Value::Relationship(r) => rels.push(r),
                        _ => return Err(format_error("path relationships must be relationships")),
                    }
                }
                let indices = self.list_field(d)?;
                build_path(nodes, rels, &indices).map(Value::Path)
            }
        }
    }
}

fn build_path(nodes: Vec<Node>, rels: Vec<Relationship>, indices: &[Value]) -> Result<Path, Error> {
    let bad = || format_error("invalid path indices");
    if nodes.is_empty() || indices.len() % 2 != 0 {
        return Err(bad());
    }
    let mut walk_nodes = vec![nodes[0].clone()];
    let mut walk_rels = Vec::with_capacity(indices.len() / 2);
    for pair in indices.chunks(2) {
        let (Value::Int(ri), Value::Int(ni)) = (&pair[0], &pair[1]) else {
            return Err(bad());
        };
        let r_pos = usize::try_from(ri.unsigned_abs().checked_sub(1).ok_or_else(bad)?)
            .map_err(|_| bad())?;
        let n_pos = usize::try_from(*ni).map_err(|_| bad())?;
        let mut rel = rels.get(r_pos).ok_or_else(bad)?.clone();
        let next = nodes.get(n_pos).ok_or_else(bad)?.clone();
        let prev_id = walk_nodes.last().map(|n| n.id).unwrap_or_default();
        if *ri > 0 {
            rel.start = prev_id;
            rel.end = next.id;
        } else {
            rel.start = next.id;
            rel.end = prev_id;
        }
        walk_rels.push(rel);
        walk_nodes.push(next);
    }
    Ok(Path {
        nodes: walk_nodes,
        rels: walk_rels,
    })
}

/// Decodes exactly one value from `bytes`; trailing bytes are an error.
pub fn decode_value(bytes: &[u8], opts: DecodeOptions) -> Result<Value, Error> {
    let mut u = Unpacker::new(bytes, opts);
    let v = u.value()?;
    if !u.is_empty() {
        return Err(format_error("trailing bytes after value"));
    }
    Ok(v)
}
