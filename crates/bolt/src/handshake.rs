//! Version negotiation: the 4-byte magic preamble followed by four version
//! proposals, each possibly covering a range of minor versions.

use std::fmt;

/// Every Bolt connection starts with these bytes.
pub const MAGIC: [u8; 4] = [0x60, 0x60, 0xB0, 0x17];

/// Magic plus four 4-byte proposals.
pub const HANDSHAKE_LEN: usize = 20;

/// A negotiated Bolt protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    /// 4.3/4.4 only: the client asked for, and we confirmed, the `utc`
    /// patch, so date-times travel as 'I'/'i' like in Bolt 5.
    pub utc_patch: bool,
}

impl Version {
    pub const fn new(major: u8, minor: u8) -> Self {
        Version {
            major,
            minor,
            utc_patch: false,
        }
    }

    /// Whether this version can take the `utc` patch (4.3 and 4.4 define it).
    pub fn accepts_utc_patch(self) -> bool {
        self.major == 4 && self.minor >= 3
    }

    pub fn with_utc_patch(self) -> Self {
        Version {
            utc_patch: self.accepts_utc_patch(),
            ..self
        }
    }

    /// Date-times as UTC instants ('I'/'i') rather than legacy wall-clock
    /// seconds ('F'/'f').
    pub fn utc_datetime(self) -> bool {
        self.major >= 5 || self.utc_patch
    }

    pub const V4_1: Version = Version::new(4, 1);
    pub const V4_3: Version = Version::new(4, 3);
    pub const V4_4: Version = Version::new(4, 4);
    pub const V5_0: Version = Version::new(5, 0);
    pub const V5_1: Version = Version::new(5, 1);
    pub const V5_2: Version = Version::new(5, 2);
    pub const V5_3: Version = Version::new(5, 3);
    pub const V5_4: Version = Version::new(5, 4);

    /// The 4-byte answer to the client (`00 00 minor major`).
    pub fn to_bytes(self) -> [u8; 4] {
        [0, 0, self.minor, self.major]
    }

    /// Bolt 5 graph entities carry element ids.
    pub fn has_element_ids(self) -> bool {
        self.major >= 5
    }

    /// From 5.1 on, credentials move from HELLO to LOGON.
    pub fn has_logon(self) -> bool {
        self >= Version::V5_1
    }

    pub fn has_route(self) -> bool {
        self >= Version::V4_3
    }

    /// 4.4 replaced ROUTE's bare database name with an `extra` map and added
    /// the `db` key to the routing table.
    pub fn route_has_extra(self) -> bool {
        self >= Version::V4_4
    }

    pub fn has_telemetry(self) -> bool {
        self >= Version::V5_4
    }

    pub fn has_hints(self) -> bool {
        self >= Version::V4_3
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Versions this server speaks, best first. 5.5 is deliberately absent (no
/// Neo4j server ever negotiated it, so drivers' 5.5 code paths are
/// untested); 4.2 and 4.0 are absent because every client that offers them
/// also offers 4.1 or 4.3.
pub const SUPPORTED_VERSIONS: [Version; 8] = [
    Version::V5_4,
    Version::V5_3,
    Version::V5_2,
    Version::V5_1,
    Version::V5_0,
    Version::V4_4,
    Version::V4_3,
    Version::V4_1,
];

/// What the first four bytes of a connection turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preamble {
    Bolt,
    /// Someone pointed an HTTP client (or browser) at the Bolt port.
    Http,
    Garbage,
}

pub fn classify_preamble(first4: [u8; 4]) -> Preamble {
    if first4 == MAGIC {
        Preamble::Bolt
    } else if &first4 == b"GET " || &first4 == b"POST" || &first4 == b"HTTP" || &first4 == b"PUT " {
        Preamble::Http
    } else {
        Preamble::Garbage
    }
}

/// Picks a version from the 16 proposal bytes following the magic.
///
/// Slots are tried in the client's order of preference; within a slot the
/// highest version we support wins. Slots with major 0 (unused) or 255 (the
/// manifest-negotiation sentinel, which we do not implement) are skipped:
/// clients that offer the manifest always offer ordinary ranges as well.
pub fn negotiate(proposals: &[u8; 16], supported: &[Version]) -> Option<Version> {
    for slot in proposals.chunks_exact(4) {
        let (range, minor, major) = (slot[1], slot[2], slot[3]);
        if major == 0 || major == 0xFF {
            continue;
        }
        let lowest = minor.saturating_sub(range);
        let best = supported
            .iter()
            .filter(|v| v.major == major && v.minor >= lowest && v.minor <= minor)
            .max();
        if let Some(v) = best {
            return Some(*v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_manifest_offer_falls_back_to_ranges() {
        let p = [0, 0, 1, 0xFF, 0, 8, 8, 5, 0, 2, 4, 4, 0, 0, 0, 3];
        assert_eq!(negotiate(&p, &SUPPORTED_VERSIONS), Some(Version::V5_4));
    }
}
