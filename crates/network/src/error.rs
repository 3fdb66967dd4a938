//! The crate's error type.

/// Errors of the network crate. Messages carry their context.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A host port is already bound (message is Docker's text).
    #[error("{0}")]
    PortInUse(String),
    /// A requested IP address is already allocated (Docker's text).
    #[error("{0}")]
    AddressInUse(String),
    /// No address is available / the requested address is outside the subnet (Docker's text).
    #[error("{0}")]
    NoAddress(String),
    /// A subnet string could not be parsed.
    #[error("invalid subnet {0:?}")]
    InvalidSubnet(String),
    /// An I/O or system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A netlink request failed.
    #[error("{context}: {source}")]
    Netlink {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: rtnetlink::Error,
    },
    /// An iptables command failed.
    #[error("iptables: {0}")]
    Iptables(String),
    /// Any other failure.
    #[error("{0}")]
    Other(String),
}

impl NetError {
    /// An [`NetError::Io`] with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> NetError {
        NetError::Io {
            context: context.into(),
            source,
        }
    }

    /// An [`NetError::Io`] from a nix errno, with context.
    pub fn errno(context: impl Into<String>, errno: nix::errno::Errno) -> NetError {
        NetError::Io {
            context: context.into(),
            source: std::io::Error::from_raw_os_error(errno as i32),
        }
    }

    /// A [`NetError::Netlink`] with context.
    pub fn netlink(context: impl Into<String>, source: rtnetlink::Error) -> NetError {
        NetError::Netlink {
            context: context.into(),
            source,
        }
    }
}

/// Result of the network crate.
pub type Result<T> = std::result::Result<T, NetError>;
