use super::*;

fn one(bytes: &[u8]) -> Reply {
    let (reply, used) = decode(bytes).unwrap().unwrap();
    assert_eq!(used, bytes.len(), "{bytes:?}");
    reply
}

#[test]
fn commands_are_arrays_of_bulk_strings() {
    let mut out = Vec::new();
    encode(&[b"HMGET", b"pam_otp:user:a b", b""], &mut out);
    assert_eq!(
        out,
        b"*3\r\n$5\r\nHMGET\r\n$16\r\npam_otp:user:a b\r\n$0\r\n\r\n".to_vec()
    );
    // Bytes that look like protocol inside an argument stay inside it.
    let mut out = Vec::new();
    encode(&[b"\r\n$1\r\n"], &mut out);
    assert_eq!(out, b"*1\r\n$6\r\n\r\n$1\r\n\r\n".to_vec());
}

#[test]
fn every_reply_type_decodes() {
    assert_eq!(one(b"+OK\r\n"), Reply::Simple(b"OK".to_vec()));
    assert_eq!(
        one(b"-WRONGPASS invalid\r\n"),
        Reply::Error(b"WRONGPASS invalid".to_vec())
    );
    assert_eq!(one(b":-42\r\n"), Reply::Integer(-42));
    assert_eq!(one(b":9223372036854775807\r\n"), Reply::Integer(i64::MAX));
    assert_eq!(one(b"$5\r\na\r\nbc\r\n"), Reply::Bulk(b"a\r\nbc".to_vec()));
    assert_eq!(one(b"$0\r\n\r\n"), Reply::Bulk(Vec::new()));
    assert_eq!(one(b"$-1\r\n"), Reply::Nil);
    assert_eq!(one(b"*-1\r\n"), Reply::Nil);
    assert_eq!(one(b"*0\r\n"), Reply::Array(Vec::new()));
    assert_eq!(
        one(b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$-1\r\n"),
        Reply::Array(vec![
            Reply::Bulk(b"0".to_vec()),
            Reply::Array(vec![Reply::Bulk(b"a".to_vec()), Reply::Nil]),
        ])
    );
}

#[test]
fn pipelined_replies_are_taken_one_at_a_time() {
    let wire = b"+OK\r\n:1\r\n$2\r\nhi\r\n";
    let (first, n) = decode(wire).unwrap().unwrap();
    assert_eq!((first, n), (Reply::Simple(b"OK".to_vec()), 5));
    let (second, m) = decode(&wire[n..]).unwrap().unwrap();
    assert_eq!((second, m), (Reply::Integer(1), 4));
    assert_eq!(one(&wire[n + m..]), Reply::Bulk(b"hi".to_vec()));
}

#[test]
fn every_prefix_of_a_reply_asks_for_more() {
    let wire = b"*3\r\n+OK\r\n$11\r\nhello world\r\n*2\r\n:7\r\n$-1\r\n";
    for cut in 0..wire.len() {
        assert_eq!(decode(&wire[..cut]), Ok(None), "cut at {cut}");
    }
    assert!(matches!(one(wire), Reply::Array(items) if items.len() == 3));
}

#[test]
fn malformed_replies_are_errors() {
    for bad in [
        &b"?x\r\n"[..],
        b"+OK\n",
        b"+O\rK\r\n",
        b":12a\r\n",
        b":\r\n",
        b":+1\r\n",
        b": 1\r\n",
        b":99999999999999999999\r\n",
        b"$-2\r\n",
        b"$3\r\nabcd\r\n",
        b"$3\r\nabc\rX",
        b"*-5\r\n",
        b"*1\r\n?\r\n",
    ] {
        assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn oversize_replies_are_refused_before_they_arrive() {
    // A bulk length over the cap is refused at its header, with no byte of it sent.
    let header = format!("${}\r\n", MAX_BULK + 1);
    assert_eq!(
        decode(header.as_bytes()),
        Err(ProtocolError("length over the limit"))
    );
    let at_cap = format!("${MAX_BULK}\r\n");
    assert_eq!(decode(at_cap.as_bytes()), Ok(None));
    let huge = format!("*{}\r\n", MAX_ELEMENTS + 1);
    assert!(decode(huge.as_bytes()).is_err());
    // A line that never ends.
    assert_eq!(
        decode(&[b'+'; MAX_LINE + 8]),
        Err(ProtocolError("line too long"))
    );
    // Many bulk strings, each under the cap, adding up to more than a reply may take.
    let mut wire = format!("*{MAX_ELEMENTS}\r\n").into_bytes();
    let chunk = format!("${}\r\n{}\r\n", MAX_BULK, "x".repeat(MAX_BULK));
    while wire.len() <= MAX_REPLY {
        wire.extend_from_slice(chunk.as_bytes());
    }
    assert_eq!(decode(&wire), Err(ProtocolError("reply too long")));
}

#[test]
fn deep_nesting_is_refused() {
    let nested = |depth: usize| {
        let mut wire = b"*1\r\n".repeat(depth);
        wire.extend_from_slice(b":1\r\n");
        wire
    };
    assert!(decode(&nested(MAX_DEPTH)).unwrap().is_some());
    assert_eq!(
        decode(&nested(MAX_DEPTH + 1)),
        Err(ProtocolError("arrays nested too deep"))
    );
    // Far deeper than the stack could take if it recursed: still just an error.
    assert!(decode(&nested(100_000)).is_err());
}

#[test]
fn a_large_element_count_allocates_nothing_until_the_elements_arrive() {
    // 8,000 elements announced, none sent: more input is needed, and no 8,000-slot vector.
    assert_eq!(decode(format!("*{MAX_ELEMENTS}\r\n").as_bytes()), Ok(None));
}
