use super::*;

#[test]
fn the_three_channels_parse_and_spell_back() {
    for value in [
        "email:alice@example.org",
        "email:a.b+otp@mail.example.co.uk",
        "email:root@localhost",
        "ntfy:alice-otp_2",
        "webhook:user-42@team",
    ] {
        let contact = Contact::parse(value).unwrap();
        assert_eq!(contact.to_value(), value);
    }
    let c = Contact::parse("ntfy:alice-otp").unwrap();
    assert_eq!(c.channel(), Channel::Ntfy);
    assert_eq!(c.address(), "alice-otp");
}

#[test]
fn bad_values_are_refused_with_their_reason() {
    use ContactError::*;
    let long_local = format!("email:{}@example.org", "a".repeat(65));
    let long_label = format!("email:a@{}.org", "b".repeat(64));
    let long_topic = format!("ntfy:{}", "t".repeat(65));
    let long_id = format!("webhook:{}", "w".repeat(129));
    let huge = format!("email:{}", "a".repeat(400));
    let cases: &[(&str, ContactError)] = &[
        ("", NoChannel),
        ("alice@example.org", NoChannel),
        ("sms:+15550100", UnknownChannel),
        ("Email:alice@example.org", UnknownChannel),
        (" email:alice@example.org", UnknownChannel),
        ("email:", Empty),
        ("ntfy:", Empty),
        ("email:alice", BadEmail),
        ("email:@example.org", BadEmail),
        ("email:alice@", BadEmail),
        ("email:al ice@example.org", BadEmail),
        ("email:alice@example.org ", BadEmail),
        ("email:\"al\"@example.org", BadEmail),
        ("email:a..b@example.org", BadEmail),
        ("email:.a@example.org", BadEmail),
        ("email:a@b@example.org", BadEmail),
        ("email:a@-example.org", BadEmail),
        ("email:a@example..org", BadEmail),
        ("email:a@[127.0.0.1]", BadEmail),
        ("email:a@exa_mple.org", BadEmail),
        ("email:alice@example.org\n", BadEmail),
        ("email:ålice@example.org", BadEmail),
        (&long_local, BadEmail),
        (&long_label, BadEmail),
        ("ntfy:alice.otp", BadTopic),
        ("ntfy:alice/otp", BadTopic),
        ("ntfy:a b", BadTopic),
        (&long_topic, BadTopic),
        ("webhook:a b", BadRecipient),
        ("webhook:a/b", BadRecipient),
        ("webhook:a\"b", BadRecipient),
        (&long_id, BadRecipient),
        (&huge, TooLong),
    ];
    for (value, want) in cases {
        assert_eq!(Contact::parse(value), Err(*want), "{value:?}");
    }
}

#[test]
fn masks_show_little() {
    let m = |v: &str| Contact::parse(v).unwrap().masked();
    assert_eq!(m("email:alice@example.org"), "a•••@example.org");
    assert_eq!(m("email:a@example.org"), "a•••@example.org");
    assert_eq!(m("ntfy:alice-otp-topic"), "ntfy topic ali•••");
    assert_eq!(m("ntfy:abcdefgh"), "ntfy topic ab•••");
    assert_eq!(m("ntfy:ab"), "ntfy topic a•••");
    assert_eq!(m("webhook:u42"), "webhook u•••");
    // Debug output (which may end up in a log) is masked too.
    let debug = format!("{:?}", Contact::parse("email:alice@example.org").unwrap());
    assert!(!debug.contains("alice"), "{debug}");
}

#[test]
fn several_lines_bounded_and_not_repeated() {
    let mut d = Deliveries::new();
    assert!(d.is_empty());
    d.push_value("email:alice@example.org").unwrap();
    d.push_value("ntfy:alice-otp").unwrap();
    assert_eq!(
        d.push_value("email:alice@example.org"),
        Err(ContactError::Repeated)
    );
    d.push_value("webhook:alice").unwrap();
    d.push_value("email:alice@work.example").unwrap();
    assert_eq!(d.push_value("ntfy:another"), Err(ContactError::TooMany));
    assert_eq!(d.contacts().len(), MAX_DELIVERIES);
    assert_eq!(d.contacts()[0].channel(), Channel::Email);
    assert_eq!(d.push_value("sms:1"), Err(ContactError::UnknownChannel));
}
