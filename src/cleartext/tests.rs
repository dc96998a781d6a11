//! Harness for the protocol tests (each next to its protocol), and the tests of
//! the preamble as a whole: where TLS starts, mismatches, bounds, hostile input.

pub(super) use super::session::Mode;
pub(super) use super::{
    AppProtocol, Feed, Preamble, PreambleFacts, StartTls, StartTlsResult, Via, HEAD_LEN,
    PARSE_BUDGET, UNIT_CAP,
};
pub(super) use crate::model::{Dir, FrameNo};

mod captures;

pub(super) const C: Dir = Dir::ToServer;
pub(super) const S: Dir = Dir::ToClient;

/// Minimal TLS 1.2 ClientHello record (content is irrelevant here).
pub(super) const CH: &[u8] = &[
    0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00,
];
pub(super) const SH: &[u8] = &[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00];
pub(super) const ALERT: &[u8] = &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];

#[derive(Debug, PartialEq)]
pub(super) struct Outcome {
    pub(super) facts: PreambleFacts,
    /// Absolute stream offset where each direction switched to TLS.
    pub(super) switch_at: [Option<usize>; 2],
}

/// Feeds like a per-direction caller: once a direction reports
/// `tls_starts`, its later bytes go to TLS and are not fed again.
pub(super) fn drive(port: u16, script: &[(Dir, &[u8], FrameNo)], piece: usize) -> Outcome {
    let mut p = Preamble::new(port);
    let mut pos = [0usize; 2];
    let mut switch_at = [None; 2];
    for &(dir, data, frame) in script {
        let d = dir.index();
        for c in data.chunks(piece.max(1)) {
            if switch_at[d].is_none() {
                let f = p.feed(dir, c, frame, 0);
                assert!(f.consumed <= c.len());
                if f.tls_starts {
                    switch_at[d] = Some(pos[d] + f.consumed);
                } else {
                    assert_eq!(f.consumed, c.len(), "cleartext must be consumed whole");
                }
            }
            pos[d] += c.len();
        }
        for st in &p.session.dirs {
            assert!(st.unit.len() <= UNIT_CAP && st.head.len() <= HEAD_LEN);
        }
    }
    Outcome {
        facts: p.facts().clone(),
        switch_at,
    }
}

/// Runs the script whole and split at every byte (and a few other
/// sizes); all runs must agree.
pub(super) fn check(port: u16, script: &[(Dir, &[u8], FrameNo)]) -> Outcome {
    let whole = drive(port, script, usize::MAX);
    for piece in [1, 2, 3, 5, 7, 64] {
        assert_eq!(drive(port, script, piece), whole, "piece size {piece}");
    }
    whole
}

pub(super) fn stream_len(script: &[(Dir, &[u8], FrameNo)], dir: Dir, upto_frame: FrameNo) -> usize {
    script
        .iter()
        .filter(|(d, _, f)| *d == dir && *f < upto_frame)
        .map(|(_, b, _)| b.len())
        .sum()
}

pub(super) fn assert_no_secret(o: &Outcome, secrets: &[&str]) {
    let dump = format!("{:?}", o.facts);
    for s in secrets {
        assert!(!dump.contains(s), "secret {s:?} leaked into {dump}");
    }
}

pub(super) fn mechs(o: &Outcome) -> Vec<(AppProtocol, &str, FrameNo)> {
    o.facts
        .credentials
        .iter()
        .map(|c| (c.protocol, c.mechanism.as_str(), c.frame))
        .collect()
}

pub(super) fn starttls(o: &Outcome) -> &StartTls {
    o.facts.starttls.as_ref().expect("starttls recorded")
}

#[test]
fn one_sided_starttls_switches_on_client_tls() {
    // Only the client side was captured.
    let mut data = b"EHLO a\r\nSTARTTLS\r\n".to_vec();
    data.extend_from_slice(CH);
    let script: &[(Dir, &[u8], FrameNo)] = &[(C, &data, 3)];
    let o = check(25, script);
    assert_eq!(starttls(&o).result, StartTlsResult::Pending);
    assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Smtp)));
    assert_eq!(o.switch_at, [Some(18), None]);

    // The answer, fed late to the still-cleartext server side, completes it.
    let mut p = Preamble::new(25);
    assert!(!p.feed(S, b"220 mx ESMTP\r\n", 1, 0).tls_starts);
    let f = p.feed(C, &data, 3, 0);
    assert_eq!((f.consumed, f.tls_starts), (18, true));
    assert!(p.is_tls(C) && !p.is_tls(S));
    assert!(!p.feed(S, b"250 hi\r\n", 4, 0).tls_starts);
    let mut answer = b"220 go\r\n".to_vec();
    answer.extend_from_slice(SH);
    assert_eq!(
        p.feed(S, &answer, 5, 0),
        Feed {
            consumed: 8,
            tls_starts: true
        }
    );
    let s = p.facts().starttls.clone().unwrap();
    assert_eq!((s.result, s.response_frame), (StartTlsResult::Ok, Some(5)));
}

#[test]
fn both_directions_switch_after_answer() {
    let mut p = Preamble::new(143);
    p.feed(S, b"* OK hi\r\n", 1, 0);
    p.feed(C, b"x STARTTLS\r\n", 2, 0);
    let f = p.feed(S, b"x OK go\r\n", 3, 0);
    assert_eq!((f.consumed, f.tls_starts), (9, true));
    assert!(p.is_tls(C) && p.is_tls(S));
    assert_eq!(
        p.feed(C, CH, 4, 0),
        Feed {
            consumed: 0,
            tls_starts: true
        }
    );
    assert_eq!(
        p.feed(S, SH, 5, 0),
        Feed {
            consumed: 0,
            tls_starts: true
        }
    );
}

#[test]
fn direct_tls() {
    let mut p = Preamble::new(443);
    assert_eq!(
        p.feed(C, CH, 1, 0),
        Feed {
            consumed: 0,
            tls_starts: true
        }
    );
    assert_eq!(p.facts().client_protocol, None);
    let o = check(443, &[(C, CH, 1), (S, SH, 2)]);
    assert_eq!(o.switch_at, [Some(0), Some(0)]);
    assert!(o.facts.starttls.is_none() && o.facts.via.is_none());
    let sslv2 = [0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15];
    assert_eq!(check(443, &[(C, &sslv2, 1)]).switch_at, [Some(0), None]);
}

#[test]
fn http_to_tls_port() {
    let script: &[(Dir, &[u8], FrameNo)] = &[
        (C, b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 4),
        (S, ALERT, 5),
    ];
    let o = check(443, script);
    assert_eq!(o.facts.client_protocol, Some(AppProtocol::Http));
    assert_eq!(
        o.facts.client_first_bytes,
        Some((
            "GET / HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n".to_string(),
            4
        ))
    );
    // The server's alert goes to the TLS parser so its reaction is visible.
    assert_eq!(o.switch_at, [None, Some(0)]);
    assert_eq!(o.facts.server_protocol, None);
}

#[test]
fn ssh_on_tls_port() {
    let script: &[(Dir, &[u8], FrameNo)] = &[
        (S, b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n", 4),
        (C, b"SSH-2.0-OpenSSH_9.6\r\n", 6),
        (C, &[0, 0, 5, 0xdc, 4, 20, 1, 2, 3, 0xff, 0xfe], 7),
    ];
    let o = check(443, script);
    assert_eq!(o.facts.client_protocol, Some(AppProtocol::Ssh));
    assert_eq!(o.facts.server_protocol, Some(AppProtocol::Ssh));
    assert_eq!(o.switch_at, [None, None]);
}

#[test]
fn smtp_banner_answering_client_hello() {
    let script: &[(Dir, &[u8], FrameNo)] = &[
        (C, CH, 4),
        (S, b"220 poczta.example.pl ESMTP\r\n", 5),
        (S, b"500 5.5.1 command unrecognized\r\n", 6),
    ];
    let o = check(465, script);
    assert_eq!(o.switch_at, [Some(0), None]);
    assert_eq!(o.facts.server_protocol, Some(AppProtocol::Smtp));
    assert_eq!(
        o.facts.server_first_bytes,
        Some((
            "220 poczta.example.pl ESMTP\\r\\n500 5.5.1 command unrecognized\\r\\n".to_string(),
            5
        ))
    );
    // Only cleartext is evidence: a ClientHello is not "first bytes".
    assert_eq!(o.facts.client_protocol, None);
    assert_eq!(o.facts.client_first_bytes, None);

    let http_400: &[(Dir, &[u8], FrameNo)] = &[
        (C, CH, 1),
        (S, b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n", 2),
    ];
    let o = check(80, http_400);
    assert_eq!(o.facts.server_protocol, Some(AppProtocol::Http));
    assert_eq!(o.switch_at, [Some(0), None]);
}

#[test]
fn overlong_line_stops_parsing() {
    let mut p = Preamble::new(25);
    let long = vec![b'a'; UNIT_CAP * 3];
    assert_eq!(p.feed(C, &long, 1, 0).consumed, long.len());
    assert_eq!(p.session.dirs[0].mode, Mode::Ignore);
    assert!(p.session.dirs[0].unit.len() <= UNIT_CAP);
    // Nothing after that is interpreted.
    p.feed(C, b"\r\nAUTH PLAIN x\r\n", 2, 0);
    assert!(p.facts().credentials.is_empty());
    assert_eq!(
        p.facts().client_first_bytes.as_ref().unwrap().0.len(),
        HEAD_LEN
    );
}

#[test]
fn parse_budget_bounds_plain_sessions() {
    let mut p = Preamble::new(80);
    let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..(PARSE_BUDGET / req.len() + 10) {
        p.feed(C, req, 1, 0);
    }
    assert_eq!(p.session.dirs[0].mode, Mode::Ignore);
    p.feed(
        C,
        b"GET / HTTP/1.1\r\nAuthorization: Basic eA==\r\n\r\n",
        2,
        0,
    );
    assert!(p.facts().credentials.is_empty());
}

#[test]
fn hostile_input_never_panics() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: &[&[u8]] = &[
        b"CONNECT ",
        b"HTTP/1.1 200 x\r\n\r\n",
        b"a STARTTLS\r\n",
        b"STARTTLS\r\n",
        b"220 x\r\n",
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        &[0x30, 0x82],
        &[0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f],
        &[0xff, 0xff, 0xff, 0xff],
        b"<starttls xmlns='xmpp-tls'/>",
        b"{99999999999}\r\n",
        b"BDAT 99999999999999999999999\r\n",
        b"\r\n",
        &[0x16, 0x03],
    ];
    for port in [25, 80, 143, 389, 5432, 5222, 6667, 21, 110, 443] {
        for _ in 0..40 {
            let mut p = Preamble::new(port);
            for _ in 0..60 {
                let dir = if next() % 2 == 0 { C } else { S };
                let mut chunk = Vec::new();
                for _ in 0..(next() % 4) {
                    chunk.extend_from_slice(seeds[(next() % seeds.len() as u64) as usize]);
                }
                for _ in 0..(next() % 40) {
                    chunk.push(next() as u8);
                }
                let f = p.feed(dir, &chunk, 1, 0);
                assert!(f.consumed <= chunk.len());
                assert!(f.tls_starts || f.consumed == chunk.len());
                for st in &p.session.dirs {
                    assert!(st.unit.len() <= UNIT_CAP);
                }
            }
        }
    }
}
