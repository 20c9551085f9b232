//! A code sent out of band lives in the user's state, so in fleet mode it lives in Redis:
//! the pending code (its salted hash, expiry, send times) survives the round trip through
//! a real `redis-server`, and once one host has accepted it, a second host (its own
//! `RedisStore`, its own connection) refuses the same code as a replay; the send limits
//! count the sends of every host.
//!
//! Through the core's `RedisStore` and the out-of-band rules, as the module's delivery
//! flow uses them.

use pam_otp_core::fleet::redis_store::RedisStore;
use pam_otp_core::fleet::settings::{RedisEndpoint, RedisSettings};
use pam_otp_core::oob::code::{CodeHash, OneTimeCode, OsRandom};
use pam_otp_core::oob::rules::{CodeCheck, OobState, PendingCode, SendDecision, SendLimits};
use pam_otp_core::state::State;
use pam_otp_core::store::{StateKey, StateStore};
use pam_otp_testkit::redis_server::{RedisOptions, RedisServer};

const ALICE: StateKey<'static> = StateKey {
    uid: 1000,
    name: "alice",
};
const T0: u64 = 1_800_000_000;

fn host(server: &RedisServer) -> RedisStore {
    RedisStore::new(RedisSettings::new(RedisEndpoint::Direct(server.addr()))).unwrap()
}

/// One host's check of `typed` at `now`, under the store's transaction, as the module does.
fn check(store: &RedisStore, typed: &[u8], now: u64) -> CodeCheck {
    let mut answer = None;
    store
        .transact(ALICE, &mut |s: &State| {
            let mut next = s.clone();
            let mut oob = next.oob.record.take().unwrap_or_default();
            answer = Some(oob.check(typed, now));
            next.oob.record = Some(oob);
            next
        })
        .unwrap();
    answer.unwrap()
}

#[test]
fn a_delivered_code_survives_redis_and_a_second_host_sees_the_replay() {
    let server = RedisServer::start(RedisOptions::default());
    let first = host(&server);
    let second = host(&server);
    let limits = SendLimits::default();
    let code = OneTimeCode::generate(6, &mut OsRandom).unwrap();
    let hash = CodeHash::new(&code, &mut OsRandom).unwrap();
    let pending = PendingCode::new(hash, 6, T0, 120).unwrap();

    // Host one issues the code under the transaction.
    let mut decision = None;
    first
        .transact(ALICE, &mut |s: &State| {
            let mut next = s.clone();
            let mut oob = next.oob.record.take().unwrap_or_default();
            decision = Some(oob.issue(&limits, pending.clone(), T0));
            next.oob
                .deliveries
                .count(pam_otp_core::oob::contact::Channel::Email, true);
            next.oob.record = Some(oob);
            next
        })
        .unwrap();
    assert_eq!(decision, Some(SendDecision::Now));

    // What Redis holds is the state's own bytes, with the record in it, and no code.
    let read = second.transact(ALICE, &mut |s| s.clone()).unwrap();
    let oob: &OobState = read
        .oob
        .record
        .as_ref()
        .expect("the pending code is in Redis");
    assert_eq!(oob.pending(), Some(&pending));
    assert_eq!(oob.sends(), &[T0]);
    assert_eq!(read.oob.deliveries.email.ok, 1);
    let raw = server.cli(&["HGET", "pam_otp:user:alice", "state"]);
    let digits = std::str::from_utf8(code.as_bytes()).unwrap();
    assert!(!raw.contains(digits), "the code itself is not stored");

    // A wrong code from host two is wrong; the right one is accepted on host two…
    let wrong = if digits == "000000" {
        "000001"
    } else {
        "000000"
    };
    assert_eq!(check(&second, wrong.as_bytes(), T0 + 5), CodeCheck::Wrong);
    assert_eq!(
        check(&second, code.as_bytes(), T0 + 10),
        CodeCheck::Accepted
    );
    // …and refused as a replay on host one, and again on host two.
    assert_eq!(check(&first, code.as_bytes(), T0 + 11), CodeCheck::Replay);
    assert_eq!(check(&second, code.as_bytes(), T0 + 12), CodeCheck::Replay);

    // The send on host one counts toward host two's limit.
    let shared = second.transact(ALICE, &mut |s| s.clone()).unwrap();
    assert_eq!(
        shared.oob.record.unwrap().may_send(&limits, T0 + 20),
        SendDecision::NotBefore(T0 + limits.min_interval_secs)
    );
}
