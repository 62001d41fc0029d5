//! Identifier newtypes. Each parses (and so validates) caller input exactly once, at
//! the edge; inside the system an id is always valid.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A workspace name: 1-63 characters of `[a-z0-9-]`, starting with a letter and not
/// ending with `-`. Workspaces are the namespace of everything else.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    pub const MAX_LEN: usize = crate::names::WORKSPACE.max_len;

    pub fn parse(name: &str) -> Result<Self, Error> {
        let reason = crate::names::check(name, &crate::names::WORKSPACE);
        match reason {
            Some(reason) => Err(Error::InvalidWorkspaceName {
                name: name.to_owned(),
                reason,
            }),
            None => Ok(WorkspaceId(name.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A task id: 128 bits, the proposer's wall-clock milliseconds in the top 48 and
/// randomness below, written as 26 Crockford base32 characters (ULID layout). Ids sort
/// by submission time, which is the order `ListTasks` pages in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId(u128);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl TaskId {
    pub const TEXT_LEN: usize = 26;

    /// Builds an id from the proposer's clock and 80 random bits.
    pub fn new(time_ms: u64, random: u128) -> TaskId {
        let time = u128::from(time_ms & ((1 << 48) - 1));
        TaskId((time << 80) | (random & ((1u128 << 80) - 1)))
    }

    pub const fn from_u128(value: u128) -> TaskId {
        TaskId(value)
    }

    pub fn as_u128(&self) -> u128 {
        self.0
    }

    /// The big-endian bytes: their order is the id's order, so storage keys sort by it.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    pub fn parse(text: &str) -> Result<TaskId, Error> {
        let invalid = |reason| Error::InvalidTaskId {
            value: text.to_owned(),
            reason,
        };
        if text.len() != Self::TEXT_LEN {
            return Err(invalid("must be 26 characters"));
        }
        let mut value: u128 = 0;
        for (position, byte) in text.bytes().enumerate() {
            let digit = decode_crockford(byte).ok_or(invalid("must be Crockford base32"))?;
            // The first character carries only 3 of the 130 encoded bits.
            if position == 0 && digit > 7 {
                return Err(invalid("is out of range"));
            }
            value = (value << 5) | u128::from(digit);
        }
        Ok(TaskId(value))
    }
}

fn decode_crockford(byte: u8) -> Option<u8> {
    let upper = byte.to_ascii_uppercase();
    let upper = match upper {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    CROCKFORD.iter().position(|&c| c == upper).map(|p| p as u8)
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = [0u8; Self::TEXT_LEN];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (Self::TEXT_LEN - 1 - i);
            *slot = CROCKFORD[((self.0 >> shift) & 0x1f) as usize];
        }
        // Every byte comes from the ASCII alphabet above.
        f.write_str(std::str::from_utf8(&out).map_err(|_| std::fmt::Error)?)
    }
}

/// A caller-chosen key that makes a submission idempotent within its workspace:
/// 1-128 printable ASCII characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(key: &str) -> Result<Self, Error> {
        let reason = if key.is_empty() {
            Some("must not be empty")
        } else if key.len() > Self::MAX_LEN {
            Some("must be at most 128 characters")
        } else if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            Some("may contain only printable ASCII")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidIdempotencyKey { reason }),
            None => Ok(IdempotencyKey(key.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who asked for a change: `user/<name>` or `service/<name>` (callers with tokens),
/// `agent/<workspace>/<agent>` (an agent acting in a task), `node/<id>` (a node acting
/// on its own: placement, timeouts) or `system` (the cluster's own records).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Principal(String);

/// What kind of actor a principal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Service,
    Agent,
    Node,
    System,
    /// A workspace's trigger (a schedule) that submits tasks on its own; never a caller.
    Trigger,
    /// Anything else, such as the `anonymous` of logs written before tokens existed.
    Unknown,
}

impl Principal {
    pub const MAX_NAME_LEN: usize = 64;

    /// Parses a principal a token can be issued to: `user/<name>` or `service/<name>`,
    /// the name 1-64 of `a-z 0-9 . _ @ -` starting with a letter or digit.
    pub fn parse(text: &str) -> Result<Principal, Error> {
        let invalid = |reason: &'static str| Error::InvalidPrincipal {
            value: text.to_owned(),
            reason,
        };
        let (kind, name) = text
            .split_once('/')
            .ok_or(invalid("must read user/<name> or service/<name>"))?;
        if kind != "user" && kind != "service" {
            return Err(invalid("must read user/<name> or service/<name>"));
        }
        if name.is_empty() || name.len() > Self::MAX_NAME_LEN {
            return Err(invalid("the name must be 1-64 characters"));
        }
        if !name.as_bytes()[0].is_ascii_alphanumeric()
            || !name.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'@' | b'-')
            })
        {
            return Err(invalid(
                "the name may contain only a-z 0-9 . _ @ - and starts with a letter or digit",
            ));
        }
        Ok(Principal(text.to_owned()))
    }

    /// The principal an agent acts as in its tasks.
    pub fn agent(workspace: &WorkspaceId, agent: &crate::names::AgentName) -> Principal {
        Principal(format!("agent/{workspace}/{agent}"))
    }

    /// The principal a workspace's trigger submits its tasks as.
    pub fn trigger(workspace: &WorkspaceId, name: &str) -> Principal {
        Principal(format!("trigger/{workspace}/{name}"))
    }

    /// The principal under which the cluster records its own changes (membership).
    pub fn system() -> Principal {
        Principal("system".to_owned())
    }

    /// The principal under which a node records what it did on its own: placement,
    /// timeouts, stall marks.
    pub fn node(id: crate::names::NodeId) -> Principal {
        Principal(format!("node/{}", id.0))
    }

    pub fn kind(&self) -> PrincipalKind {
        match self.0.split_once('/') {
            Some(("user", _)) => PrincipalKind::User,
            Some(("service", _)) => PrincipalKind::Service,
            Some(("agent", _)) => PrincipalKind::Agent,
            Some(("node", _)) => PrincipalKind::Node,
            Some(("trigger", _)) => PrincipalKind::Trigger,
            None if self.0 == "system" => PrincipalKind::System,
            _ => PrincipalKind::Unknown,
        }
    }

    /// Whether tokens may name this principal: users and service accounts.
    pub fn holds_tokens(&self) -> bool {
        matches!(self.kind(), PrincipalKind::User | PrincipalKind::Service)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($ty:ty),*) => {$(
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    )*};
}
display_as_str!(WorkspaceId, IdempotencyKey, Principal);

impl std::fmt::Debug for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskId({self})")
    }
}
