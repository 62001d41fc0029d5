//! Address classes: which class each address falls into, IPv4-mapped addresses as the
//! address they carry, and class names that round-trip.

use std::net::IpAddr;

use super::*;

fn address(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|error| panic!("{text} is not an address: {error}"))
}

#[test]
fn addresses_fall_into_their_classes() {
    let table: &[(&str, Option<Class>)] = &[
        // IPv4
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("93.184.215.14", None),
        ("0.0.0.0", Some(Class::Unspecified)),
        ("0.1.2.3", Some(Class::Unspecified)),
        ("127.0.0.1", Some(Class::Loopback)),
        ("127.255.255.254", Some(Class::Loopback)),
        ("169.254.169.254", Some(Class::LinkLocal)),
        ("169.254.0.1", Some(Class::LinkLocal)),
        ("169.253.255.255", None),
        ("169.255.0.1", None),
        ("10.0.0.1", Some(Class::Private)),
        ("10.255.255.255", Some(Class::Private)),
        ("172.16.0.1", Some(Class::Private)),
        ("172.31.255.255", Some(Class::Private)),
        ("172.15.255.255", None),
        ("172.32.0.0", None),
        ("192.168.1.1", Some(Class::Private)),
        ("192.169.0.1", None),
        ("100.64.0.1", Some(Class::Cgnat)),
        ("100.127.255.255", Some(Class::Cgnat)),
        ("100.63.255.255", None),
        ("100.128.0.0", None),
        ("255.255.255.255", Some(Class::Broadcast)),
        ("224.0.0.1", Some(Class::Multicast)),
        ("239.255.255.255", Some(Class::Multicast)),
        ("240.0.0.1", Some(Class::Reserved)),
        ("255.255.255.254", Some(Class::Reserved)),
        ("192.0.0.8", Some(Class::Reserved)),
        ("192.0.2.1", Some(Class::Reserved)),
        ("192.88.99.1", Some(Class::Reserved)),
        ("198.18.0.1", Some(Class::Reserved)),
        ("198.19.255.255", Some(Class::Reserved)),
        ("198.20.0.1", None),
        ("198.51.100.7", Some(Class::Reserved)),
        ("203.0.113.9", Some(Class::Reserved)),
        // IPv6
        ("2606:4700:4700::1111", None),
        ("2001:4860:4860::8888", None),
        ("::", Some(Class::Unspecified)),
        ("::1", Some(Class::Loopback)),
        ("fe80::1", Some(Class::LinkLocal)),
        ("febf:ffff::1", Some(Class::LinkLocal)),
        ("fc00::1", Some(Class::Private)),
        ("fd12:3456:789a::1", Some(Class::Private)),
        ("fec0::1", Some(Class::Private)),
        ("ff02::1", Some(Class::Multicast)),
        ("2001:db8::1", Some(Class::Reserved)),
        ("2001:2::1", Some(Class::Reserved)),
        ("100::1", Some(Class::Reserved)),
        ("::7f00:1", Some(Class::Reserved)),
        ("64:ff9b:1::1", Some(Class::Reserved)),
        // IPv4-mapped IPv6: the IPv4 address decides.
        ("::ffff:169.254.169.254", Some(Class::LinkLocal)),
        ("::ffff:127.0.0.1", Some(Class::Loopback)),
        ("::ffff:10.1.2.3", Some(Class::Private)),
        ("::ffff:0.0.0.0", Some(Class::Unspecified)),
        ("::ffff:8.8.8.8", None),
        // NAT64 (64:ff9b::/96): so does the IPv4 address a gateway would reach.
        ("64:ff9b::a9fe:a9fe", Some(Class::LinkLocal)),
        ("64:ff9b::7f00:1", Some(Class::Loopback)),
        ("64:ff9b::808:808", None),
    ];
    let mut wrong = Vec::new();
    for (text, expected) in table {
        let got = classify(address(text));
        if got != *expected {
            wrong.push(format!("{text}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn mapped_addresses_are_the_ipv4_address_they_carry() {
    assert_eq!(
        effective(address("::ffff:169.254.169.254")),
        address("169.254.169.254")
    );
    assert_eq!(effective(address("64:ff9b::7f00:1")), address("127.0.0.1"));
    assert_eq!(effective(address("2001:db8::1")), address("2001:db8::1"));
    assert_eq!(effective(address("10.0.0.1")), address("10.0.0.1"));
}

#[test]
fn class_names_round_trip() {
    for class in Class::ALL {
        assert_eq!(Class::parse(class.name()), Some(class));
    }
    assert_eq!(Class::parse("link-local"), None);
    assert_eq!(Class::parse("Loopback"), None);
}
