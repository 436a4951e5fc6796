//! Bolt chunked framing: each message travels as chunks of at most 65 535
//! bytes (2-byte big-endian length prefix) and ends with an empty chunk.

/// Largest chunk the wire format can express.
pub const MAX_CHUNK_SIZE: usize = u16::MAX as usize;

/// Default cap on one reassembled message. Large enough for multi-megabyte
/// parameters, small enough that one client cannot exhaust memory.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Why reassembly stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The message grew past the configured limit.
    TooLarge { limit: usize },
}

/// Reassembles messages from a byte buffer that fills up as data arrives.
///
/// Complete chunks are moved out of the input as soon as they are whole, so
/// the input buffer never needs to hold more than one chunk plus its header,
/// however large the message is.
#[derive(Debug)]
pub struct Dechunker {
    message: Vec<u8>,
    /// True once at least one non-empty chunk of the current message arrived;
    /// distinguishes the end marker from a NOOP keep-alive.
    in_message: bool,
    max_message_size: usize,
}

impl Dechunker {
    pub fn new(max_message_size: usize) -> Self {
        Dechunker {
            message: Vec::new(),
            in_message: false,
            max_message_size,
        }
    }

    /// True while a message has started but its end marker has not arrived.
    pub fn mid_message(&self) -> bool {
        self.in_message
    }

    /// Consumes complete chunks from the front of `input`. Returns a message
    /// once its end marker has been consumed; `Ok(None)` means more bytes are
    /// needed. NOOPs between messages are skipped.
    pub fn next_message(&mut self, input: &mut Vec<u8>) -> Result<Option<Vec<u8>>, FrameError> {
        let (used, result) = self.take_message(input);
        input.drain(..used);
        result
    }

    /// Like [`Dechunker::next_message`], but reports how many bytes of
    /// `input` it consumed instead of removing them, so a caller can keep a
    /// read offset and compact its buffer rarely (removing bytes per message
    /// would make many small pipelined messages cost quadratic time).
    pub fn take_message(&mut self, input: &[u8]) -> (usize, Result<Option<Vec<u8>>, FrameError>) {
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            if rest.len() < 2 {
                return (consumed, Ok(None));
            }
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            if len == 0 {
                consumed += 2;
                if self.in_message {
                    self.in_message = false;
                    return (consumed, Ok(Some(std::mem::take(&mut self.message))));
                }
                continue;
            }
            if rest.len() < 2 + len {
                return (consumed, Ok(None));
            }
            if self.message.len() + len > self.max_message_size {
                let limit = self.max_message_size;
                return (consumed, Err(FrameError::TooLarge { limit }));
            }
            self.message.extend_from_slice(&rest[2..2 + len]);
            self.in_message = true;
            consumed += 2 + len;
        }
    }
}

/// Scans up to `max_messages` complete messages already buffered in `input`
/// (which must start at a message boundary) and reports whether any of them
/// starts with the given structure bytes. Used to let RESET jump the queue of
/// pipelined requests without decoding them; the bound keeps the per-request
/// cost constant however many requests a client pipelines.
pub fn buffered_message_starts_with(input: &[u8], prefix: [u8; 2], max_messages: usize) -> bool {
    let mut pos = 0;
    let mut seen = 0;
    let mut head: Vec<u8> = Vec::with_capacity(2);
    while input.len() >= pos + 2 && seen < max_messages {
        let len = u16::from_be_bytes([input[pos], input[pos + 1]]) as usize;
        if len == 0 {
            pos += 2;
            if !head.is_empty() {
                seen += 1;
                if head.len() >= 2 && head[..2] == prefix {
                    return true;
                }
            }
            head.clear();
            continue;
        }
        if input.len() < pos + 2 + len {
            break;
        }
        let chunk = &input[pos + 2..pos + 2 + len];
        let want = 2usize.saturating_sub(head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..want]);
        pos += 2 + len;
    }
    false
}

/// Appends `body` to `out` as one chunked message.
pub fn write_message(out: &mut Vec<u8>, body: &[u8]) {
    for piece in body.chunks(MAX_CHUNK_SIZE) {
        out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
        out.extend_from_slice(piece);
    }
    out.extend_from_slice(&[0, 0]);
}

/// Frames a message whose body was encoded directly into `out` after a
/// two-byte placeholder at `start`. Small messages (the common case) need no
/// copy; larger ones are split into chunks.
pub fn finish_in_place(out: &mut Vec<u8>, start: usize) {
    let body_len = out.len() - start - 2;
    if body_len <= MAX_CHUNK_SIZE {
        out[start..start + 2].copy_from_slice(&(body_len as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    } else {
        let body = out.split_off(start + 2);
        out.truncate(start);
        write_message(out, &body);
    }
}

/// Reserves the placeholder that [`finish_in_place`] fills in.
pub fn begin_in_place(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0, 0]);
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_message_is_not_a_noop() {
        // A zero-length body cannot be expressed; Bolt never sends one, and
        // the dechunker treats a lone 00 00 as a NOOP.
        let mut d = Dechunker::new(100);
        let mut input = vec![0, 0, 0, 0];
        assert_eq!(d.next_message(&mut input), Ok(None));
        assert!(input.is_empty());
    }

    #[test]
    fn finds_reset_split_across_chunks_within_lookahead() {
        let mut input = Vec::new();
        write_message(&mut input, &[0xB1, 0x3F, 0xA0]);
        // RESET with its two bytes in separate one-byte chunks.
        input.extend_from_slice(&[0, 1, 0xB0, 0, 1, 0x0F, 0, 0]);
        assert!(buffered_message_starts_with(&input, [0xB0, 0x0F], 2));
        assert!(!buffered_message_starts_with(&input, [0xB0, 0x0F], 1));
        // An incomplete message does not count.
        let partial = [0, 2, 0xB0, 0x0F];
        assert!(!buffered_message_starts_with(&partial, [0xB0, 0x0F], 8));
    }

    #[test]
    fn split_chunks_reassemble() {
        let mut out = Vec::new();
        write_message(&mut out, &[1, 2, 3]);
        let mut d = Dechunker::new(100);
        let mut input = Vec::new();
        for b in out {
            input.push(b);
            if let Some(m) = d.next_message(&mut input).unwrap() {
                assert_eq!(m, vec![1, 2, 3]);
                return;
            }
        }
        panic!("message never completed");
    }
}
