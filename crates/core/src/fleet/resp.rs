//! RESP2, the Redis wire protocol, as far as the client needs it: commands out as arrays of
//! bulk strings, replies in as simple strings, errors, integers, bulk strings, nulls and
//! (nested) arrays.
//!
//! [`decode`] is a pure function over whatever bytes have arrived so far, so the same code
//! serves partial reads and the fuzzer (`fuzz/fuzz_targets/redis_reply.rs`). Every size it
//! accepts is bounded before anything is allocated: a bulk string at most [`MAX_BULK`] bytes,
//! an array at most [`MAX_ELEMENTS`] elements, nesting at most [`MAX_DEPTH`] deep, a whole
//! reply at most [`MAX_REPLY`] bytes. A server (or a man in the middle without TLS) can
//! therefore make a login fail, but not make the module inside sshd allocate without bound,
//! recurse without bound or panic.

/// The longest bulk string accepted (a state is under 4 KiB; keys and INFO are smaller).
pub const MAX_BULK: usize = 64 * 1024;
/// The longest simple string, error or integer line accepted.
pub const MAX_LINE: usize = 4 * 1024;
/// The most elements one array may have (SCAN's COUNT 500 returns about that many keys).
pub const MAX_ELEMENTS: usize = 8 * 1024;
/// The most arrays nested in one another (SCAN and ROLE need two).
pub const MAX_DEPTH: usize = 4;
/// The most bytes one reply may take on the wire.
pub const MAX_REPLY: usize = 1024 * 1024;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`: a status line.
    Simple(Vec<u8>),
    /// `-ERR …`: an error reply (the command failed; the connection is still usable).
    Error(Vec<u8>),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nabc`.
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`: no value.
    Nil,
    /// `*2\r\n…`.
    Array(Vec<Reply>),
}

impl Reply {
    /// The bytes of a simple or bulk string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Simple(b) | Reply::Bulk(b) => Some(b),
            _ => None,
        }
    }

    /// The error text of an error reply (lossily as UTF-8).
    pub fn error_text(&self) -> Option<String> {
        match self {
            Reply::Error(e) => Some(String::from_utf8_lossy(e).into_owned()),
            _ => None,
        }
    }
}

/// Bytes that are not a RESP2 reply we accept (malformed, or over one of the bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

/// Appends one command, as an array of bulk strings, to `out`.
pub fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Decodes the first reply in `input`: `Ok(None)` if more bytes are needed, else the reply
/// and how many bytes it took. Bytes after it are left alone (pipelined replies).
pub fn decode(input: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    let limited = &input[..input.len().min(MAX_REPLY)];
    match parse(limited, 0, 0)? {
        Some(done) => Ok(Some(done)),
        None if input.len() >= MAX_REPLY => Err(ProtocolError("reply too long")),
        None => Ok(None),
    }
}

/// One value starting at `pos`: the value and the position after it.
fn parse(input: &[u8], pos: usize, depth: usize) -> Result<Option<(Reply, usize)>, ProtocolError> {
    let Some(&kind) = input.get(pos) else {
        return Ok(None);
    };
    let Some((line, next)) = line_at(input, pos + 1)? else {
        return Ok(None);
    };
    match kind {
        b'+' => Ok(Some((Reply::Simple(line.to_vec()), next))),
        b'-' => Ok(Some((Reply::Error(line.to_vec()), next))),
        b':' => Ok(Some((Reply::Integer(integer(line)?), next))),
        b'$' => {
            let Some(len) = length(line, MAX_BULK)? else {
                return Ok(Some((Reply::Nil, next)));
            };
            let end = next + len;
            if input.len() < end + 2 {
                return Ok(None);
            }
            if &input[end..end + 2] != b"\r\n" {
                return Err(ProtocolError("bulk string not followed by CRLF"));
            }
            Ok(Some((Reply::Bulk(input[next..end].to_vec()), end + 2)))
        }
        b'*' => {
            let Some(count) = length(line, MAX_ELEMENTS)? else {
                return Ok(Some((Reply::Nil, next)));
            };
            if depth >= MAX_DEPTH {
                return Err(ProtocolError("arrays nested too deep"));
            }
            // Every element takes at least 3 bytes: never allocate for elements not sent.
            if count > (input.len() - next) / 3 {
                return Ok(None);
            }
            let mut items = Vec::with_capacity(count);
            let mut at = next;
            for _ in 0..count {
                match parse(input, at, depth + 1)? {
                    Some((item, after)) => {
                        items.push(item);
                        at = after;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(items), at)))
        }
        _ => Err(ProtocolError("unknown reply type")),
    }
}

/// The line starting at `pos` (without its CRLF) and the position after the CRLF.
fn line_at(input: &[u8], pos: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let rest = &input[pos.min(input.len())..];
    let window = &rest[..rest.len().min(MAX_LINE + 2)];
    match window.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) if window[i] == b'\n' => Err(ProtocolError("bare LF in a line")),
        Some(i) => match window.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some((&rest[..i], pos + i + 2))),
            Some(_) => Err(ProtocolError("CR not followed by LF")),
        },
        None if window.len() > MAX_LINE => Err(ProtocolError("line too long")),
        None => Ok(None),
    }
}

/// A strict decimal integer: optional `-`, then 1 to 19 digits, no `+`, no spaces.
fn integer(line: &[u8]) -> Result<i64, ProtocolError> {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ProtocolError("bad integer"));
    }
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ProtocolError("bad integer"))
}

/// A bulk or array length: `None` for -1 (nil), else 0..=max.
fn length(line: &[u8], max: usize) -> Result<Option<usize>, ProtocolError> {
    match integer(line)? {
        -1 => Ok(None),
        n if n < 0 => Err(ProtocolError("negative length")),
        n => match usize::try_from(n) {
            Ok(n) if n <= max => Ok(Some(n)),
            _ => Err(ProtocolError("length over the limit")),
        },
    }
}

#[cfg(test)]
mod tests;
