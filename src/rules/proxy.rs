//! `proxy_connect_failed`: an HTTP CONNECT answered with a non-2xx status, or a SOCKS
//! CONNECT answered with a failure reply code.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::cleartext::ProxyProtocol;

pub const PROXY_CONNECT_FAILED: Rule = Rule {
    name: "proxy_connect_failed",
    doc: "An HTTP CONNECT (403, 407, 502...) or SOCKS CONNECT (connection refused, not allowed...) to a proxy was refused: TLS never started.",
    kinds: &[Kind::ProxyConnectFailed],
    after: &[],
    check,
};

fn status_advice(status: u16) -> &'static str {
    match status {
        407 => "407 means the proxy wants credentials: configure proxy authentication in the client.",
        403 => "403 means the proxy's policy forbids this target (host or port not allowed, e.g. CONNECT only to 443).",
        404 | 502 | 503 | 504 => "The proxy could not reach the target: DNS failure, target down, or the proxy's own upstream is unreachable.",
        400 | 405 => "The proxy did not accept the CONNECT request itself: wrong proxy type or a malformed request.",
        _ => "The proxy refused to open the tunnel; its response body usually says why.",
    }
}

fn proxy_name(proxy: ProxyProtocol) -> &'static str {
    match proxy {
        ProxyProtocol::HttpConnect => "HTTP",
        ProxyProtocol::Socks4 => "SOCKS4",
        ProxyProtocol::Socks5 => "SOCKS5",
    }
}

fn socks_advice(proxy: ProxyProtocol, code: u16) -> &'static str {
    match (proxy, code) {
        (ProxyProtocol::Socks5, 2) | (ProxyProtocol::Socks4, 91) => {
            "The proxy's rules do not allow this target (or, for SOCKS4, it could not reach it): check its policy."
        }
        (ProxyProtocol::Socks5, 3..=6) => {
            "The proxy could not reach the target: nothing listens there, or a firewall or routing problem lies between the proxy and the target."
        }
        (ProxyProtocol::Socks4, 92 | 93) => {
            "The SOCKS4 proxy wants identd confirmation of the client's user id: run identd or use SOCKS5."
        }
        (ProxyProtocol::Socks5, 7 | 8) => {
            "The proxy does not support this request: use a host name or address type it supports."
        }
        _ => "The proxy failed to open the tunnel; its log usually says why.",
    }
}

fn check(ctx: &mut RuleCtx<'_>) {
    let Some(connect) = ctx.flow.preamble.connect.as_ref() else {
        return;
    };
    let Some(status) = connect.status else {
        return;
    };
    let proxy = connect.proxy;
    let failed = match proxy {
        ProxyProtocol::HttpConnect => !(200..300).contains(&status),
        ProxyProtocol::Socks5 => status != 0,
        ProxyProtocol::Socks4 => status != 90,
    };
    if !failed {
        return;
    }
    let target = connect.target.clone();
    let reason = connect.reason.clone().unwrap_or_default();
    let frames = [Some(connect.request_frame), connect.response_frame];
    let tunnel_attempted = ctx
        .flow
        .tls
        .as_ref()
        .is_some_and(|t| t.client_hello.is_some());
    let ts = ctx
        .flow
        .ts_of(connect.response_frame.unwrap_or(connect.request_frame));
    ctx.push(
        Finding::new(Kind::ProxyConnectFailed, Severity::Medium, ts)
            .frames(frames.into_iter().flatten())
            .summary(format!(
                "The {}proxy refused CONNECT {target} with {}; {}.",
                match proxy {
                    ProxyProtocol::HttpConnect => String::new(),
                    p => format!("{} ", proxy_name(p)),
                },
                match proxy {
                    ProxyProtocol::HttpConnect => format!("{status} {reason}"),
                    _ => format!("reply {status} ({reason})"),
                },
                if tunnel_attempted {
                    "the ClientHello the client sent behind it went nowhere"
                } else {
                    "no TLS was attempted"
                }
            ))
            .explanation(match proxy {
                ProxyProtocol::HttpConnect => format!(
                    "The client asked the HTTP proxy to open a tunnel to {target} and the proxy answered {status}. \
                     The TLS client typically reports only a generic proxy or handshake error. {}",
                    status_advice(status)
                ),
                _ => format!(
                    "The client asked the {} proxy to open a tunnel to {target} and the proxy answered with \
                     reply code {status} ({reason}). The TLS client typically reports only a generic proxy \
                     or connect error. {}",
                    proxy_name(proxy),
                    socks_advice(proxy, status)
                ),
            })
            .evidence(json!({
                "target": target,
                "status": status,
                "reason": reason,
                "proxy": proxy.as_str(),
            })),
    );
}

#[cfg(test)]
mod tests {
    use super::PROXY_CONNECT_FAILED;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::Severity;

    const C: Dir = Dir::ToServer;
    const S: Dir = Dir::ToClient;

    fn connect(answer: &[u8]) -> crate::flow::FlowRecord {
        let mut f = flow();
        on_port(&mut f, 3128);
        cleartext(
            &mut f,
            &[
                (
                    C,
                    b"CONNECT blocked.example:443 HTTP/1.1\r\nHost: blocked.example:443\r\n\r\n",
                    4,
                ),
                (S, answer, 5),
            ],
        );
        close(&mut f, S, false, 6);
        f
    }

    #[test]
    fn connect_forbidden() {
        let f = connect(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        let out = run(&PROXY_CONNECT_FAILED, &f);
        let p = one(&out, "proxy_connect_failed");
        assert_eq!(p.severity, Severity::Medium);
        assert_eq!(p.frames, vec![4, 5]);
        assert_eq!(ev(p, "target"), "blocked.example:443");
        assert_eq!(p.evidence["status"], 403);
        assert_eq!(ev(p, "reason"), "Forbidden");
        assert_eq!(
            p.summary,
            "The proxy refused CONNECT blocked.example:443 with 403 Forbidden; no TLS was attempted."
        );
        assert!(p.explanation.contains("policy forbids"));
    }

    #[test]
    fn connect_needs_proxy_authentication() {
        let f = connect(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
        let out = run(&PROXY_CONNECT_FAILED, &f);
        let p = one(&out, "proxy_connect_failed");
        assert_eq!(p.evidence["status"], 407);
        assert_eq!(ev(p, "reason"), "Proxy Authentication Required");
        assert!(p.explanation.contains("proxy authentication"));
    }

    #[test]
    fn connect_ok_or_unanswered_raises_nothing() {
        let f = connect(b"HTTP/1.1 200 Connection established\r\n\r\n");
        assert_eq!(f.preamble.connect.as_ref().unwrap().status, Some(200));
        assert!(run(&PROXY_CONNECT_FAILED, &f).is_empty());
        let mut f = flow();
        on_port(&mut f, 3128);
        cleartext(&mut f, &[(C, b"CONNECT a.example:443 HTTP/1.1\r\n\r\n", 4)]);
        assert!(f.preamble.connect.is_some());
        assert!(run(&PROXY_CONNECT_FAILED, &f).is_empty());
        assert!(run(&PROXY_CONNECT_FAILED, &healthy12()).is_empty());
    }
}
