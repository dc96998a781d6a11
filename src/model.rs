//! Small types shared by several pipeline stages.

use serde::Serialize;

/// Capture time in microseconds since the Unix epoch (nanosecond captures are truncated).
pub type TimestampUs = i64;

/// 1-based frame number, counted as Wireshark counts them in the same file.
pub type FrameNo = u64;

/// Direction of a byte stream within a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    /// From the client (connection initiator) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Dir {
    pub fn reverse(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
    /// The side that sends in this direction.
    pub fn sender(self) -> Side {
        match self {
            Dir::ToServer => Side::Client,
            Dir::ToClient => Side::Server,
        }
    }
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
}

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}
