//! The Redis store leaves no descriptor open: after saves, reads, refused passwords, TLS
//! logins, refused certificates and timeouts, this process's open descriptors are exactly
//! what they were (sshd forks per connection, but a host that keeps the module loaded must
//! not collect sockets). One test in its own binary, so no other test opens files meanwhile.

use std::net::TcpListener;
use std::time::Duration;

use pam_otp_core::fleet::redis_store::RedisStore;
use pam_otp_core::fleet::settings::{HostPort, RedisEndpoint, RedisSettings};
use pam_otp_core::state::State;
use pam_otp_core::store::{StateKey, StateStore};
use pam_otp_testkit::child_process::open_fds;
use pam_otp_testkit::redis_server::{Certs, RedisOptions, RedisServer};
use zeroize::Zeroizing;

#[test]
fn no_descriptor_stays_open_after_redis_transactions() {
    let server = RedisServer::start(RedisOptions {
        password: Some("pw".into()),
        tls: true,
        ..RedisOptions::default()
    });
    let other_ca = Certs::generate(server.dir.path(), "other");
    let direct = |addr: HostPort, password: &str, ca: Option<&std::path::Path>| {
        let mut s = RedisSettings::new(RedisEndpoint::Direct(addr));
        s.password = Some(Zeroizing::new(password.to_string()));
        s.tls = ca.is_some();
        s.ca_file = ca.map(|c| c.to_path_buf());
        s.timeout = Duration::from_millis(30);
        RedisStore::new(s).unwrap()
    };
    let ca = server.certs.as_ref().unwrap().ca.clone();
    let good = direct(server.addr(), "pw", None);
    let wrong = direct(server.addr(), "nope", None);
    let tls = direct(server.tls_addr(), "pw", Some(&ca));
    let untrusted = direct(server.tls_addr(), "pw", Some(&other_ca.ca));
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mute = direct(
        HostPort {
            host: "127.0.0.1".into(),
            port: silent.local_addr().unwrap().port(),
        },
        "pw",
        None,
    );
    let key = StateKey {
        uid: 1,
        name: "alice",
    };
    let mut bump = |s: &State| State {
        failures: s.failures + 1,
        ..s.clone()
    };
    good.transact(key, &mut bump).unwrap();
    let before = open_fds(&[]);
    for _ in 0..20 {
        good.transact(key, &mut bump).unwrap();
        good.inspect(key).unwrap();
        tls.transact(key, &mut bump).unwrap();
        assert!(wrong.transact(key, &mut bump).is_err());
        assert!(untrusted.transact(key, &mut bump).is_err());
        assert!(mute.transact(key, &mut bump).is_err());
    }
    assert_eq!(open_fds(&[]), before);
    assert_eq!(server.cli(&["HGET", "pam_otp:user:alice", "version"]), "41");
}
