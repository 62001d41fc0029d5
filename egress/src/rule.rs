//! One entry of `egress.allow`: a class of addresses by name (`"loopback"`) or a network
//! (`"10.20.0.0/16"`, `"fd00:1::/48"`, or a single address).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::class::{Class, effective};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Allow {
    Class(Class),
    Network(IpNet),
}

impl Allow {
    /// Whether this entry lets a connection to `address` (of class `class`) through. A
    /// network matches the address as given and the address it effectively reaches, so
    /// `10.0.0.0/8` also covers `::ffff:10.1.2.3`.
    pub fn admits(&self, address: IpAddr, class: Class) -> bool {
        match self {
            Allow::Class(allowed) => *allowed == class,
            Allow::Network(network) => {
                network.contains(&address) || network.contains(&effective(address))
            }
        }
    }
}

/// Why an `egress.allow` entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "egress.allow entry {entry:?} is neither an address class ({}) nor a network such as 10.0.0.0/8",
    Class::ALL.map(Class::name).join(", ")
)]
pub struct InvalidAllow {
    pub entry: String,
}

impl FromStr for Allow {
    type Err = InvalidAllow;

    fn from_str(text: &str) -> Result<Allow, InvalidAllow> {
        if let Some(class) = Class::parse(text) {
            return Ok(Allow::Class(class));
        }
        if let Ok(network) = text.parse::<IpNet>() {
            return Ok(Allow::Network(network));
        }
        if let Ok(address) = text.parse::<IpAddr>() {
            return Ok(Allow::Network(IpNet::from(address)));
        }
        Err(InvalidAllow {
            entry: text.to_owned(),
        })
    }
}

impl TryFrom<String> for Allow {
    type Error = InvalidAllow;

    fn try_from(text: String) -> Result<Allow, InvalidAllow> {
        text.parse()
    }
}

impl From<Allow> for String {
    fn from(allow: Allow) -> String {
        allow.to_string()
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allow::Class(class) => class.fmt(formatter),
            Allow::Network(network) => network.fmt(formatter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_as_classes_networks_or_addresses() {
        let table = [
            ("loopback", "loopback"),
            ("link_local", "link_local"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("fd00:1::/48", "fd00:1::/48"),
            ("192.168.1.10", "192.168.1.10/32"),
            ("::1", "::1/128"),
        ];
        for (text, shown) in table {
            let allow: Allow = text.parse().unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(allow.to_string(), shown);
        }
        for bad in ["", "localhost", "10.0.0.0/33", "Loopback", "any"] {
            let error = bad.parse::<Allow>().expect_err(bad);
            assert!(
                error.to_string().contains("loopback, link_local"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_network_covers_the_mapped_form_of_its_addresses() {
        let allow: Allow = "10.0.0.0/8".parse().expect("network");
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("address");
        assert!(allow.admits(mapped, Class::Private));
        let other: IpAddr = "::ffff:192.168.0.1".parse().expect("address");
        assert!(!allow.admits(other, Class::Private));
    }
}
