//! What every cleartext protocol shares within one connection: per-direction
//! framing and evidence, the detected protocol, and the bookkeeping of an upgrade
//! (command, answer) and of credentials. Protocol handlers act through [`Session`].

use super::detect::{client_candidates, port_protocol, resolve, server_banner};
use super::lines::{escape_bytes, starts_with_ic, Dialogue};
use super::socks::{self, SocksMsg};
use super::{ldap, mysql, postgres, rdp};
use super::{
    AppProtocol, Credential, PreambleFacts, StartTls, StartTlsResult, Via, HEAD_LEN, TEXT_CAP,
    UNIT_CAP,
};
use crate::model::{Dir, FrameNo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Cleartext,
    Tls,
    /// Cleartext we no longer parse (over a cap, binary body, unknown framing).
    Ignore,
}

/// How a direction's bytes divide into units, chosen from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Line,
    Xml,
    Ber,
    PgClient,
    PgServer,
    /// MySQL/MariaDB packets: 3-byte length, sequence id, payload.
    Mysql,
    /// The SOCKS message this direction owes next (their layout differs by step).
    Socks(SocksMsg),
    /// TPKT-framed X.224 (RDP's negotiation).
    Tpkt,
}

/// How the answer to a pending upgrade is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PendingKey {
    /// Answered by the Nth counted server reply (SMTP, FTP, POP3).
    Reply(u32),
    ImapTag(Vec<u8>),
    LdapId(u32),
    /// Answered by the next matching message (IRC numerics, XMPP, PostgreSQL).
    Next,
}

#[derive(Debug)]
pub(super) struct DirState {
    pub(super) head: Vec<u8>,
    pub(super) head_frame: Option<FrameNo>,
    pub(super) unit: Vec<u8>,
    pub(super) unit_frame: FrameNo,
    pub(super) framing: Option<Framing>,
    pub(super) mode: Mode,
    /// Check for a TLS record at every unit start (set after the other side
    /// switched, so that an answer still owed in cleartext is recognised).
    pub(super) sniff: bool,
    pub(super) skip: usize,
    pub(super) parsed: usize,
    /// Stream offset of the next byte to be fed, and of the current unit.
    pub(super) pos: usize,
    pub(super) unit_start: usize,
    /// Set once a credential was seen: the head must not grow past it.
    pub(super) head_frozen: bool,
    /// Length of the head as last published in the facts.
    pub(super) shown: usize,
}

impl DirState {
    fn new() -> Self {
        DirState {
            head: Vec::new(),
            head_frame: None,
            unit: Vec::new(),
            unit_frame: 0,
            framing: None,
            mode: Mode::Cleartext,
            sniff: false,
            skip: 0,
            parsed: 0,
            pos: 0,
            unit_start: 0,
            head_frozen: false,
            shown: 0,
        }
    }

    /// Moves bytes of the current unit into the unit buffer; returns
    /// (bytes taken, unit complete).
    pub(super) fn take_unit(&mut self, data: &[u8]) -> (usize, bool) {
        let framing = self.framing.unwrap_or(Framing::Line);
        let terminated = |term: u8, st: &mut DirState| {
            let room = UNIT_CAP.saturating_sub(st.unit.len());
            match data.iter().position(|&c| c == term) {
                Some(p) if p < room => {
                    st.unit.extend_from_slice(&data[..=p]);
                    (p + 1, true)
                }
                _ if data.len() < room => {
                    st.unit.extend_from_slice(data);
                    (data.len(), false)
                }
                _ => {
                    st.unit.clear();
                    st.mode = Mode::Ignore;
                    (data.len(), false)
                }
            }
        };
        match framing {
            Framing::Line => terminated(b'\n', self),
            Framing::Xml => terminated(b'>', self),
            Framing::PgServer => {
                self.unit.push(data[0]);
                (1, true)
            }
            Framing::Ber
            | Framing::PgClient
            | Framing::Mysql
            | Framing::Socks(_)
            | Framing::Tpkt => {
                // Grow the header first, then the announced length.
                let mut taken = 0;
                loop {
                    let total = if framing == Framing::Ber {
                        match ldap::ber_header(&self.unit) {
                            Err(()) => {
                                self.mode = Mode::Ignore;
                                return (data.len(), false);
                            }
                            Ok(None) => None,
                            Ok(Some((_, h, l))) => Some(h.saturating_add(l)),
                        }
                    } else if let Framing::Socks(msg) = framing {
                        match socks::message_len(msg, &self.unit) {
                            Err(()) => {
                                self.mode = Mode::Ignore;
                                return (data.len(), false);
                            }
                            Ok(t) => t,
                        }
                    } else if framing == Framing::Tpkt {
                        match rdp::tpkt_len(&self.unit) {
                            Err(()) => {
                                self.mode = Mode::Ignore;
                                return (data.len(), false);
                            }
                            Ok(t) => t,
                        }
                    } else if framing == Framing::Mysql {
                        mysql::packet_len(&self.unit)
                    } else if self.unit.len() >= 4 {
                        let u = &self.unit;
                        let l = u32::from_be_bytes([u[0], u[1], u[2], u[3]]);
                        if !postgres::CLIENT_MESSAGE_LEN.contains(&l) {
                            self.mode = Mode::Ignore;
                            return (data.len(), false);
                        }
                        Some(l as usize)
                    } else {
                        None
                    };
                    let want = match total {
                        Some(t) if t > UNIT_CAP => {
                            // Too big to be an upgrade or bind: skip it whole.
                            self.skip = t - self.unit.len();
                            self.unit.clear();
                            return (taken, false);
                        }
                        Some(t) => t,
                        None => self.unit.len() + 1,
                    };
                    if self.unit.len() >= want {
                        return (taken, true);
                    }
                    let n = (want - self.unit.len()).min(data.len() - taken);
                    if n == 0 {
                        return (taken, false);
                    }
                    self.unit.extend_from_slice(&data[taken..taken + n]);
                    taken += n;
                }
            }
        }
    }

    /// How much of the head may be published: not a partial unit that could
    /// still turn out to carry a secret.
    pub(super) fn shown_len(&self) -> usize {
        if self.unit_start < self.head.len() && may_hold_secret(&self.unit) {
            self.unit_start
        } else {
            self.head.len()
        }
    }
}

/// An incomplete unit that could turn out to be a credential line.
fn may_hold_secret(unit: &[u8]) -> bool {
    if unit.is_empty() {
        return false;
    }
    let line = unit;
    let verb = |v: &[u8]| starts_with_ic(line, v);
    if verb(b"PASS") || verb(b"AUTH") || verb(b"APOP") || verb(b"OPER") {
        return true;
    }
    let has = |n: &[u8]| line.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    if has(b"authorization") || has(b" LOGIN") || has(b" AUTHENTICATE") || has(b"<auth") {
        return true;
    }
    ldap::bind_request_prefix(unit)
}

/// The state all protocol handlers share for one connection.
#[derive(Debug)]
pub(super) struct Session {
    server_port: u16,
    pub(super) dirs: [DirState; 2],
    pub(super) facts: PreambleFacts,
    /// Protocol used to interpret lines; refreshed as first bytes arrive.
    pub(super) proto: AppProtocol,
    pub(super) pending: Option<PendingKey>,
    /// Client after a STARTTLS command or a CONNECT request may start TLS.
    pub(super) client_may_start_tls: bool,
    pub(super) dialogue: Dialogue,
}

impl Session {
    pub(super) fn new(server_port: u16) -> Self {
        Session {
            server_port,
            dirs: [DirState::new(), DirState::new()],
            facts: PreambleFacts::default(),
            proto: port_protocol(server_port),
            pending: None,
            client_may_start_tls: false,
            dialogue: Dialogue::default(),
        }
    }

    pub(super) fn dir(&mut self, dir: Dir) -> &mut DirState {
        &mut self.dirs[dir.index()]
    }

    /// Stops parsing `dir`: what follows is not something we interpret.
    pub(super) fn ignore(&mut self, dir: Dir) {
        self.dir(dir).mode = Mode::Ignore;
    }

    /// The next `n` bytes of `dir` are payload (a body, a literal), not units.
    pub(super) fn skip(&mut self, dir: Dir, n: usize) {
        self.dir(dir).skip = n;
    }

    pub(super) fn pick_framing(&self, dir: Dir, b0: u8) -> Framing {
        let client = &self.dirs[Dir::ToServer.index()];
        let server = &self.dirs[Dir::ToClient.index()];
        match (dir, b0) {
            (Dir::ToClient, _) if mysql::PORTS.contains(&self.server_port) => Framing::Mysql,
            (Dir::ToServer, _) if server.framing == Some(Framing::Mysql) => Framing::Mysql,
            (Dir::ToServer, rdp::TPKT_VERSION) => Framing::Tpkt,
            (Dir::ToClient, _) if client.framing == Some(Framing::Tpkt) => Framing::Tpkt,
            (Dir::ToServer, socks::VERSION_5) => Framing::Socks(SocksMsg::Greeting5),
            (Dir::ToServer, socks::VERSION_4) => Framing::Socks(SocksMsg::Request4),
            (Dir::ToClient, _) if matches!(client.framing, Some(Framing::Socks(_))) => {
                Framing::Socks(SocksMsg::MethodChoice)
            }
            (_, b'<') => Framing::Xml,
            (_, ldap::SEQUENCE) => Framing::Ber,
            (Dir::ToServer, 0) => Framing::PgClient,
            (Dir::ToClient, _) if client.framing == Some(Framing::PgClient) => Framing::PgServer,
            _ => Framing::Line,
        }
    }

    pub(super) fn refresh_detection(&mut self) {
        for st in &mut self.dirs {
            st.shown = st.shown_len();
        }
        let port = self.server_port;
        let c = &self.dirs[Dir::ToServer.index()];
        let s = &self.dirs[Dir::ToClient.index()];
        let (c_head, s_head) = (&c.head[..c.shown], &s.head[..s.shown]);
        let server = (!s_head.is_empty()).then(|| server_banner(s_head, port));
        let server = match server {
            Some(AppProtocol::Unknown) if postgres::answer_seen(&c.head, &s.head) => {
                Some(AppProtocol::Postgres)
            }
            Some(AppProtocol::Unknown) if socks::answer_seen(&c.head, &s.head) => {
                Some(AppProtocol::Socks)
            }
            other => other,
        };
        let server_known = server.filter(|&p| p != AppProtocol::Unknown);
        let client =
            (!c_head.is_empty()).then(|| resolve(client_candidates(c_head), server_known, port));
        self.facts.client_protocol = client;
        self.facts.server_protocol = server;
        for (dir, slot) in [
            (Dir::ToServer, &mut self.facts.client_first_bytes),
            (Dir::ToClient, &mut self.facts.server_first_bytes),
        ] {
            let st = &self.dirs[dir.index()];
            let shown = &st.head[..st.shown];
            *slot = match st.head_frame {
                Some(f) if !shown.is_empty() => Some((escape_bytes(shown, HEAD_LEN), f)),
                _ => None,
            };
        }
        self.proto = match client {
            Some(p) if p != AppProtocol::Unknown => p,
            _ => server_known.unwrap_or_else(|| port_protocol(port)),
        };
    }

    /// Records a credential seen in the current unit of `dir`; the evidence
    /// head is cut after the first `keep` bytes of that unit so the secret that
    /// follows (and any SASL continuation) never reaches `first_bytes`.
    pub(super) fn credential(&mut self, mechanism: &str, frame: FrameNo, dir: Dir, keep: usize) {
        let st = self.dir(dir);
        st.head.truncate(st.unit_start.saturating_add(keep));
        st.head_frozen = true;
        if st.head.is_empty() {
            st.head_frame = None;
        }
        self.facts.credentials.push(Credential {
            protocol: self.proto,
            mechanism: mechanism.to_string(),
            frame,
            dir,
        });
    }

    pub(super) fn start_upgrade(&mut self, protocol: AppProtocol, key: PendingKey, frame: FrameNo) {
        self.facts.starttls = Some(StartTls {
            protocol,
            command_frame: frame,
            response_frame: None,
            result: StartTlsResult::Pending,
            response: None,
        });
        self.pending = Some(key);
        self.client_may_start_tls = true;
    }

    /// Records the answer to the pending upgrade; true when TLS follows it.
    pub(super) fn answer_upgrade(&mut self, ok: bool, response: String, frame: FrameNo) -> bool {
        self.pending = None;
        if let Some(s) = &mut self.facts.starttls {
            s.result = if ok {
                StartTlsResult::Ok
            } else {
                StartTlsResult::Refused
            };
            s.response_frame = Some(frame);
            s.response = Some(response);
            if ok {
                self.facts.via = Some(Via::StartTls(s.protocol));
            }
        }
        if !ok {
            self.client_may_start_tls = false;
        }
        ok
    }

    /// A final SMTP/POP3/FTP reply, `positive` or not: counts it, and when it is the
    /// one that answers the pending upgrade, records it. True when TLS follows.
    pub(super) fn counted_reply(&mut self, positive: bool, line: &[u8], frame: FrameNo) -> bool {
        let idx = self.dialogue.reply();
        if self.pending == Some(PendingKey::Reply(idx)) {
            return self.answer_upgrade(positive, escape_bytes(line, TEXT_CAP), frame);
        }
        false
    }
}
