//! Files with several named tokens: parsing (strictly), writing, adding and removing.

use super::*;

const A: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // "12345678901234567890"
const B: &str = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"; // "abcdefghijklmnopqrst"
const C: &str = "KRUGS4ZANFZSAYJAONSWG4TFOQQGW2LK"; // "This is a secret kij"

fn parse(text: &str) -> Result<SecretFile, SecretFileError> {
    SecretFile::parse(text.as_bytes())
}

fn keyed(n: u8) -> String {
    encode_base32(&[n; 20]).to_string()
}

#[test]
fn a_file_without_token_lines_has_the_default_token_only() {
    let f = parse(&format!("secret = {A}\n")).unwrap();
    assert!(f.named.is_empty());
    let tokens = f.tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].name, DEFAULT_TOKEN);
    assert_eq!(tokens[0].key, b"12345678901234567890");
}

#[test]
fn each_token_has_its_own_parameters() {
    let text = format!(
        "secret = {A}\nrecovery = {}\n\ntoken = spare\ntype = hotp\ncounter = 9\nalgorithm = sha256\ndigits = 8\nsecret = {B}\n\ntoken = yubi-2.x_y\nperiod = 60\nsecret = {C}\n",
        RecoveryHash::new([1; 16], b"aaaabbbbcccc").encode()
    );
    let f = parse(&text).unwrap();
    assert_eq!(f.kind, Kind::Totp { period: 30 });
    assert_eq!(f.recovery.len(), 1);
    let names: Vec<&str> = f.tokens().iter().map(|t| t.name).collect();
    assert_eq!(names, ["default", "spare", "yubi-2.x_y"]);
    let spare = f.token("spare").unwrap();
    assert_eq!(spare.kind, Kind::Hotp { counter: 9 });
    assert_eq!(spare.algorithm, Algorithm::Sha256);
    assert_eq!(spare.digits, 8);
    assert_eq!(spare.key, b"abcdefghijklmnopqrst");
    // Parameters do not carry over from one block to the next.
    let third = f.token("yubi-2.x_y").unwrap();
    assert_eq!(third.kind, Kind::Totp { period: 60 });
    assert_eq!(third.algorithm, Algorithm::Sha1);
    assert_eq!(third.digits, 6);
    // Written and read back: the same file.
    assert_eq!(SecretFile::parse(&f.to_bytes()).unwrap(), f);
}

#[test]
fn token_sections_are_strict() {
    let s = format!("secret = {A}\n");
    let cases: Vec<(String, SecretFileError)> = vec![
        (
            format!("{s}token = spare\nsecret = {B}\ntoken = spare\nsecret = {C}\n"),
            SecretFileError::DuplicateToken { line: 4 },
        ),
        (
            format!("{s}token = spare\nsecret = {B}\ncolour = blue\n"),
            SecretFileError::UnknownKey {
                line: 4,
                key: "colour".into(),
            },
        ),
        (
            format!("{s}token = spare\nsecret = {B}\ndigits = 6\ndigits = 7\n"),
            SecretFileError::Repeated {
                line: 5,
                key: "digits",
            },
        ),
        (
            format!("{s}token =\nsecret = {B}\n"),
            SecretFileError::BadValue {
                line: 2,
                key: "token",
            },
        ),
        (
            format!("{s}token = my phone\nsecret = {B}\n"),
            SecretFileError::BadValue {
                line: 2,
                key: "token",
            },
        ),
        (
            format!("{s}token = ph/one\nsecret = {B}\n"),
            SecretFileError::BadValue {
                line: 2,
                key: "token",
            },
        ),
        (
            format!(
                "{s}token = {}\nsecret = {B}\n",
                "x".repeat(MAX_TOKEN_NAME_LEN + 1)
            ),
            SecretFileError::BadValue {
                line: 2,
                key: "token",
            },
        ),
        (
            format!("{s}token = default\nsecret = {B}\n"),
            SecretFileError::BadValue {
                line: 2,
                key: "token",
            },
        ),
        (
            format!("{s}token = spare\ntype = totp\n"),
            SecretFileError::TokenWithoutSecret { line: 2 },
        ),
        (
            format!("{s}token = spare\nsecret = {A}\n"),
            SecretFileError::DuplicateSecret { line: 2 },
        ),
        (
            format!("{s}token = b\nsecret = {B}\ntoken = c\nsecret = {B}\n"),
            SecretFileError::DuplicateSecret { line: 4 },
        ),
        (
            format!(
                "{s}token = spare\nsecret = {B}\nrecovery = {}\n",
                RecoveryHash::new([1; 16], b"x").encode()
            ),
            SecretFileError::RecoveryInToken { line: 4 },
        ),
        (
            format!("{s}token = spare\ntype = hotp\nperiod = 30\nsecret = {B}\n"),
            SecretFileError::WrongKindKey {
                line: 4,
                key: "period",
            },
        ),
        // The default block still needs its own secret.
        (
            format!("token = spare\nsecret = {B}\n"),
            SecretFileError::MissingSecret,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse(&text), Err(want), "{text:?}");
    }
}

#[test]
fn too_many_tokens_rejected() {
    let mut text = format!("secret = {}\n", keyed(0));
    for n in 1..MAX_TOKENS as u8 {
        text.push_str(&format!("token = t{n}\nsecret = {}\n", keyed(n)));
    }
    assert_eq!(parse(&text).unwrap().tokens().len(), MAX_TOKENS);
    text.push_str(&format!("token = one-more\nsecret = {}\n", keyed(99)));
    assert_eq!(parse(&text), Err(SecretFileError::TooManyTokens));
}

#[test]
fn a_weak_named_token_fails_the_strength_check() {
    let f = parse(&format!(
        "secret = {A}\ntoken = weak\nsecret = GEZDGNBVGY3TQOJQ\n"
    ))
    .unwrap();
    assert_eq!(
        f.check_strength(128),
        Err(SecretFileError::SecretTooShort {
            bits: 80,
            min_bits: 128
        })
    );
}

#[test]
fn adding_and_removing_follow_the_parsers_rules() {
    let mut f = parse(&format!("secret = {}\n", keyed(0))).unwrap();
    let token = |name: &str, n: u8| Token {
        name: name.into(),
        kind: Kind::Totp { period: 30 },
        key: Zeroizing::new(vec![n; 20]),
        algorithm: Algorithm::Sha1,
        digits: 6,
    };
    assert_eq!(f.add_token(token("spare", 1)), Ok(()));
    assert_eq!(f.add_token(token("spare", 2)), Err(TokenError::NameTaken));
    assert_eq!(f.add_token(token("other", 1)), Err(TokenError::SameKey));
    assert_eq!(f.add_token(token("other", 0)), Err(TokenError::SameKey));
    assert_eq!(f.add_token(token("default", 2)), Err(TokenError::BadName));
    assert_eq!(f.add_token(token("", 2)), Err(TokenError::BadName));
    for n in 2..MAX_TOKENS as u8 {
        assert_eq!(f.add_token(token(&format!("t{n}"), n)), Ok(()));
    }
    assert_eq!(f.add_token(token("late", 50)), Err(TokenError::TooMany));
    // What was added is what is read back.
    assert_eq!(SecretFile::parse(&f.to_bytes()).unwrap(), f);

    assert_eq!(f.remove_token("default"), Err(TokenError::IsDefault));
    assert_eq!(f.remove_token("nope"), Err(TokenError::NoSuchToken));
    assert_eq!(f.remove_token("spare").unwrap().name, "spare");
    assert!(f.token("spare").is_none());
    assert_eq!(f.tokens().len(), MAX_TOKENS - 1);
}

#[test]
fn debug_output_hides_every_key() {
    let f = parse(&format!("secret = {A}\ntoken = spare\nsecret = {B}\n")).unwrap();
    let shown = format!("{f:?}");
    assert!(shown.contains("spare"));
    assert!(!shown.contains("abcdef") && !shown.contains(B) && !shown.contains(A));
}
