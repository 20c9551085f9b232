//! Several tokens of one file used in turn: none of them loses its history.

use super::*;

fn used(n: u8) -> History {
    History {
        last_step: Some(u64::from(n)),
        ..History::fresh([n; 8])
    }
}

#[test]
fn tokens_of_the_file_keep_their_history_over_retired_secrets() {
    let mut s = State::default();
    // Five old secrets, used after the token 10 was last used.
    let tokens: Vec<[u8; 8]> = (10..10 + MAX_SECRETS as u8).map(|n| [n; 8]).collect();
    s.remember_keeping(used(10), &tokens);
    for n in 1..MAX_SECRETS as u8 {
        s.remember_keeping(used(n), &tokens);
    }
    // Now every token of the file, in turn, several rounds.
    for _ in 0..3 {
        for n in 10..10 + MAX_SECRETS as u8 {
            s.remember_keeping(used(n), &tokens);
        }
    }
    for id in &tokens {
        assert_eq!(s.known(*id), Known::Kept, "{id:?}");
    }
    for n in 1..MAX_SECRETS as u8 {
        assert_eq!(s.known([n; 8]), Known::Forgotten, "{n}");
    }
    // Plain `remember` would have dropped token 10 first (least recently used).
    let mut plain = State::default();
    plain.remember(used(10));
    for n in 1..MAX_SECRETS as u8 {
        plain.remember(used(n));
    }
    plain.remember(used(11));
    assert_eq!(plain.known([10; 8]), Known::Forgotten);
}
