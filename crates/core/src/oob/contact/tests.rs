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
        ("fax:+15550100", UnknownChannel),
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
    assert_eq!(d.push_value("fax:1"), Err(ContactError::UnknownChannel));
}

#[test]
fn phone_and_app_contacts_parse_strictly() {
    use ContactError::*;
    let token = format!("fcm:{}", "dGVzdA-_:".repeat(16));
    for value in [
        "sms:+233241234567",
        "voice:+4930123456",
        "sms:+6834001",
        &token,
    ] {
        assert_eq!(Contact::parse(value).unwrap().to_value(), value);
    }
    let cases: &[(&str, ContactError)] = &[
        ("sms:", Empty),
        ("sms:233241234567", BadPhone),
        ("sms:+0233241234567", BadPhone),
        ("sms:+233 24 123 4567", BadPhone),
        ("sms:+23324123456789012", BadPhone),
        ("sms:+123456", BadPhone),
        ("voice:+1-555-0100-99", BadPhone),
        ("sms:+٢٣٣٢٤١٢٣٤٥٦٧", BadPhone),
        ("fcm:short", BadToken),
        ("fcm:has space in it and is long enough to count", BadToken),
        (
            "fcm:has/a/slash/and/is/long/enough/to/count/as/one",
            BadToken,
        ),
    ];
    for (value, want) in cases {
        assert_eq!(Contact::parse(value), Err(*want), "{value:?}");
    }
    let long_token = format!("fcm:{}", "t".repeat(257));
    assert_eq!(Contact::parse(&long_token), Err(BadToken));
}

#[test]
fn written_numbers_are_normalised_to_e164() {
    for (written, want) in [
        ("sms:+233 24 123 4567", "sms:+233241234567"),
        ("sms:00233-24-123-4567", "sms:+233241234567"),
        ("voice:+1 (555) 010.0199", "voice:+15550100199"),
        ("  sms:+44 20 7946 0958 ", "sms:+442079460958"),
        ("email:alice@example.org", "email:alice@example.org"),
    ] {
        assert_eq!(Contact::parse_written(written).unwrap().to_value(), want);
    }
    assert_eq!(
        Contact::parse_written("sms:024 123 4567"),
        Err(ContactError::NoCountryCode)
    );
    assert_eq!(
        Contact::parse_written("sms:+44 20 79x6"),
        Err(ContactError::BadPhone)
    );
    assert_eq!(
        Contact::parse_written("sms:call me"),
        Err(ContactError::BadPhone)
    );
}

#[test]
fn phone_and_app_masks_show_little() {
    let m = |v: &str| Contact::parse(v).unwrap().masked();
    assert_eq!(m("sms:+233241234567"), "SMS to •••67");
    assert_eq!(m("voice:+233241234567"), "call to •••67");
    let token = format!("fcm:{}", "a".repeat(64));
    assert_eq!(m(&token), "app •••");
    let debug = format!("{:?}", Contact::parse("sms:+233241234567").unwrap());
    assert!(!debug.contains("2412345"), "{debug}");
}

#[test]
fn every_channel_spells_back() {
    for channel in Channel::ALL {
        assert_eq!(Channel::from_name(channel.name()), Some(channel));
    }
}
