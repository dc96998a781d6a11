//! Cleartext phase of a TCP connection: what was spoken before TLS started
//! (or instead of TLS). Detects the plaintext protocol on both sides, follows
//! STARTTLS-style upgrades (including MySQL's SSL request, HTTP `Upgrade: TLS/1.0` and
//! RDP's X.224 negotiation), HTTP CONNECT and SOCKS
//! tunnels to find the exact byte
//! where TLS begins, and notes credentials sent in the clear (never the secret).
//!
//! [`Preamble`] frames each direction into units (lines, XML tags, BER, PostgreSQL, MySQL
//! or SOCKS messages) and hands every complete unit to the protocol it belongs to, one file
//! per protocol behind the `Upgrade` trait; `detect` names the protocols.
//!
//! Memory is bounded: each direction keeps at most `HEAD_LEN` bytes of
//! evidence and one partial protocol unit of at most `UNIT_CAP` bytes, and
//! parsing stops after `PARSE_BUDGET` bytes when nothing is pending.

use serde::{Serialize, Serializer};

use crate::model::{Dir, FrameNo, TimestampUs};

mod detect;
mod ftp;
mod http;
mod imap;
mod irc;
mod ldap;
mod lines;
mod mysql;
mod pop3;
mod postgres;
mod rdp;
mod sasl;
mod session;
mod smtp;
mod socks;
#[cfg(test)]
mod tests;
mod xmpp;

pub use detect::{detect_client_protocol, detect_server_banner, looks_like_tls};
pub use lines::escape_bytes;

use detect::tls_start_plausible;
use ftp::Ftp;
use http::Http;
use imap::Imap;
use irc::Irc;
use ldap::Ldap;
use lines::trim_eol;
use mysql::Mysql;
use pop3::Pop3;
use postgres::Postgres;
use rdp::Rdp;
use session::{Framing, Mode, Session};
use smtp::Smtp;
use socks::Socks;
use xmpp::Xmpp;

/// Bytes kept for the `first_bytes` evidence.
const HEAD_LEN: usize = 64;
/// Largest partial line / XML element / BER message buffered per direction.
const UNIT_CAP: usize = 4096;
/// Cleartext bytes per direction worth parsing when no upgrade is pending:
/// upgrades and logins happen early, bulk plaintext afterwards is not ours.
const PARSE_BUDGET: usize = 64 * 1024;
/// Longest escaped response line / reason phrase / target kept.
const TEXT_CAP: usize = 128;

// ---------------------------------------------------------------------------
// Public types

/// Application protocol spoken in cleartext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppProtocol {
    Http,
    Smtp,
    Imap,
    Pop3,
    Ftp,
    Ssh,
    Xmpp,
    Ldap,
    Postgres,
    Irc,
    Mysql,
    Socks,
    Rdp,
    Unknown,
}

impl AppProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            AppProtocol::Http => "http",
            AppProtocol::Smtp => "smtp",
            AppProtocol::Imap => "imap",
            AppProtocol::Pop3 => "pop3",
            AppProtocol::Ftp => "ftp",
            AppProtocol::Ssh => "ssh",
            AppProtocol::Xmpp => "xmpp",
            AppProtocol::Ldap => "ldap",
            AppProtocol::Postgres => "postgres",
            AppProtocol::Irc => "irc",
            AppProtocol::Mysql => "mysql",
            AppProtocol::Socks => "socks",
            AppProtocol::Rdp => "rdp",
            AppProtocol::Unknown => "unknown",
        }
    }
}

/// How TLS was reached when it did not start on the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    StartTls(AppProtocol),
    HttpConnect,
    /// A SOCKS4, SOCKS4a or SOCKS5 CONNECT that succeeded.
    Socks,
}

impl Via {
    /// The `via` value of the output contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::StartTls(_) => "starttls",
            Via::HttpConnect => "connect_proxy",
            Via::Socks => "socks_proxy",
        }
    }
}

impl Serialize for Via {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartTlsResult {
    Ok,
    Refused,
    /// The server's greeting does not offer TLS at all (MySQL without CLIENT_SSL), so
    /// a client that requires TLS gives up without asking.
    NotOffered,
    /// No answer seen (yet); TLS may still have followed on a one-sided capture.
    Pending,
}

impl StartTlsResult {
    pub fn as_str(self) -> &'static str {
        match self {
            StartTlsResult::Ok => "ok",
            StartTlsResult::Refused => "refused",
            StartTlsResult::NotOffered => "not_offered",
            StartTlsResult::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartTls {
    pub protocol: AppProtocol,
    pub command_frame: FrameNo,
    pub response_frame: Option<FrameNo>,
    pub result: StartTlsResult,
    /// Escaped first line of the server's answer.
    pub response: Option<String>,
}

/// Which proxy protocol asked for a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyProtocol {
    HttpConnect,
    Socks4,
    Socks5,
}

impl ProxyProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyProtocol::HttpConnect => "http_connect",
            ProxyProtocol::Socks4 => "socks4",
            ProxyProtocol::Socks5 => "socks5",
        }
    }
}

/// A tunnel request to a proxy: HTTP CONNECT or SOCKS CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectRequest {
    pub proxy: ProxyProtocol,
    pub target: String,
    pub request_frame: FrameNo,
    /// The HTTP status, or the SOCKS reply code (SOCKS5 0 and SOCKS4 90 are success).
    pub status: Option<u16>,
    pub response_frame: Option<FrameNo>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    pub protocol: AppProtocol,
    /// Only ever built from fixed strings, so no client byte can leak into it.
    pub mechanism: String,
    pub frame: FrameNo,
    pub dir: Dir,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PreambleFacts {
    pub client_protocol: Option<AppProtocol>,
    pub server_protocol: Option<AppProtocol>,
    pub client_first_bytes: Option<(String, FrameNo)>,
    pub server_first_bytes: Option<(String, FrameNo)>,
    pub starttls: Option<StartTls>,
    pub connect: Option<ConnectRequest>,
    pub credentials: Vec<Credential>,
    pub via: Option<Via>,
}

/// Result of [`Preamble::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feed {
    /// Bytes of `data` that were cleartext (all of them unless `tls_starts`).
    pub consumed: usize,
    /// `data[consumed..]` and everything after it is TLS.
    pub tls_starts: bool,
}

// ---------------------------------------------------------------------------
// Dispatch

/// One cleartext protocol's reading of complete units (a line without its end, an
/// XML tag, a BER or PostgreSQL message). State a protocol needs across units lives
/// in the implementing type; what all share lives in [`Session`].
trait Upgrade {
    fn client(&mut self, s: &mut Session, unit: &[u8], frame: FrameNo);
    /// True when TLS starts right after this unit.
    fn server(&mut self, s: &mut Session, unit: &[u8], frame: FrameNo) -> bool;
}

/// Cleartext-phase tracker for one TCP connection.
#[derive(Debug)]
pub struct Preamble {
    session: Session,
    http: Http,
    smtp: Smtp,
    postgres: Postgres,
    mysql: Mysql,
}

impl Preamble {
    pub fn new(server_port: u16) -> Self {
        Preamble {
            session: Session::new(server_port),
            http: Http::default(),
            smtp: Smtp::default(),
            postgres: Postgres::default(),
            mysql: Mysql::default(),
        }
    }

    pub fn facts(&self) -> &PreambleFacts {
        &self.session.facts
    }

    /// True once `dir` carries TLS. After a switch triggered by one side, the
    /// other side may still owe a cleartext answer (a CONNECT response or
    /// STARTTLS reply that arrives after the client's pipelined ClientHello,
    /// or a plaintext server answering a ClientHello). A caller that wants
    /// that answer keeps feeding that direction until `feed` reports
    /// `tls_starts` for it; a simpler caller may switch both directions at once.
    pub fn is_tls(&self, dir: Dir) -> bool {
        self.session.dirs[dir.index()].mode == Mode::Tls
    }

    /// Feeds cleartext bytes of one direction in stream order.
    pub fn feed(&mut self, dir: Dir, data: &[u8], frame: FrameNo, _ts_us: TimestampUs) -> Feed {
        let d = dir.index();
        let s = &mut self.session;
        if s.dirs[d].mode == Mode::Tls {
            return Feed {
                consumed: 0,
                tls_starts: true,
            };
        }
        let was_empty = s.dirs[d].head.is_empty();
        let head_before = s.dirs[d].head.len();
        let base = s.dirs[d].pos;
        // Checked before the bytes join the cleartext evidence: a TLS flow (the common
        // case) then never builds any.
        if was_empty && !data.is_empty() && tls_start_plausible(dir, data) {
            return self.switch_at(dir, false, head_before, 0);
        }
        if !s.dirs[d].head_frozen && s.dirs[d].head.len() < HEAD_LEN && !data.is_empty() {
            let n = (HEAD_LEN - s.dirs[d].head.len()).min(data.len());
            s.dirs[d].head.extend_from_slice(&data[..n]);
            if s.dirs[d].head_frame.is_none() {
                s.dirs[d].head_frame = Some(frame);
            }
            s.refresh_detection();
        }
        let mut i = 0;
        while i < data.len() {
            let s = &mut self.session;
            let st = &mut s.dirs[d];
            if st.mode == Mode::Ignore {
                break;
            }
            if st.skip > 0 {
                let n = st.skip.min(data.len() - i);
                st.skip -= n;
                st.parsed += n;
                i += n;
                continue;
            }
            if st.unit.is_empty() {
                if st.framing == Some(Framing::Xml) && data[i].is_ascii_whitespace() {
                    i += 1;
                    continue;
                }
                let may_tls = st.sniff || (dir == Dir::ToServer && s.client_may_start_tls);
                if may_tls && tls_start_plausible(dir, &data[i..]) {
                    self.client_tls_without_answer(dir);
                    return self.switch_at(dir, false, head_before, i);
                }
                let pending_something = s.pending.is_some() || self.http.connect_pending();
                let st = &mut s.dirs[d];
                if st.parsed > PARSE_BUDGET && !pending_something {
                    st.mode = Mode::Ignore;
                    break;
                }
                st.unit_frame = frame;
                st.unit_start = base + i;
                if st.framing.is_none() {
                    let f = s.pick_framing(dir, data[i]);
                    s.dirs[d].framing = Some(f);
                }
            }
            let st = &mut s.dirs[d];
            let (n, complete) = st.take_unit(&data[i..]);
            i += n;
            st.parsed += n;
            if !complete {
                continue;
            }
            let unit = std::mem::take(&mut st.unit);
            let unit_frame = st.unit_frame;
            let switch = match dir {
                Dir::ToServer => {
                    self.client_unit(&unit, unit_frame);
                    false
                }
                Dir::ToClient => self.server_unit(&unit, unit_frame),
            };
            if switch {
                return self.switch_at(dir, true, head_before, i);
            }
        }
        let s = &mut self.session;
        s.dirs[d].pos = base + data.len();
        // A unit still in progress may be a credential line cut short; keep
        // it out of the evidence until it is complete and checked.
        if s.dirs[d].shown_len() != s.dirs[d].shown {
            s.refresh_detection();
        }
        Feed {
            consumed: data.len(),
            tls_starts: false,
        }
    }

    /// A complete client unit goes to the protocol its framing implies, or for
    /// lines, the detected one.
    fn client_unit(&mut self, unit: &[u8], frame: FrameNo) {
        let s = &mut self.session;
        match s.dirs[Dir::ToServer.index()].framing {
            Some(Framing::Xml) => Xmpp.client(s, unit, frame),
            Some(Framing::Ber) => Ldap.client(s, unit, frame),
            Some(Framing::PgClient) => self.postgres.client(s, unit, frame),
            Some(Framing::Mysql) => self.mysql.client(s, unit, frame),
            Some(Framing::Socks(_)) => Socks.client(s, unit, frame),
            Some(Framing::Tpkt) => Rdp.client(s, unit, frame),
            _ => {
                let line = trim_eol(unit);
                if s.proto == AppProtocol::Http || self.http.in_request() {
                    return self.http.client(s, line, frame);
                }
                match s.proto {
                    AppProtocol::Smtp => self.smtp.client(s, line, frame),
                    AppProtocol::Pop3 => Pop3.client(s, line, frame),
                    AppProtocol::Ftp => Ftp.client(s, line, frame),
                    AppProtocol::Imap => Imap.client(s, line, frame),
                    AppProtocol::Irc => Irc.client(s, line, frame),
                    _ => {}
                }
            }
        }
    }

    /// Returns true when TLS starts right after this unit.
    fn server_unit(&mut self, unit: &[u8], frame: FrameNo) -> bool {
        let s = &mut self.session;
        match s.dirs[Dir::ToClient.index()].framing {
            Some(Framing::Xml) => Xmpp.server(s, unit, frame),
            Some(Framing::Ber) => Ldap.server(s, unit, frame),
            Some(Framing::PgServer) => self.postgres.server(s, unit, frame),
            Some(Framing::Mysql) => self.mysql.server(s, unit, frame),
            Some(Framing::Socks(_)) => Socks.server(s, unit, frame),
            Some(Framing::Tpkt) => Rdp.server(s, unit, frame),
            _ => {
                let line = trim_eol(unit);
                if self.http.in_connect_response() {
                    return self.http.server(s, line, frame);
                }
                match s.proto {
                    // Replies are counted from the greeting on, pending upgrade or not.
                    AppProtocol::Smtp => self.smtp.server(s, line, frame),
                    AppProtocol::Pop3 => Pop3.server(s, line, frame),
                    AppProtocol::Ftp => Ftp.server(s, line, frame),
                    // Otherwise only an answer to the upgrade the client asked for matters.
                    _ if s.pending.is_none() => false,
                    _ => match s.facts.starttls.as_ref().map(|t| t.protocol) {
                        Some(AppProtocol::Imap) => Imap.server(s, line, frame),
                        Some(AppProtocol::Irc) => Irc.server(s, line, frame),
                        _ => false,
                    },
                }
            }
        }
    }

    /// The client sent TLS while an upgrade was still unanswered (one-sided
    /// capture, or a ClientHello pipelined behind CONNECT).
    fn client_tls_without_answer(&mut self, dir: Dir) {
        if dir != Dir::ToServer {
            return;
        }
        let s = &mut self.session;
        let socks = s
            .facts
            .connect
            .as_ref()
            .is_some_and(|c| c.proxy != ProxyProtocol::HttpConnect);
        if socks && s.client_may_start_tls {
            s.facts.via = Some(Via::Socks);
        } else if self.http.connect_pending() || s.facts.connect.is_some() && s.client_may_start_tls
        {
            s.facts.via = Some(Via::HttpConnect);
        } else if let Some(t) = &s.facts.starttls {
            if t.result != StartTlsResult::Refused {
                s.facts.via = Some(Via::StartTls(t.protocol));
            }
        }
    }

    /// Switches `dir` to TLS at `data[consumed..]`; the first-bytes evidence
    /// keeps only the cleartext part.
    fn switch_at(&mut self, dir: Dir, answered: bool, head_before: usize, consumed: usize) -> Feed {
        let s = &mut self.session;
        let st = s.dir(dir);
        st.pos = st.pos.saturating_add(consumed);
        st.head.truncate(head_before.saturating_add(consumed));
        if st.head.is_empty() {
            st.head_frame = None;
        }
        // `answered`: the switch follows the other side's positive answer, so
        // both directions are TLS from here; otherwise the other side may still
        // owe cleartext and is sniffed.
        st.mode = Mode::Tls;
        st.unit.clear();
        let other = s.dir(dir.reverse());
        if answered {
            other.mode = Mode::Tls;
            other.unit.clear();
            other.skip = 0;
        } else if other.mode == Mode::Cleartext {
            other.sniff = true;
        }
        s.client_may_start_tls = false;
        s.refresh_detection();
        Feed {
            consumed,
            tls_starts: true,
        }
    }
}
