//! HTTP/1.x requests (credentials in `Authorization` headers and URL userinfo),
//! `CONNECT` through a proxy: after a 2xx answer the tunnel carries TLS, possibly
//! with the ClientHello pipelined right behind the request, and RFC 2817's
//! `Upgrade: TLS/1.x`: after `101 Switching Protocols` the same connection is TLS
//! (recorded like a STARTTLS, protocol http).

use super::lines::{escape_bytes, token_end, tokens};
use super::session::{PendingKey, Session};
use super::{AppProtocol, ConnectRequest, ProxyProtocol, Upgrade, Via, TEXT_CAP};
use crate::model::{Dir, FrameNo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Line,
    Headers {
        connect: bool,
        body: usize,
        chunked: bool,
        /// An `Upgrade` header offers TLS (RFC 2817).
        tls_upgrade: bool,
        frame: FrameNo,
    },
}

/// Server progress through the answer to an RFC 2817 upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UpgradeAnswer {
    None,
    /// The request is complete; its status line is owed.
    StatusOwed,
    /// Inside the headers of the 101; TLS starts after the empty line.
    SwitchingHeaders,
}

/// `Upgrade: TLS/1.0` (RFC 2817 section 3.2; `TLS/1.x` tokens of later versions too).
fn offers_tls(value: &[u8]) -> bool {
    value.split(|&c| c == b',').any(|t| {
        let t = t.trim_ascii();
        t.len() > 4 && t[..4].eq_ignore_ascii_case(b"TLS/")
    })
}

#[derive(Debug)]
pub(super) struct Http {
    request: Request,
    /// A CONNECT request is complete and its status line is owed.
    connect_pending: bool,
    /// Server is inside the headers of a 2xx CONNECT response.
    connect_ok_headers: bool,
    upgrade: UpgradeAnswer,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            request: Request::Line,
            connect_pending: false,
            connect_ok_headers: false,
            upgrade: UpgradeAnswer::None,
        }
    }
}

impl Http {
    /// Inside a request's headers: its lines are HTTP whatever detection says.
    pub(super) fn in_request(&self) -> bool {
        self.request != Request::Line
    }

    /// A CONNECT request waits for its status line.
    pub(super) fn connect_pending(&self) -> bool {
        self.connect_pending
    }

    /// The server's lines belong to a CONNECT response.
    pub(super) fn in_connect_response(&self) -> bool {
        self.connect_pending || self.connect_ok_headers || self.upgrade != UpgradeAnswer::None
    }

    /// The answer to an `Upgrade: TLS/1.x` request: 101 then TLS, or any final status
    /// (the server may ignore the offer, RFC 2817 section 3.3).
    fn upgrade_answer(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) -> bool {
        if self.upgrade == UpgradeAnswer::SwitchingHeaders {
            if line.is_empty() {
                self.upgrade = UpgradeAnswer::None;
                return true;
            }
            return false;
        }
        let Some(status) = status_code(line) else {
            return false;
        };
        if status == 101 {
            self.upgrade = UpgradeAnswer::SwitchingHeaders;
            // TLS starts after the 101's headers, not after its status line.
            s.answer_upgrade(true, escape_bytes(line, TEXT_CAP), frame);
            return false;
        }
        if (100..200).contains(&status) {
            return false;
        }
        self.upgrade = UpgradeAnswer::None;
        s.answer_upgrade(false, escape_bytes(line, TEXT_CAP), frame);
        // The rest of the answer (headers, body) is not followed.
        s.ignore(Dir::ToClient);
        false
    }

    fn request_line(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) {
        if line.is_empty() {
            return;
        }
        if line.starts_with(b"PRI * HTTP/2") {
            // HTTP/2 prior knowledge: binary frames follow the preface.
            s.ignore(Dir::ToServer);
            return;
        }
        let connect = line.starts_with(b"CONNECT ");
        if connect {
            let target = tokens(line).nth(1).unwrap_or(b"");
            // userinfo in an authority is a credential, never evidence.
            let target = match target.iter().rposition(|&c| c == b'@') {
                Some(p) => {
                    let keep = token_end(line, 0);
                    s.credential("HTTP userinfo", frame, Dir::ToServer, keep);
                    &target[p + 1..]
                }
                None => target,
            };
            s.facts.connect = Some(ConnectRequest {
                proxy: ProxyProtocol::HttpConnect,
                target: escape_bytes(target, TEXT_CAP),
                request_frame: frame,
                status: None,
                response_frame: None,
                reason: None,
            });
        }
        self.request = Request::Headers {
            connect,
            body: 0,
            chunked: false,
            tls_upgrade: false,
            frame,
        };
    }

    fn header(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) {
        let Request::Headers {
            connect,
            body,
            chunked,
            tls_upgrade,
            frame: request_frame,
        } = self.request
        else {
            return;
        };
        if line.is_empty() {
            self.request = Request::Line;
            if tls_upgrade && !connect && s.facts.starttls.is_none() {
                s.start_upgrade(AppProtocol::Http, PendingKey::Next, request_frame);
                self.upgrade = UpgradeAnswer::StatusOwed;
            }
            if connect {
                self.connect_pending = true;
                s.client_may_start_tls = true;
            } else if chunked {
                // Chunk sizes are not followed; the rest is not ours to read.
                s.ignore(Dir::ToServer);
            } else {
                s.skip(Dir::ToServer, body);
            }
            return;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return;
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        let scheme = tokens(value).next().unwrap_or(b"");
        let c = Dir::ToServer;
        if name.eq_ignore_ascii_case(b"authorization") {
            if scheme.eq_ignore_ascii_case(b"basic") {
                s.credential("HTTP Basic", frame, c, colon + 1);
            } else if scheme.eq_ignore_ascii_case(b"bearer") {
                s.credential("HTTP Bearer", frame, c, colon + 1);
            }
        } else if name.eq_ignore_ascii_case(b"proxy-authorization")
            && scheme.eq_ignore_ascii_case(b"basic")
        {
            s.credential("HTTP Proxy-Authorization Basic", frame, c, colon + 1);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
            self.request = Request::Headers {
                connect,
                body: n.unwrap_or(0),
                chunked,
                tls_upgrade,
                frame: request_frame,
            };
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            && value.eq_ignore_ascii_case(b"chunked")
        {
            self.request = Request::Headers {
                connect,
                body,
                chunked: true,
                tls_upgrade,
                frame: request_frame,
            };
        } else if name.eq_ignore_ascii_case(b"upgrade") && offers_tls(value) {
            self.request = Request::Headers {
                connect,
                body,
                chunked,
                tls_upgrade: true,
                frame: request_frame,
            };
        }
    }
}

/// The status code of an HTTP status line.
fn status_code(line: &[u8]) -> Option<u16> {
    if !line.starts_with(b"HTTP/") {
        return None;
    }
    let code = line.splitn(3, |&c| c == b' ').nth(1)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

impl Upgrade for Http {
    fn client(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) {
        match self.request {
            Request::Line => self.request_line(s, line, frame),
            Request::Headers { .. } => self.header(s, line, frame),
        }
    }

    /// Only the answer to CONNECT or to a TLS upgrade is read.
    fn server(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) -> bool {
        if self.upgrade != UpgradeAnswer::None {
            return self.upgrade_answer(s, line, frame);
        }
        if self.connect_ok_headers {
            if line.is_empty() {
                self.connect_ok_headers = false;
                s.facts.via = Some(Via::HttpConnect);
                return true;
            }
            return false;
        }
        let Some(status) = status_code(line) else {
            return false;
        };
        // 1xx is interim; the final status follows.
        if (100..200).contains(&status) {
            return false;
        }
        let reason = line.splitn(3, |&c| c == b' ').nth(2).unwrap_or(b"");
        self.connect_pending = false;
        if let Some(c) = &mut s.facts.connect {
            c.status = Some(status);
            c.response_frame = Some(frame);
            c.reason = Some(escape_bytes(reason, TEXT_CAP));
        }
        if (200..300).contains(&status) {
            self.connect_ok_headers = true;
        } else {
            s.client_may_start_tls = false;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    const CONNECT_HDRS: &[u8] = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic Ym9iOnMzY3IzdA==\r\n\r\n";

    #[test]
    fn connect_200_with_pipelined_client_hello() {
        let mut client = CONNECT_HDRS.to_vec();
        client.extend_from_slice(CH);
        let mut p = Preamble::new(3128);
        let f = p.feed(C, &client, 4, 0);
        assert_eq!((f.consumed, f.tls_starts), (CONNECT_HDRS.len(), true));

        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, &client, 4),
            (
                S,
                b"HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\n",
                5,
            ),
            (S, SH, 6),
        ];
        let o = check(3128, script);
        assert_eq!(o.switch_at, [Some(CONNECT_HDRS.len()), Some(55)]);
        let c = o.facts.connect.as_ref().unwrap();
        assert_eq!(c.target, "example.com:443");
        assert_eq!(
            (c.request_frame, c.status, c.response_frame),
            (4, Some(200), Some(5))
        );
        assert_eq!(c.reason.as_deref(), Some("Connection established"));
        assert_eq!(o.facts.via, Some(Via::HttpConnect));
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Http));
        assert_eq!(
            mechs(&o),
            vec![(AppProtocol::Http, "HTTP Proxy-Authorization Basic", 4)]
        );
        assert_no_secret(&o, &["Ym9iOnMzY3IzdA", "s3cr3t"]);
    }

    #[test]
    fn connect_200_then_client_hello() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"CONNECT 10.0.0.1:8443 HTTP/1.0\r\n\r\n", 1),
            (S, b"HTTP/1.0 200 OK\r\n\r\n", 2),
            (C, CH, 3),
        ];
        let o = check(8080, script);
        assert_eq!(o.switch_at, [Some(34), Some(19)]);
        assert_eq!(o.facts.via, Some(Via::HttpConnect));
    }

    #[test]
    fn connect_refused_403_and_407() {
        for (status, line) in [
            (403u16, &b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!"[..]),
            (407, b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\r\n"),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (C, b"CONNECT blocked.example:443 HTTP/1.1\r\nHost: blocked.example:443\r\n\r\n", 1),
                (S, line, 2),
            ];
            let o = check(3128, script);
            let c = o.facts.connect.as_ref().unwrap();
            assert_eq!((c.status, c.response_frame), (Some(status), Some(2)));
            assert_eq!(c.target, "blocked.example:443");
            assert_eq!(o.switch_at, [None, None]);
            assert_eq!(o.facts.via, None);
        }
        let o = check(
            3128,
            &[
                (C, b"CONNECT a:443 HTTP/1.1\r\n\r\n", 1),
                (S, b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", 2),
            ],
        );
        assert_eq!(
            o.facts.connect.unwrap().reason.as_deref(),
            Some("Proxy Authentication Required")
        );
    }

    #[test]
    fn connect_407_then_retry_with_credentials() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"CONNECT a.example:443 HTTP/1.1\r\n\r\n", 1),
            (
                S,
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
                2,
            ),
            (C, CONNECT_HDRS, 3),
            (
                S,
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
                4,
            ),
            (C, CH, 5),
        ];
        let o = check(3128, script);
        let c = o.facts.connect.as_ref().unwrap();
        assert_eq!(
            (c.target.as_str(), c.status),
            ("example.com:443", Some(200))
        );
        assert_eq!(o.switch_at[0], Some(stream_len(script, C, 5)));
        assert_eq!(o.facts.credentials.len(), 1);
    }

    #[test]
    fn connect_target_userinfo_is_dropped() {
        let o = check(
            3128,
            &[(C, b"CONNECT bob:pw1@h.example:443 HTTP/1.1\r\n\r\n", 1)],
        );
        assert_eq!(o.facts.connect.as_ref().unwrap().target, "h.example:443");
        assert_eq!(mechs(&o), vec![(AppProtocol::Http, "HTTP userinfo", 1)]);
        assert_eq!(o.facts.client_first_bytes, Some(("CONNECT".to_string(), 1)));
        assert_no_secret(&o, &["pw1"]);
    }

    /// samples/http-upgrade-tls.pcap frames 4 and 6 (RFC 2817, python on both sides).
    const UPGRADE_REQUEST: &[u8] =
        b"OPTIONS * HTTP/1.1\r\nHost: localhost:8081\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n";
    const SWITCHING: &[u8] =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, HTTP/1.1\r\nConnection: Upgrade\r\n\r\n";

    #[test]
    fn upgrade_to_tls_after_101() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, UPGRADE_REQUEST, 4),
            (S, SWITCHING, 6),
            (C, CH, 8),
            (S, SH, 9),
        ];
        let o = check(8081, script);
        assert_eq!(
            o.switch_at,
            [Some(UPGRADE_REQUEST.len()), Some(SWITCHING.len())]
        );
        let t = starttls(&o);
        assert_eq!(
            (t.protocol, t.result, t.command_frame, t.response_frame),
            (AppProtocol::Http, StartTlsResult::Ok, 4, Some(6))
        );
        assert_eq!(
            t.response.as_deref(),
            Some("HTTP/1.1 101 Switching Protocols")
        );
        assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Http)));
    }

    #[test]
    fn upgrade_ignored_by_the_server() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, UPGRADE_REQUEST, 4),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 6),
            (C, b"GET / HTTP/1.1\r\n\r\n", 8),
        ];
        let o = check(8081, script);
        assert_eq!(o.switch_at, [None, None]);
        assert_eq!(starttls(&o).result, StartTlsResult::Refused);
        assert_eq!(o.facts.via, None);
        // An Upgrade to something else (WebSocket, h2c) is no TLS upgrade.
        let ws = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        let o = check(
            80,
            &[
                (C, ws, 1),
                (S, b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 2),
            ],
        );
        assert!(o.facts.starttls.is_none());
        assert!(!offers_tls(b"TLS") && offers_tls(b"h2c, tls/1.2"));
    }

    #[test]
    fn http_basic_credentials() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (
                C,
                b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\nAuthorization: Basic x",
                1,
            ),
            (
                C,
                b"GET /b HTTP/1.1\r\nauthorization:  basic Ym9iOmh1bnRlcjI=\r\n\r\n",
                2,
            ),
            (S, b"HTTP/1.1 200 OK\r\n\r\n", 3),
        ];
        let o = check(80, script);
        assert_eq!(mechs(&o), vec![(AppProtocol::Http, "HTTP Basic", 2)]);
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Http));
        assert_no_secret(&o, &["Ym9iOmh1bnRlcjI", "hunter2"]);
    }
}
