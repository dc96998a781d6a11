use super::*;

fn pkt(src: &str, sport: u16, dst: &str, dport: u16) -> TcpPacket<'static> {
    TcpPacket {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        sport,
        dport,
        seq: 0,
        ack: 0,
        flags: 0,
        window: 0,
        ttl: 64,
        vlan: [None, None],
        payload: &[],
        tunnel: None,
        checksum_ok: None,
    }
}

fn m(expr: &str, p: &TcpPacket<'_>) -> bool {
    Filter::parse(expr)
        .unwrap_or_else(|e| panic!("{e}"))
        .matches(p)
}

#[test]
fn primitives_and_directions() {
    let p = pkt("10.0.0.5", 51000, "192.168.1.10", 443);
    for (expr, want) in [
        ("host 10.0.0.5", true),
        ("host 192.168.1.10", true),
        ("host 10.0.0.6", false),
        ("src host 10.0.0.5", true),
        ("dst host 10.0.0.5", false),
        ("src 10.0.0.5", true),
        ("src or dst host 192.168.1.10", true),
        ("src and dst host 10.0.0.5", false),
        ("net 10.0.0.0/8", true),
        ("net 10", true),
        ("net 10.1", false),
        ("dst net 192.168.1.0/24", true),
        ("port 443", true),
        ("tcp port 443", true),
        ("src port 443", false),
        ("dst port 443", true),
        ("portrange 440-450", true),
        ("tcp dst portrange 50000-52000", false),
        ("tcp src portrange 50000-52000", true),
        ("ip src host 10.0.0.5", true),
        ("tcp", true),
        ("ip", true),
        ("ip6", false),
        ("ip host 10.0.0.5", true),
        ("ip6 host 10.0.0.5", false),
    ] {
        assert_eq!(m(expr, &p), want, "{expr}");
    }
    let v6 = pkt("2001:db8::1", 40000, "2001:db8::2", 8443);
    assert!(m("ip6 and net 2001:db8::/32", &v6));
    assert!(m("host 2001:db8::2 and port 8443", &v6));
    assert!(!m("net 2001:db9::/32", &v6));
    assert!(!m("ip", &v6));
}

#[test]
fn operators_precedence_and_carried_qualifiers() {
    let p = pkt("10.0.0.5", 51000, "192.168.1.10", 8443);
    for (expr, want) in [
        ("port 443 or 8443", true),
        ("port 443 or 9443", false),
        ("dst port 443 or 8443", true),
        ("host 10.0.0.5 and not port 22", true),
        ("host 10.0.0.5 && !port 8443", false),
        ("not host 10.0.0.5 or port 8443", true),
        ("not (host 10.0.0.5 or port 8443)", false),
        // and binds tighter than or, as in pcap-filter
        ("port 1 and port 2 or port 8443", true),
        ("port 8443 or port 1 and port 2", true),
        ("(port 8443 or port 1) and port 2", false),
        ("host 10.0.0.9 or 10.0.0.5", true),
    ] {
        assert_eq!(m(expr, &p), want, "{expr}");
    }
}

#[test]
fn unsupported_and_malformed_expressions_are_clear_errors() {
    for (expr, needle) in [
        ("", "empty"),
        ("port https", "port names"),
        ("port 70000", "not a port number"),
        ("host example.com", "host names are not resolved"),
        ("host 10.0.0.1/8", "use net"),
        ("net 10.0.0.0/33", "prefix length"),
        ("tcp[13] & 2 != 0", "not supported"),
        ("ether host 00:11:22:33:44:55", "not supported"),
        ("(port 443", "expected ')'"),
        ("port 443 and", "ends where"),
        ("port 443 port 80", "unexpected"),
        ("portrange 10", "LOW-HIGH"),
        ("port", "missing"),
    ] {
        let err = Filter::parse(expr).unwrap_err().to_string();
        assert!(err.contains(needle), "{expr:?}: {err}");
    }
}

#[test]
fn hostile_expressions_stay_bounded() {
    // The parser recurses per parenthesis: deep nesting is an error, not a stack overflow.
    let deep = format!("{}port 443{}", "(".repeat(100_000), ")".repeat(100_000));
    let err = Filter::parse(&deep).unwrap_err().to_string();
    assert!(err.contains("nested deeper"), "{}", &err[err.len() - 60..]);
    let nots = format!("{}port 443", "not ".repeat(100_000));
    assert!(Filter::parse(&nots).is_err());
    let fine = format!("{}port 443{}", "(".repeat(60), ")".repeat(60));
    assert!(Filter::parse(&fine).is_ok());
    let long = vec!["port 1"; 5000].join(" or ");
    assert!(!m(&long, &pkt("1.1.1.1", 2, "2.2.2.2", 3)));
}
