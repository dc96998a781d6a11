//! Conformance against the third-party corpus in `../shared/captures` (see its README and
//! MANIFEST.tsv): for every capture whose peer expectation (suricata-verify `test.yaml`,
//! Zeek btest baseline, MANIFEST `what_it_shows`) names an alert, SNI, version, cipher,
//! certificate field, fingerprint, community id, history or handshake outcome, tlstriage
//! must report the same thing. Each entry cites the peer line it comes from.
//!
//! Naming differences that are translated, not weakened:
//! * Versions: Zeek `TLSv12` / `TLSv13-draft23`, Suricata `TLSv1` / `TLS 1.2` /
//!   `TLS 1.3 draft-18` are tlstriage `TLSv1.2` / `TLSv1.3-draft23` / `TLSv1.0` / `TLSv1.2` /
//!   `TLSv1.3-draft18`.
//! * Distinguished names: Suricata prints RFC 4514 order as tlstriage does
//!   ("C=US, ST=..., CN=..."); Zeek prints the reverse order without spaces and calls the
//!   attributes `emailAddress`/`street` where tlstriage says `Email`/`streetAddress`. Zeek
//!   names are written here in tlstriage form.
//! * Serials: Suricata and tlstriage print the DER INTEGER content bytes (so a serial with
//!   its high bit set keeps its leading `00` sign byte); Zeek prints the integer value
//!   without it. `serial_matches` accepts exactly that one difference.
//! * Validity: Suricata dates are UTC; Zeek's x509.log gives Unix seconds.
//!
//! Set TLSTRIAGE_REQUIRE_CORPUS (CI does) to make a missing corpus a failure.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tlstriage::community_id::community_id_v1;
use tlstriage::fingerprint::{ja3, ja4};
use tlstriage::flow::{AnalyzerConfig, FlowRecord};
use tlstriage::model::{format_secs, Dir};
use tlstriage::pipeline::{analyze_path, Analysis};
use tlstriage::rules::Finding;
use tlstriage::tls::names::{alert_description_name, cipher_name, version_name};
use tlstriage::tls::TlsEventKind;

// ---------------------------------------------------------------------------
// The table's vocabulary

/// A certificate validity bound as the peer gives it.
#[derive(Clone, Copy, Debug)]
enum When {
    Any,
    /// Suricata: "YYYY-MM-DDTHH:MM:SS" UTC (written here with a trailing Z).
    Utc(&'static str),
    /// Zeek x509.log: Unix seconds.
    Unix(i64),
}

#[derive(Clone, Copy, Debug)]
struct Cert {
    /// Position in the server's chain (0 = leaf).
    pos: usize,
    subject: Option<&'static str>,
    issuer: Option<&'static str>,
    serial: Option<&'static str>,
    not_before: When,
    not_after: When,
    /// Number of subjectAltNames (DNS and IP).
    san_count: Option<usize>,
}

const CERT: Cert = Cert {
    pos: 0,
    subject: None,
    issuer: None,
    serial: None,
    not_before: When::Any,
    not_after: When::Any,
    san_count: None,
};

/// Expectations for one flow, selected by its client port. `None` = not checked; for
/// `version`, `cipher` and `sni` the value "-" means "must be absent".
/// The intermediate the server of Zeek's missing-intermediate trace does not send.
const STARFIELD_G2: &str = "C=US, ST=Arizona, L=Scottsdale, O=Starfield Technologies, Inc., \
     OU=http://certs.starfieldtech.com/repository/, CN=Starfield Secure Certificate Authority - G2";

#[derive(Clone, Copy, Debug)]
struct Fx {
    client_port: u16,
    version: Option<&'static str>,
    cipher: Option<&'static str>,
    sni: Option<&'static str>,
    history: Option<&'static str>,
    established: Option<bool>,
    resumed: Option<bool>,
    /// "connect_proxy", "starttls" or "-" (none).
    via: Option<&'static str>,
    /// Plaintext alerts: (sender "client"/"server", RFC description).
    alerts: &'static [(&'static str, &'static str)],
    /// Finding kinds that must be raised on the flow.
    findings: &'static [&'static str],
    /// Finding kinds that must not be raised on the flow.
    absent: &'static [&'static str],
    /// (finding kind, evidence key, value): the value as a string (JSON strings unquoted).
    evidence: &'static [(&'static str, &'static str, &'static str)],
    certs: &'static [Cert],
    ja3_text: Option<&'static str>,
    ja3_hash: Option<&'static str>,
    ja4: Option<&'static str>,
}

const F: Fx = Fx {
    client_port: 0,
    version: None,
    cipher: None,
    sni: None,
    history: None,
    established: None,
    resumed: None,
    via: None,
    alerts: &[],
    findings: &[],
    absent: &[],
    evidence: &[],
    certs: &[],
    ja3_text: None,
    ja3_hash: None,
    ja4: None,
};

struct Cap {
    file: &'static str,
    /// Flows that must be present, with their expectations.
    flows: &'static [Fx],
    /// Checks that do not fit the flow table (capture-wide facts, events, seeds).
    extra: Option<fn(&Analysis)>,
}

const fn cap(file: &'static str, flows: &'static [Fx]) -> Cap {
    Cap {
        file,
        flows,
        extra: None,
    }
}

// ---------------------------------------------------------------------------
// The table: one entry per capture of MANIFEST.tsv, in its order.

const SELKS: &str = "C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS";
const NETSCREEN_SUBJECT: &str = "C=US, ST=California, L=Sunnyvale, O=NetScreen Technologies, Inc., OU=Security Team, CN=sigdb.secteam.netscreen.com, Email=aturner@netscreen.com";
const NETSCREEN_ISSUER: &str = "C=US, ST=California, L=Sunnyvale, O=OneSecure, Inc., OU=Fulfillment, CN=jumper.sv-staging.onesecure.com, Email=fulfillment@onesecure.com";
// sslv2-compat test.yaml: tls.subject / tls.issuerdn / tls.serial "55" /
// tls.notbefore "2003-03-29T00:57:44" / tls.notafter "2008-03-27T00:57:44".
const NETSCREEN_CERT: Cert = Cert {
    subject: Some(NETSCREEN_SUBJECT),
    issuer: Some(NETSCREEN_ISSUER),
    serial: Some("55"),
    not_before: When::Utc("2003-03-29T00:57:44Z"),
    not_after: When::Utc("2008-03-27T00:57:44Z"),
    ..CERT
};
const LE_R3: &str = "C=US, O=Let's Encrypt, CN=R3";
// tls10-cert-*.yaml: tls.subject / issuerdn / serial / notbefore / notafter.
const GLUPTEBA_CERT: Cert = Cert {
    subject: Some("CN=xn--j1ahhq.xn--p1ai"),
    issuer: Some(LE_R3),
    serial: Some("03:DE:23:89:7E:97:FB:86:8E:7C:C5:53:09:FE:AE:D0:AE:20"),
    not_before: When::Utc("2022-12-01T06:47:31Z"),
    not_after: When::Utc("2023-03-01T06:47:30Z"),
    ..CERT
};
// Zeek x509.log rows of the Taleo chain (tls12-normal-handshake / late-protocol-error).
const TALEO_CHAIN: &[Cert] = &[
    // 95cb4439... 99FAA8037A4EB2FAEF84EB5E55D5B8C8 CN=*.taleo.net,... 1304467200 1467676799
    Cert {
        subject: Some("C=US, postalCode=94568, ST=CA, L=Dublin, streetAddress=Suite 400, streetAddress=4140 Dublin Boulevard, O=Taleo Inc., OU=Web, OU=Comodo PremiumSSL Wildcard, CN=*.taleo.net"),
        issuer: Some("C=GB, ST=Greater Manchester, L=Salford, O=COMODO CA Limited, CN=COMODO High-Assurance Secure Server CA"),
        serial: Some("99FAA8037A4EB2FAEF84EB5E55D5B8C8"),
        not_before: When::Unix(1304467200),
        not_after: When::Unix(1467676799),
        san_count: Some(2),
        ..CERT
    },
    // 7363593d... 1690C329B6780607511F05B0344846CB 1271376000 1590835718
    Cert {
        pos: 1,
        serial: Some("1690C329B6780607511F05B0344846CB"),
        not_before: When::Unix(1271376000),
        not_after: When::Unix(1590835718),
        ..CERT
    },
    // 687fa451... serial 01, AddTrust root, self-issued, 959683718 1590835718
    Cert {
        pos: 2,
        subject: Some("C=SE, O=AddTrust AB, OU=AddTrust External TTP Network, CN=AddTrust External CA Root"),
        issuer: Some("C=SE, O=AddTrust AB, OU=AddTrust External TTP Network, CN=AddTrust External CA Root"),
        serial: Some("01"),
        not_before: When::Unix(959683718),
        not_after: When::Unix(1590835718),
        ..CERT
    },
];
const GMX_LEAF: &str = "C=DE, O=1&1 Mail & Media GmbH, ST=Rhineland-Palatinate, L=Montabaur, Email=server-certs@1und1.de, CN=imap.gmx.net";
const TELESEC_CA: &str = "C=DE, O=T-Systems International GmbH, OU=T-Systems Trust Center, ST=NRW, postalCode=57250, L=Netphen, streetAddress=Untere Industriestr. 20, CN=TeleSec ServerPass DE-1";
const TELEKOM_ROOT: &str =
    "C=DE, O=Deutsche Telekom AG, OU=T-TeleSec Trust Center, CN=Deutsche Telekom Root CA 2";
// tls-cert-1999-utctime.zeek-x509.log (the same chain is in imap-starttls' ssl.log).
const TELESEC_CHAIN: &[Cert] = &[
    // e0129ac9... 339D9ED8E73927C9 CN=imap.gmx.net,... 1384251451 1479427199 SAN imap.gmx.net,imap.gmx.de
    Cert {
        subject: Some(GMX_LEAF),
        issuer: Some(TELESEC_CA),
        serial: Some("339D9ED8E73927C9"),
        not_before: When::Unix(1384251451),
        not_after: When::Unix(1479427199),
        san_count: Some(2),
        ..CERT
    },
    // 3c80fe6e... 21B6777E8CBD0EA8 1362146309 1562716740
    Cert {
        pos: 1,
        subject: Some(TELESEC_CA),
        issuer: Some(TELEKOM_ROOT),
        serial: Some("21B6777E8CBD0EA8"),
        not_before: When::Unix(1362146309),
        not_after: When::Unix(1562716740),
        ..CERT
    },
    // b6191a50... serial 26, root notBefore 931522260 (1999-07-09, UTCTime "99...")
    Cert {
        pos: 2,
        subject: Some(TELEKOM_ROOT),
        issuer: Some(TELEKOM_ROOT),
        serial: Some("26"),
        not_before: When::Unix(931522260),
        not_after: When::Unix(1562716740),
        ..CERT
    },
];
const GOOGLE_G2: &str = "C=US, O=Google Inc, CN=Google Internet Authority G2";
const GEOTRUST: &str = "C=US, O=GeoTrust Inc., CN=GeoTrust Global CA";

const CAPTURES: &[Cap] = &[
    // MANIFEST: "ClientHello to 443 answered by plaintext fatal alert handshake_failure
    // (15 03 01 00 02 02 28)"; test.yaml: sid 9901033 (content |15 03 01 00 02 02|) fires 2x.
    cap(
        "suricata-verify/tls12-fatal-handshake-failure-alert-after-clienthello.pcap",
        &[Fx {
            client_port: 37720,
            version: Some("-"),
            established: Some(false),
            alerts: &[("server", "handshake_failure")],
            findings: &["tls_alert", "cipher_mismatch", "handshake_aborted"],
            evidence: &[
                ("tls_alert", "level", "fatal"),
                ("tls_alert", "description", "handshake_failure"),
                ("handshake_aborted", "likely_cause", "cipher_mismatch"),
                ("handshake_aborted", "aborted_by", "server"),
            ],
            ..F
        }],
    ),
    // test.yaml: tls.version "TLSv1", tls.serial "55", subject/issuerdn, notbefore/notafter;
    // MANIFEST: "SSLv2-format ClientHello, server answers TLSv1.0".
    Cap {
        file: "suricata-verify/sslv2-compat-clienthello-upgrade-to-tlsv1.pcap",
        flows: &[Fx {
            client_port: 1660,
            version: Some("TLSv1.0"),
            established: Some(true),
            findings: &["obsolete_version"],
            evidence: &[("obsolete_version", "version", "TLSv1.0")],
            certs: &[NETSCREEN_CERT],
            ..F
        }],
        extra: Some(sslv2_compat_hello),
    },
    // .rules: ssl_version:tls1.0 (sid 3) and !tls1.3,tls1.2 (sid 2) match on every TLS flow,
    // ssl_version:!tls1.0 (sid 4) never: every flow with a version is TLSv1.0. The flow of
    // port 1654 is three SYNs and carries no TLS at all.
    Cap {
        file: "suricata-verify/ssl-version-mixed-sslv2-tlsv1-flows.pcap",
        flows: &[
            Fx {
                client_port: 1660,
                version: Some("TLSv1.0"),
                history: Some("CsxknGIi"),
                established: Some(true),
                certs: &[NETSCREEN_CERT],
                ..F
            },
            Fx {
                client_port: 1661,
                version: Some("TLSv1.0"),
                resumed: Some(true),
                established: Some(true),
                ..F
            },
            Fx {
                client_port: 1654,
                version: Some("-"),
                history: Some(""),
                ..F
            },
        ],
        extra: Some(all_versions_tls10),
    },
    // test.yaml: tls.sni www.google.com (sid 1: tls.sni content "google"); ClientHello split
    // over several TCP segments.
    cap(
        "suricata-verify/tls12-clienthello-split-across-tcp-segments-mtu300.pcap",
        &[Fx {
            client_port: 38576,
            sni: Some("www.google.com"),
            version: Some("TLSv1.2"),
            established: Some(true),
            ..F
        }],
    ),
    // test.yaml: http CONNECT status 200, flow app_proto tls, app_proto_orig http. The
    // bytes after the 200 are "16 03 00 00 00" and zeros: a TLS-looking record that
    // Suricata detects as TLS and tlstriage reports as malformed.
    Cap {
        file: "suricata-verify/http-connect-then-tls-nulllink.pcap",
        flows: &[Fx {
            client_port: 60472,
            via: Some("connect_proxy"),
            findings: &["malformed_tls"],
            evidence: &[("malformed_tls", "sent_by", "client")],
            ..F
        }],
        extra: Some(connect_200),
    },
    // test.yaml: http CONNECT status 200, app_proto_orig http; then bytes that are not TLS.
    Cap {
        file: "suricata-verify/http-connect-then-tls-decode-failure-nulllink.pcap",
        flows: &[Fx {
            client_port: 51479,
            via: Some("connect_proxy"),
            version: Some("-"),
            findings: &["malformed_tls"],
            evidence: &[("malformed_tls", "sent_by", "server")],
            ..F
        }],
        extra: Some(connect_200),
    },
    // test.yaml: http CONNECT hostname qagpublic.qg1.apps.qualys.com on dest_port 8080;
    // tls.subject and tls.issuerdn of the same flow (src_port 53909).
    cap(
        "suricata-verify/http-connect-proxy8080-then-tls12.pcap",
        &[Fx {
            client_port: 53909,
            via: Some("connect_proxy"),
            version: Some("TLSv1.2"),
            sni: Some("qagpublic.qg1.apps.qualys.com"),
            established: Some(true),
            certs: &[Cert {
                subject: Some("C=US, ST=California, L=Redwood City, O=Qualys, Inc., OU=Production, CN=qagpublic.qg1.apps.qualys.com"),
                issuer: Some("C=US, O=Symantec Corporation, OU=Symantec Trust Network, CN=Symantec Class 3 Secure Server SHA256 SSL CA"),
                ..CERT
            }],
            ..F
        }],
    ),
    // test.yaml: http.url secure-assets.rubiconproject.com:443 (async-oneside). The capture
    // misses the proxy's "200" (95 bytes) and the client's ChangeCipherSpec (6 bytes): the
    // client's encrypted Finished after that gap is not a malformed handshake message.
    Cap {
        file: "suricata-verify/http-connect-proxy-then-tls12-rubicon.pcap",
        flows: &[Fx {
            client_port: 62227,
            via: Some("connect_proxy"),
            sni: Some("secure-assets.rubiconproject.com"),
            version: Some("TLSv1.2"),
            established: Some(true),
            absent: &["malformed_tls"],
            ..F
        }],
        extra: Some(rubicon_connect_target),
    },
    // test.yaml: smtp.helo desktop.unx.ca, one smtp event. MANIFEST says "then TLS1.2", but
    // the ServerHello (frame 16) is legacy_version 0x0303 with supported_versions 0x0304:
    // TLS 1.3 was negotiated, which is what tlstriage reports.
    cap(
        "suricata-verify/smtp-starttls-then-tls12.pcap",
        &[Fx {
            client_port: 34634,
            via: Some("starttls"),
            version: Some("TLSv1.3"),
            established: Some(true),
            findings: &["starttls"],
            evidence: &[("starttls", "protocol", "smtp"), ("starttls", "result", "ok")],
            ..F
        }],
    ),
    // test.yaml (8): flow app_proto tls, app_proto_tc smtp: TLS from the client, the
    // "220 poczta..." SMTP banner from the server on port 465.
    cap(
        "suricata-verify/smtps-465-clienthello-answered-by-plaintext-smtp-banner.pcap",
        &[Fx {
            client_port: 62353,
            version: Some("-"),
            established: Some(false),
            findings: &["tls_to_plaintext_port", "handshake_aborted"],
            evidence: &[
                ("tls_to_plaintext_port", "detected_protocol", "smtp"),
                ("tls_to_plaintext_port", "server_port", "465"),
                ("handshake_aborted", "likely_cause", "plaintext_mismatch"),
            ],
            ..F
        }],
    ),
    // test.yaml: event_type ldap extended_request 1.3.6.1.4.1.1466.20037, then tls
    // from_proto ldap, issuerdn/subject CN=LDAP SSL test, serial 00:8A:07:E0:8D:4A:B5:0A:7B,
    // notbefore 2015-01-31T02:18:29, notafter 2025-01-28T02:18:29, version TLS 1.2.
    cap(
        "suricata-verify/ldap-starttls-ipv6.pcap",
        &[Fx {
            client_port: 37386,
            via: Some("starttls"),
            version: Some("TLSv1.2"),
            established: Some(true),
            findings: &["starttls", "certificate_self_signed"],
            evidence: &[("starttls", "protocol", "ldap"), ("starttls", "result", "ok")],
            certs: &[Cert {
                subject: Some("CN=LDAP SSL test"),
                issuer: Some("CN=LDAP SSL test"),
                serial: Some("00:8A:07:E0:8D:4A:B5:0A:7B"),
                not_before: When::Utc("2015-01-31T02:18:29Z"),
                not_after: When::Utc("2025-01-28T02:18:29Z"),
                ..CERT
            }],
            ..F
        }],
    ),
    // test.yaml: pgsql ssl_accepted true; tls from_proto pgsql, issuerdn/subject CN=ubuntu,
    // serial 00:82:64:66:C3:07:A1:8F:80, notbefore 2017-02-23T05:13:52, notafter
    // 2027-02-21T05:13:52, version TLS 1.2 (src_port 60358).
    cap(
        "suricata-verify/pgsql-sslrequest-then-tls12.pcap",
        &[Fx {
            client_port: 60358,
            via: Some("starttls"),
            version: Some("TLSv1.2"),
            established: Some(true),
            findings: &["starttls"],
            evidence: &[
                ("starttls", "protocol", "postgres"),
                ("starttls", "result", "ok"),
            ],
            certs: &[Cert {
                subject: Some("CN=ubuntu"),
                issuer: Some("CN=ubuntu"),
                serial: Some("00:82:64:66:C3:07:A1:8F:80"),
                not_before: When::Utc("2017-02-23T05:13:52Z"),
                not_after: When::Utc("2027-02-21T05:13:52Z"),
                ..CERT
            }],
            ..F
        }],
    ),
    // test.yaml: flow app_proto ssh on port 443.
    cap(
        "suricata-verify/ssh-on-port-443.pcap",
        &[Fx {
            client_port: 54321,
            version: Some("-"),
            findings: &["plaintext_to_tls_port"],
            evidence: &[
                ("plaintext_to_tls_port", "detected_protocol", "ssh"),
                ("plaintext_to_tls_port", "server_port", "443"),
            ],
            ..F
        }],
    ),
    // test.yaml: 3 http events on port 443, no TLS.
    cap(
        "suricata-verify/plaintext-http-on-port-443.pcap",
        &[Fx {
            client_port: 52316,
            version: Some("-"),
            findings: &["plaintext_to_tls_port"],
            evidence: &[
                ("plaintext_to_tls_port", "detected_protocol", "http"),
                ("plaintext_to_tls_port", "server_port", "443"),
            ],
            ..F
        }],
    ),
    // test.yaml: tls.invalid_handshake_message (2230003) + tls.certificate_invalid_length
    // (2230007). The file itself is damaged at frame 7 (see `damaged_files_stop_at_frame_7`).
    cap(
        "suricata-verify/tls12-cert-der-incomplete-header.pcap",
        &[Fx {
            client_port: 50802,
            findings: &["malformed_tls"],
            ..F
        }],
    ),
    // test.yaml: tls.invalid_handshake_message (2230003) + tls.invalid_certificate (2230004).
    cap(
        "suricata-verify/tls12-cert-der-incomplete-content.pcap",
        &[Fx {
            client_port: 50802,
            findings: &["malformed_tls"],
            ..F
        }],
    ),
    // test.yaml: tls.version "TLS 1.3 draft-<16", ja3.hash 65825469c473e48f3ee2571129256ab0,
    // ja3.string "772,49195-...,0". The ServerHello says 0x0304; the draft (14) is in the
    // client's 0xff02 extension, as Zeek logs such sessions ("TLSv13-draft14").
    cap(
        "suricata-verify/tls13-draft14.pcap",
        &[Fx {
            client_port: 54049,
            version: Some("TLSv1.3-draft14"),
            established: Some(true),
            ja3_hash: Some("65825469c473e48f3ee2571129256ab0"),
            ja3_text: Some("772,49195-49199-52393-52392-49196-49200-49162-49161-49171-49172-51-57-47-53-10,0-23-65281-10-11-35-13172-16-5-65282-40-13,23-24-25-256-257-258-259-260,0"),
            ..F
        }],
    ),
    // test.yaml: tls.version "TLS 1.3 draft-18", ja3.hash 23d254f72096d25c350e4a4a792f4948.
    cap(
        "suricata-verify/tls13-draft18.pcap",
        &[Fx {
            client_port: 36964,
            version: Some("TLSv1.3-draft18"),
            established: Some(true),
            ja3_hash: Some("23d254f72096d25c350e4a4a792f4948"),
            ja3_text: Some("771,4865-4866-4867-49195-49199-158-49196-49200-159-52393-52392-52244-52243-49161-49187-49171-49191-51-103-49162-49188-49172-49192-57-107-156-157-47-60-53-61-10,65281-23-35-13-11-40-45-43-10,29-23-24,0"),
            ..F
        }],
    ),
    // test.yaml: tls.sni localhost, version "TLS 1.3 draft-22", ja3.hash
    // 786468211b4d23f9b725987b0de9d090 ("771,4865-4867,0-43-13-10-40,23,": the first hello).
    cap(
        "suricata-verify/tls13-draft22-hello-retry-request-port4433.pcap",
        &[Fx {
            client_port: 41752,
            version: Some("TLSv1.3-draft22"),
            sni: Some("localhost"),
            established: Some(true),
            ja3_hash: Some("786468211b4d23f9b725987b0de9d090"),
            ja3_text: Some("771,4865-4867,0-43-13-10-40,23,"),
            ..F
        }],
    ),
    // test.yaml: 2 tls events sni localhost "TLS 1.3 draft-28"; one with ja3 d00857e0...
    // (extension 41, the resumption), one with 43202faa...
    cap(
        "suricata-verify/tls13-draft28-ipv6.pcap",
        &[
            Fx {
                client_port: 39632,
                version: Some("TLSv1.3-draft28"),
                sni: Some("localhost"),
                ja3_hash: Some("43202faa1c8c1760d6f7f4bd9adde4ab"),
                ja3_text: Some("771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0"),
                ..F
            },
            Fx {
                client_port: 39634,
                version: Some("TLSv1.3-draft28"),
                sni: Some("localhost"),
                resumed: Some(true),
                ja3_hash: Some("d00857e0c8e7a7f35e446508c6233460"),
                ja3_text: Some("771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45-41,23,0"),
                ..F
            },
        ],
    ),
    // test.yaml: 1 tls event sni ftp.nluug.nl (sid 1); MANIFEST: HRR then a second hello.
    // History as Zeek writes an HRR session (its tls13 multi log: CjiICs).
    cap(
        "suricata-verify/tls13-hello-retry-request-rawip-linktype101.pcap",
        &[Fx {
            client_port: 34792,
            sni: Some("ftp.nluug.nl"),
            version: Some("TLSv1.3"),
            history: Some("CjiICs"),
            established: Some(true),
            ..F
        }],
    ),
    // test.yaml: tls sni ipv6.google.com and dns.google, version "TLS 1.3", community ids
    // 1:ptJhMvufAbB5nLDNW77cB800wFM= / 1:PGf+a0eBbs1OhuPtJmsF0Sm51v4= (seed 7, see extra).
    Cap {
        file: "suricata-verify/tls13-ipv6-google.pcap",
        flows: &[
            Fx {
                client_port: 60202,
                sni: Some("ipv6.google.com"),
                version: Some("TLSv1.3"),
                established: Some(true),
                ..F
            },
            Fx {
                client_port: 33892,
                sni: Some("dns.google"),
                version: Some("TLSv1.3"),
                established: Some(true),
                ..F
            },
        ],
        extra: Some(google_community_ids),
    },
    // test.yaml: tls.sni rr4---sn-5hne6nzy.googlevideo.com, 0 tls parser errors.
    cap(
        "suricata-verify/tls13-fin-close-with-pending-data.pcap",
        &[Fx {
            client_port: 53576,
            sni: Some("rr4---sn-5hne6nzy.googlevideo.com"),
            version: Some("TLSv1.3"),
            established: Some(true),
            absent: &["malformed_tls"],
            ..F
        }],
    ),
    // test.yaml: 4 tls events with serial 00:97:E6:47:09:8E:EA:C9:B4 and issuerdn
    // "C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS", 1 with session_resumed true.
    Cap {
        file: "suricata-verify/tls12-self-signed-cert-5-flows-with-resumption.pcap",
        flows: &[
            Fx {
                client_port: 49365,
                certs: &[Cert {
                    issuer: Some(SELKS),
                    serial: Some("00:97:E6:47:09:8E:EA:C9:B4"),
                    ..CERT
                }],
                resumed: Some(false),
                findings: &["certificate_self_signed"],
                ..F
            },
            Fx {
                client_port: 49369,
                resumed: Some(true),
                established: Some(true),
                history: Some("CsiI"),
                ..F
            },
        ],
        extra: Some(selks_four_certs_one_resumed),
    },
    // test.yaml: tls sni fkp.samsungcloudsolution.com, subject "OU=vd, CN=fkp...", issuerdn
    // "C=KR, ..., CN=ROOT CA SISC FKP2_PLUS", serial '32', notbefore 1969-12-31T00:00:00
    // (pre-epoch), notafter 2038-12-31T00:10:03, version TLSv1.
    cap(
        "suricata-verify/tls10-cert-notbefore-1969-rawip.pcap",
        &[Fx {
            client_port: 46135,
            sni: Some("fkp.samsungcloudsolution.com"),
            version: Some("TLSv1.0"),
            certs: &[Cert {
                subject: Some("OU=vd, CN=fkp.samsungcloudsolution.com"),
                issuer: Some("C=KR, ST=Kyunggido, L=Suwon, O=Samsung Electronics, OU=SW2 SISC, CN=ROOT CA SISC FKP2_PLUS"),
                serial: Some("32"),
                not_before: When::Utc("1969-12-31T00:00:00Z"),
                not_after: When::Utc("2038-12-31T00:10:03Z"),
                ..CERT
            }],
            ..F
        }],
    ),
    // test.yaml: subject CN=xn--j1ahhq.xn--p1ai, issuerdn Let's Encrypt R3, serial, dates,
    // version TLSv1 (the SAN with a NUL byte must not break parsing).
    cap(
        "suricata-verify/tls10-cert-san-with-nul-byte.pcap",
        &[Fx {
            client_port: 23481,
            version: Some("TLSv1.0"),
            certs: &[GLUPTEBA_CERT],
            findings: &["obsolete_version"],
            ..F
        }],
    ),
    // test.yaml: the same fields plus tls.subjectaltname[0..16]: 17 names (see extra).
    Cap {
        file: "suricata-verify/tls10-cert-many-sans-letsencrypt.pcap",
        flows: &[Fx {
            client_port: 23481,
            version: Some("TLSv1.0"),
            certs: &[Cert {
                san_count: Some(17),
                ..GLUPTEBA_CERT
            }],
            findings: &["obsolete_version"],
            ..F
        }],
        extra: Some(glupteba_sans),
    },
    // .rules: sid 1 on a subject containing a NUL byte; tlstriage keeps it, escaped.
    cap(
        "suricata-verify/tls12-cert-subject-with-nul-byte-nulllink.pcap",
        &[Fx {
            client_port: 60676,
            sni: Some("go.microsoft.com"),
            certs: &[Cert {
                subject: Some("C=US, ST=WA, L=Redmond, O=Microsoft Corporat\\x00on, OU=Microsoft Corporation, CN=go.microsoft.com"),
                ..CERT
            }],
            ..F
        }],
    ),
    // .rules: sid 1 on an issuer containing a NUL byte.
    cap(
        "suricata-verify/tls12-cert-issuer-with-nul-byte-nulllink.pcap",
        &[Fx {
            client_port: 60676,
            certs: &[Cert {
                issuer: Some("C=US, O=Microsoft Corporation, CN=Microsoft RSA TL\\x00 CA 01"),
                ..CERT
            }],
            ..F
        }],
    ),
    // test.yaml: sid 1 fires: the certificate is parsed although it lacks an issuer.
    cap(
        "suricata-verify/tls12-cert-without-issuer.pcap",
        &[Fx {
            client_port: 54080,
            version: Some("TLSv1.2"),
            established: Some(true),
            certs: &[Cert {
                issuer: Some(""),
                ..CERT
            }],
            ..F
        }],
    ),
    // test.yaml: the server certificate and the client certificate are both stored.
    Cap {
        file: "suricata-verify/tls12-client-cert-auth-ipv6-nulllink.pcap",
        flows: &[Fx {
            client_port: 58606,
            version: Some("TLSv1.2"),
            established: Some(true),
            history: Some("CsxkrnXGYIi"),
            certs: &[Cert {
                subject: Some("C=HU, ST=Budapest, L=Budapest, O=TLSClientAuthSampleServer, CN=SampleServer"),
                ..CERT
            }],
            ..F
        }],
        extra: Some(client_cert_present),
    },
    // .rules: tls.certs matches 3 different certificates (CN lengths 15, 30, 23).
    Cap {
        file: "suricata-verify/tls12-cert-chain-3-certs-ipv6.pcap",
        flows: &[Fx {
            client_port: 48106,
            version: Some("TLSv1.2"),
            established: Some(true),
            ..F
        }],
        extra: Some(three_cert_chain),
    },
    // test.yaml: ja3.string "771,4866-...,5-10-11-13-22-23-35-51-43-65281-0-45,23,0" from the
    // first of two ClientHellos.
    Cap {
        file: "suricata-verify/tls-duplicate-clienthello-nulllink.pcap",
        flows: &[Fx {
            client_port: 49954,
            sni: Some("localhost"),
            ja3_text: Some("771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0"),
            ..F
        }],
        extra: Some(duplicate_client_hello),
    },
    // test.yaml: tls.ja4 t12i1810s1_27d4652c4487_06a4338d0495.
    cap(
        "suricata-verify/tls12-ja4-fingerprint.pcap",
        &[Fx {
            client_port: 49365,
            version: Some("TLSv1.2"),
            ja4: Some("t12i1810s1_27d4652c4487_06a4338d0495"),
            ..F
        }],
    ),
    // test.yaml: stats.decoder.tcp 7 (link type 228, DLT_IPV4).
    Cap {
        file: "suricata-verify/tls12-linktype228-ipv4.pcap",
        flows: &[Fx {
            client_port: 15057,
            sni: Some("www.perdu.com"),
            version: Some("TLSv1.2"),
            history: Some("Cs"),
            ..F
        }],
        extra: Some(seven_tcp_packets),
    },
    // test.yaml: tls.version "TLSv1"; only a ClientHello, no ServerHello.
    cap(
        "suricata-verify/tlsv1-clienthello-only-no-server-reply.pcap",
        &[Fx {
            client_port: 49905,
            version: Some("-"),
            history: Some("C"),
            established: Some(false),
            findings: &["obsolete_version", "handshake_aborted"],
            evidence: &[
                ("obsolete_version", "version", "TLSv1.0"),
                ("handshake_aborted", "stage", "client_hello"),
            ],
            ..F
        }],
    ),
    // ssl.log: version -, last_alert handshake_failure, established F, ssl_history Cl.
    cap(
        "zeek/tls12-handshake-failure-alert.pcap",
        &[Fx {
            client_port: 53525,
            version: Some("-"),
            cipher: Some("-"),
            history: Some("Cl"),
            established: Some(false),
            alerts: &[("server", "handshake_failure")],
            findings: &["tls_alert", "handshake_aborted"],
            ..F
        }],
    ),
    // analyzer-events: "Invalid version late in TLS connection. Packet reported version: 0".
    // The server's answer is "00 00 00 00 02 00 28": not a TLS record. Zeek calls it an SSL
    // protocol violation; tlstriage says the server answered the ClientHello with non-TLS
    // bytes (tls_to_plaintext_port, protocol unknown). Both: no ServerHello, no handshake.
    cap(
        "zeek/tls12-protocol-error-invalid-version.pcap",
        &[Fx {
            client_port: 53525,
            version: Some("-"),
            history: Some("C"),
            established: Some(false),
            findings: &["tls_to_plaintext_port", "handshake_aborted"],
            evidence: &[(
                "tls_to_plaintext_port",
                "server_first_bytes",
                "\\x00\\x00\\x00\\x00\\x02\\x00(",
            )],
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_RSA_WITH_RC4_128_MD5 established F ssl_history CsxnG; x509.log
    // still has the 3 certificates. tlstriage's history is CsxnGi: the client's corrupted
    // ChangeCipherSpec (record header 14 ff ff ff 01) stops Zeek's whole analyzer, while
    // tlstriage keeps parsing the server's direction, which does send its ChangeCipherSpec.
    cap(
        "zeek/tls12-late-protocol-error.pcap",
        &[Fx {
            client_port: 56637,
            version: Some("TLSv1.2"),
            cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
            history: Some("CsxnGi"),
            established: Some(false),
            findings: &["malformed_tls", "handshake_aborted", "weak_cipher"],
            evidence: &[("malformed_tls", "sent_by", "client")],
            certs: TALEO_CHAIN,
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_RSA_WITH_RC4_128_MD5 established T ssl_history CsxnGIi; x509.log.
    cap(
        "zeek/tls12-normal-handshake.pcap",
        &[Fx {
            client_port: 56637,
            version: Some("TLSv1.2"),
            cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
            history: Some("CsxnGIi"),
            established: Some(true),
            // The chain ends at AddTrust External CA Root (sent), which Mozilla removed
            // after it expired in 2020: `openssl verify -attime <capture>` against Debian's
            // bundle says "self-signed certificate in certificate chain" (error 19).
            findings: &["weak_cipher", "certificate_untrusted"],
            evidence: &[
                ("weak_cipher", "cipher", "TLS_RSA_WITH_RC4_128_MD5"),
                ("certificate_untrusted", "reason", "unknown_root"),
                (
                    "certificate_untrusted",
                    "root_subject",
                    "C=SE, O=AddTrust AB, OU=AddTrust External TTP Network, CN=AddTrust External CA Root",
                ),
            ],
            certs: TALEO_CHAIN,
            ..F
        }],
    ),
    // dpd stdout 4th section "Client hello, 192.168.6.217, 67.207.128.99, 771"; MANIFEST: a
    // warning unrecognized_name alert, handshake continues. On the wire the alert record
    // comes first in the server's first segment (15 03 03 00 02 01 70, then the
    // ServerHello), hence "Cl" before "s" and the capture's upstream name "early alert".
    cap(
        "zeek/tls-early-alert-before-handshake.pcap",
        &[Fx {
            client_port: 50020,
            sni: Some("jeffbryner.com"),
            version: Some("TLSv1.2"),
            history: Some("ClsxknGIti"),
            established: Some(true),
            alerts: &[("server", "unrecognized_name")],
            findings: &["tls_alert"],
            evidence: &[
                ("tls_alert", "level", "warning"),
                ("tls_alert", "description", "unrecognized_name"),
            ],
            absent: &["handshake_aborted"],
            ..F
        }],
    ),
    // dpd stdout "Client hello, 192.168.4.149, 91.227.4.92, 2"; weak-keys notice
    // SSL::Old_Version "Host uses protocol version SSLv2 ...". The server answers with an
    // SSLv2 SERVER-HELLO. tshark: CLIENT-MASTER-KEY (frame 8), then encrypted records both
    // ways (SERVER-VERIFY 9, CLIENT-FINISHED 10, SERVER-FINISHED 11) and data until the
    // server's FIN: a complete SSLv2 session, not an abort (issue #19 item 8).
    cap(
        "zeek/sslv2-clienthello.pcap",
        &[Fx {
            client_port: 59062,
            version: Some("SSLv2"),
            history: Some("Cs"),
            established: Some(true),
            findings: &["obsolete_version"],
            evidence: &[("obsolete_version", "version", "SSLv2")],
            absent: &["tls_to_plaintext_port", "malformed_tls", "handshake_aborted"],
            ..F
        }],
    ),
    // keyexchange ssl-all rows 192.150.187.164 -> 194.127.84.106: TLSv10
    // TLS_RSA_WITH_RC4_128_MD5 established T CsxnGIi (3 flows); weak-keys notice
    // SSL::Weak_Cipher for 58868; x509 serial of www.dresdner-privat.de.
    cap(
        "zeek/tls10-rc4-md5-weak-cipher-3-flows.pcap",
        &[
            Fx {
                client_port: 58868,
                version: Some("TLSv1.0"),
                cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
                history: Some("CsxnGIi"),
                established: Some(true),
                findings: &["weak_cipher", "obsolete_version"],
                evidence: &[
                    ("weak_cipher", "cipher", "TLS_RSA_WITH_RC4_128_MD5"),
                    ("weak_cipher", "weakness", "RC4"),
                ],
                certs: &[Cert {
                    subject: Some("C=DE, ST=Bayern, L=Muenchen, O=AGIS Allianz Dresdner Informationssysteme GmbH, OU=Terms of use at www.verisign.com/rpa (c)00, CN=www.dresdner-privat.de"),
                    ..CERT
                }],
                ..F
            },
            Fx {
                client_port: 58869,
                version: Some("TLSv1.0"),
                cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
                history: Some("CsxnGIi"),
                established: Some(true),
                findings: &["weak_cipher"],
                ..F
            },
            Fx {
                client_port: 58870,
                version: Some("TLSv1.0"),
                cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
                history: Some("CsxnGIi"),
                established: Some(true),
                findings: &["weak_cipher"],
                ..F
            },
        ],
    ),
    // ssl.log: TLSv11 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA secp256r1 T CsxknGIti; x509.log.
    cap(
        "zeek/tls11-handshake.pcap",
        &[Fx {
            client_port: 62987,
            version: Some("TLSv1.1"),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
            history: Some("CsxknGIti"),
            established: Some(true),
            findings: &["obsolete_version"],
            evidence: &[("obsolete_version", "version", "TLSv1.1")],
            certs: &[
                // 22a920a5... 3D1DE44E346ECE68 CN=*.google.com 1509544136 1516800660
                Cert {
                    subject: Some("C=US, ST=California, L=Mountain View, O=Google Inc, CN=*.google.com"),
                    issuer: Some(GOOGLE_G2),
                    serial: Some("3D1DE44E346ECE68"),
                    not_before: When::Unix(1509544136),
                    not_after: When::Unix(1516800660),
                    ..CERT
                },
                // 9b759d41... 0100212588B0FA59A777EF057B6627DF 1495452757 1546300799
                Cert {
                    pos: 1,
                    subject: Some(GOOGLE_G2),
                    issuer: Some(GEOTRUST),
                    serial: Some("0100212588B0FA59A777EF057B6627DF"),
                    not_before: When::Unix(1495452757),
                    not_after: When::Unix(1546300799),
                    ..CERT
                },
                // 3c35cc96... 12BBE6 GeoTrust Global CA 1021953600 1534824000
                Cert {
                    pos: 2,
                    subject: Some(GEOTRUST),
                    serial: Some("12BBE6"),
                    not_before: When::Unix(1021953600),
                    not_after: When::Unix(1534824000),
                    ..CERT
                },
            ],
            ..F
        }],
    ),
    // expiring-certs notice: SSL::Certificate_Expired "CN=www.spidh.org,... expired at
    // 2014-03-04-23:59:59" for 60539; Certificate_Expires_Soon (2014-03-14) for 60540.
    // validate-certs ssl.log: TLSv10 TLS_DHE_RSA_WITH_AES_256_CBC_SHA CsxknGIti /
    // TLS_RSA_WITH_AES_256_CBC_SHA CsxnGIi, both established.
    cap(
        "zeek/tls10-expired-certificate.pcap",
        &[
            Fx {
                client_port: 60539,
                version: Some("TLSv1.0"),
                cipher: Some("TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
                history: Some("CsxknGIti"),
                established: Some(true),
                findings: &["certificate_expired", "obsolete_version"],
                evidence: &[
                    (
                        "certificate_expired",
                        "subject",
                        "OU=Domain Control Validated, OU=COMODO SSL, CN=www.spidh.org",
                    ),
                    ("certificate_expired", "not_after", "2014-03-04T23:59:59Z"),
                ],
                ..F
            },
            Fx {
                client_port: 60540,
                version: Some("TLSv1.0"),
                cipher: Some("TLS_RSA_WITH_AES_256_CBC_SHA"),
                history: Some("CsxnGIi"),
                established: Some(true),
                // Expires soon, not yet expired: no certificate_expired.
                absent: &["certificate_expired"],
                certs: &[Cert {
                    not_after: When::Utc("2014-03-14T23:59:59Z"),
                    ..CERT
                }],
                ..F
            },
        ],
    ),
    // validate-certs ssl.log: TLSv10 TLS_RSA_WITH_RC4_128_MD5 CsxnGIi (58529, 58532) and
    // TLSv12 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 CsxknGIti (58530), all established.
    // validation_status: "unable to get local issuer certificate" on 58529 and 58532 (the
    // server sends only its leaf), ok on 58530 (the full chain): certificate_chain_incomplete
    // names the missing Starfield intermediate and its AIA URL, with Mozilla's roots only.
    cap(
        "zeek/tls-missing-intermediate-cert.pcap",
        &[
            Fx {
                client_port: 58529,
                version: Some("TLSv1.0"),
                cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
                history: Some("CsxnGIi"),
                established: Some(true),
                findings: &["certificate_chain_incomplete"],
                evidence: &[
                    ("certificate_chain_incomplete", "missing_issuer", STARFIELD_G2),
                    ("certificate_chain_incomplete", "last_sent", "OU=Domain Control Validated, CN=www.cviis.org"),
                    ("certificate_chain_incomplete", "aia_ca_issuers", "http://certificates.starfieldtech.com/repository/sfig2.crt"),
                ],
                certs: &[Cert {
                    subject: Some("OU=Domain Control Validated, CN=www.cviis.org"),
                    ..CERT
                }],
                ..F
            },
            Fx {
                client_port: 58530,
                version: Some("TLSv1.2"),
                cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
                history: Some("CsxknGIti"),
                established: Some(true),
                absent: &["certificate_chain_incomplete", "certificate_untrusted"],
                ..F
            },
            Fx {
                client_port: 58532,
                version: Some("TLSv1.0"),
                cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
                history: Some("CsxnGIi"),
                established: Some(true),
                findings: &["certificate_chain_incomplete"],
                evidence: &[
                    ("certificate_chain_incomplete", "missing_issuer", STARFIELD_G2),
                    ("certificate_chain_incomplete", "last_sent", "OU=Domain Control Validated, CN=www.cviis.org"),
                    ("certificate_chain_incomplete", "aia_ca_issuers", "http://certificates.starfieldtech.com/repository/sfig2.crt"),
                ],
                ..F
            },
        ],
    ),
    // ssl.log: TLSv12 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 secp256r1 sni 104.236.167.107
    // established F ssl_history Csxkn, subject CN=Bro issuer CN=Bro (a 340 KB leaf).
    cap(
        "zeek/tls12-fragmented-handshake-port4433.pcap",
        &[Fx {
            client_port: 61454,
            version: Some("TLSv1.2"),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
            sni: Some("104.236.167.107"),
            history: Some("Csxkn"),
            established: Some(false),
            certs: &[Cert {
                subject: Some("CN=Bro"),
                issuer: Some("CN=Bro"),
                ..CERT
            }],
            ..F
        }],
    ),
    // tls13 multi log row 10.192.48.168 -> 64.233.185.139: TLSv13 TLS_AES_256_GCM_SHA384
    // secp256r1 established T ssl_history CjiICs.
    cap(
        "zeek/tls13-hello-retry-request.pcap",
        &[Fx {
            client_port: 63564,
            version: Some("TLSv1.3"),
            cipher: Some("TLS_AES_256_GCM_SHA384"),
            history: Some("CjiICs"),
            established: Some(true),
            ..F
        }],
    ),
    // tls13 multi log, first section (192.168.6.203:53226/53227): server_name
    // tls13.crypto.mozilla.org, last_alert protocol_version, established F, history Cl.
    cap(
        "zeek/tls13-draft16-chrome-aborted-protocol-version.pcap",
        &[
            Fx {
                client_port: 53226,
                ..DRAFT16_REJECTED
            },
            Fx {
                client_port: 53227,
                ..DRAFT16_REJECTED
            },
        ],
    ),
    // tls13 multi log, third section (192.150.187.20:54980/54982): the same verdict.
    cap(
        "zeek/tls13-draft16-firefox-aborted-protocol-version.pcap",
        &[
            Fx {
                client_port: 54980,
                ..DRAFT16_REJECTED
            },
            Fx {
                client_port: 54982,
                ..DRAFT16_REJECTED
            },
        ],
    ),
    // tls13 multi log, fourth section: 36778 TLSv13-draft16 TLS_CHACHA20_POLY1305_SHA256
    // secp384r1 last_alert unknown_ca established F history CsL; 36782 established T Cs.
    // tlstriage's history is CsLll: after the client's plaintext unknown_ca the server sends
    // two 19-byte encrypted records (frames 10 and 12), which tlstriage counts as (encrypted)
    // alerts and Zeek, which cannot see inside them, does not. The second one arrives after
    // the client's RST (frame 11); tlstriage keeps reading the other side after a RST (#19
    // item 8) and tshark shows the record too.
    cap(
        "zeek/tls13-draft16-firefox-unknown-ca-then-ok.pcap",
        &[
            Fx {
                client_port: 36778,
                version: Some("TLSv1.3-draft16"),
                cipher: Some("TLS_CHACHA20_POLY1305_SHA256"),
                history: Some("CsLll"),
                established: Some(false),
                alerts: &[("client", "unknown_ca")],
                findings: &["handshake_aborted"],
                evidence: &[
                    ("handshake_aborted", "aborted_by", "client"),
                    ("handshake_aborted", "likely_cause", "certificate_rejected"),
                ],
                ..F
            },
            Fx {
                client_port: 36782,
                version: Some("TLSv1.3-draft16"),
                cipher: Some("TLS_CHACHA20_POLY1305_SHA256"),
                history: Some("Cs"),
                established: Some(true),
                ..F
            },
        ],
    ),
    // tls13 multi log row 192.168.178.80 -> 174.138.9.219: TLSv13
    // TLS_CHACHA20_POLY1305_SHA256 x25519 resumed T established T CsiI.
    cap(
        "zeek/tls13-psk-resumption.pcap",
        &[Fx {
            client_port: 54220,
            version: Some("TLSv1.3"),
            cipher: Some("TLS_CHACHA20_POLY1305_SHA256"),
            history: Some("CsiI"),
            resumed: Some(true),
            established: Some(true),
            ..F
        }],
    ),
    // tls13 multi log row 0.0.51.217 -> 142.250.200.14: TLSv13 TLS_AES_128_GCM_SHA256
    // X25519Kyber768Draft00 lh3.google.com established T CsiI (curve checked in extra).
    Cap {
        file: "zeek/tls13-chrome-x25519-kyber.pcap",
        flows: &[Fx {
            client_port: 13783,
            version: Some("TLSv1.3"),
            cipher: Some("TLS_AES_128_GCM_SHA256"),
            sni: Some("lh3.google.com"),
            history: Some("CsiI"),
            established: Some(true),
            ..F
        }],
        extra: Some(kyber_group),
    },
    // ssl.log: 2 rows TLSv13 TLS_AES_128_GCM_SHA256 x25519 cloudflare-ech.com T CsiI.
    // (A third connection, 51053, carries no payload and is not in Zeek's ssl.log.)
    cap(
        "zeek/tls13-encrypted-client-hello.pcap",
        &[
            Fx {
                client_port: 51066,
                ..ECH_OK
            },
            Fx {
                client_port: 51071,
                ..ECH_OK
            },
            Fx {
                client_port: 51053,
                version: Some("-"),
                history: Some(""),
                ..F
            },
        ],
    ),
    // ssl.log: TLSv13-draft23 TLS_AES_128_GCM_SHA256 x25519 tls13.crypto.mozilla.org T CsiI.
    cap(
        "zeek/tls13-draft23-chrome.pcap",
        &[Fx {
            client_port: 63449,
            version: Some("TLSv1.3-draft23"),
            cipher: Some("TLS_AES_128_GCM_SHA256"),
            sni: Some("tls13.crypto.mozilla.org"),
            history: Some("CsiI"),
            established: Some(true),
            ..F
        }],
    ),
    // ssl.log: TLSv10 TLS_ECDHE_RSA_WITH_RC4_128_SHA secp256r1 ssl.gstatic.com T CsxknGIti;
    // x509.log 36F5DA5300000000505E CN=*.gstatic.com 1334102677 1365639277, SAN
    // *.gstatic.com,gstatic.com,*.metric.gstatic.com; 0B6771 1244493807 1370634207.
    cap(
        "zeek/tls-conn-with-extensions.pcap",
        &[Fx {
            client_port: 62045,
            version: Some("TLSv1.0"),
            cipher: Some("TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
            sni: Some("ssl.gstatic.com"),
            history: Some("CsxknGIti"),
            established: Some(true),
            findings: &["weak_cipher", "obsolete_version"],
            certs: &[
                Cert {
                    subject: Some("C=US, ST=California, L=Mountain View, O=Google Inc, CN=*.gstatic.com"),
                    issuer: Some("C=US, O=Google Inc, CN=Google Internet Authority"),
                    serial: Some("36F5DA5300000000505E"),
                    not_before: When::Unix(1334102677),
                    not_after: When::Unix(1365639277),
                    san_count: Some(3),
                    ..CERT
                },
                Cert {
                    pos: 1,
                    serial: Some("0B6771"),
                    not_before: When::Unix(1244493807),
                    not_after: When::Unix(1370634207),
                    ..CERT
                },
            ],
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 secp256r1 T CsxknGIti; smtp.log
    // last_reply "220 2.0.0 Ready to start TLS", tls T; x509.log 325D8297987D50B0
    // CN=mx.google.com 1378726355 1410262355, 023A69, 12BBE6.
    cap(
        "zeek/smtp-starttls.pcap",
        &[Fx {
            client_port: 54170,
            via: Some("starttls"),
            version: Some("TLSv1.2"),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            history: Some("CsxknGIti"),
            established: Some(true),
            findings: &["starttls"],
            evidence: &[
                ("starttls", "protocol", "smtp"),
                ("starttls", "result", "ok"),
                ("starttls", "server_response", "220 2.0.0 Ready to start TLS"),
            ],
            certs: &[
                Cert {
                    subject: Some("C=US, ST=California, L=Mountain View, O=Google Inc, CN=mx.google.com"),
                    issuer: Some(GOOGLE_G2),
                    serial: Some("325D8297987D50B0"),
                    not_before: When::Unix(1378726355),
                    not_after: When::Unix(1410262355),
                    ..CERT
                },
                Cert {
                    pos: 1,
                    subject: Some(GOOGLE_G2),
                    issuer: Some(GEOTRUST),
                    serial: Some("023A69"),
                    not_before: When::Unix(1365174955),
                    not_after: When::Unix(1428160555),
                    ..CERT
                },
                Cert {
                    pos: 2,
                    subject: Some(GEOTRUST),
                    serial: Some("12BBE6"),
                    ..CERT
                },
            ],
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 secp256r1 T CsxknGIi, subject
    // CN=imap.gmx.net,... issuer CN=TeleSec ServerPass DE-1,...; conn.log service imap,ssl.
    cap(
        "zeek/imap-starttls.pcap",
        &[Fx {
            client_port: 49640,
            via: Some("starttls"),
            version: Some("TLSv1.2"),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            history: Some("CsxknGIi"),
            established: Some(true),
            findings: &["starttls"],
            evidence: &[("starttls", "protocol", "imap"), ("starttls", "result", "ok")],
            certs: &[Cert {
                subject: Some(GMX_LEAF),
                issuer: Some(TELESEC_CA),
                ..CERT
            }],
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 established T CsxkrnXGIti;
    // conn.log service pop3,ssl.
    cap(
        "zeek/pop3-stls-loopback-nulllink.pcap",
        &[Fx {
            client_port: 54775,
            via: Some("starttls"),
            version: Some("TLSv1.2"),
            cipher: Some("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
            history: Some("CsxkrnXGIti"),
            established: Some(true),
            findings: &["starttls"],
            evidence: &[("starttls", "protocol", "pop3"), ("starttls", "result", "ok")],
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 secp256r1 T CsxknGIi; conn.log
    // service xmpp,ssl.
    cap(
        "zeek/xmpp-starttls.pcap",
        &[Fx {
            client_port: 56048,
            via: Some("starttls"),
            version: Some("TLSv1.2"),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            history: Some("CsxknGIi"),
            established: Some(true),
            findings: &["starttls"],
            evidence: &[("starttls", "protocol", "xmpp"), ("starttls", "result", "ok")],
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_RSA_WITH_AES_256_GCM_SHA384 established T CsxrnXGIti; conn.log
    // service irc,ssl (Linux cooked capture).
    cap(
        "zeek/irc-starttls-linux-sll.pcap",
        &[Fx {
            client_port: 55123,
            via: Some("starttls"),
            version: Some("TLSv1.2"),
            cipher: Some("TLS_RSA_WITH_AES_256_GCM_SHA384"),
            history: Some("CsxrnXGIti"),
            established: Some(true),
            findings: &["starttls"],
            evidence: &[("starttls", "protocol", "irc"), ("starttls", "result", "ok")],
            ..F
        }],
    ),
    // ssl.log: TLSv13 TLS_AES_256_GCM_SHA384 secp256r1 server_name 127.0.0.1 T CsiI;
    // ftp.log AUTH TLS -> 234 Proceed with negotiation.
    cap(
        "zeek/ftp-auth-tls.pcap",
        &[Fx {
            client_port: 40284,
            via: Some("starttls"),
            version: Some("TLSv1.3"),
            cipher: Some("TLS_AES_256_GCM_SHA384"),
            sni: Some("127.0.0.1"),
            history: Some("CsiI"),
            established: Some(true),
            findings: &["starttls"],
            evidence: &[
                ("starttls", "protocol", "ftp"),
                ("starttls", "result", "ok"),
                ("starttls", "server_response", "234 Proceed with negotiation."),
            ],
            ..F
        }],
    ),
    // conn.log: service -, 517 bytes to port 80, 468 bytes back, RSTO: a ClientHello met a
    // plain HTTP server (which answers an HTML page without a status line).
    cap(
        "zeek/https-client-to-http-server.pcap",
        &[Fx {
            client_port: 50382,
            version: Some("-"),
            history: Some("C"),
            established: Some(false),
            findings: &["tls_to_plaintext_port", "handshake_aborted"],
            evidence: &[
                ("tls_to_plaintext_port", "server_port", "80"),
                ("handshake_aborted", "likely_cause", "plaintext_mismatch"),
            ],
            ..F
        }],
    ),
    // ssl.log: server_name vk.com, version -, cipher -; http.log status 400 Bad Request.
    cap(
        "zeek/tls-clienthello-to-plain-http-server.pcap",
        &[Fx {
            client_port: 62561,
            sni: Some("vk.com"),
            version: Some("-"),
            cipher: Some("-"),
            findings: &["tls_to_plaintext_port", "handshake_aborted"],
            evidence: &[
                ("tls_to_plaintext_port", "detected_protocol", "http"),
                ("handshake_aborted", "likely_cause", "plaintext_mismatch"),
            ],
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 x25519 last_alert
    // handshake_failure established F CsxkrnXGIl; 2 server certs.
    cap(
        "zeek/tls-client-cert-requested-failed.pcap",
        &[Fx {
            client_port: 52464,
            version: Some("TLSv1.2"),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            history: Some("CsxkrnXGIl"),
            established: Some(false),
            alerts: &[("server", "handshake_failure")],
            findings: &["tls_alert", "handshake_aborted"],
            evidence: &[("handshake_aborted", "aborted_by", "server")],
            certs: &[Cert {
                subject: Some("C=US, ST=Some-State, O=SomeOrg, CN=testing.zeek.org"),
                ..CERT
            }],
            ..F
        }],
    ),
    // notice.log: Heartbleed::SSL_Heartbeat_Attack "Record length 16368. Payload length
    // 16365" (see extra).
    Cap {
        file: "zeek/tls-heartbleed-attempt.pcap",
        flows: &[Fx {
            client_port: 46592,
            version: Some("TLSv1.2"),
            history: Some("CsxknB"),
            established: Some(false),
            ..F
        }],
        extra: Some(heartbleed),
    },
    // ssl.log: TLSv12 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 secp256r1 established T
    // CsxknGIti (the certificate's bad signature parameters must not break anything).
    cap(
        "zeek/tls-cve-2015-3194-bad-sig-params.pcap",
        &[Fx {
            client_port: 52122,
            version: Some("TLSv1.2"),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            history: Some("CsxknGIti"),
            established: Some(true),
            certs: &[Cert {
                subject: Some("C=US, ST=CA, L=Berkeley, CN=bro.org"),
                ..CERT
            }],
            ..F
        }],
    ),
    // ssl.log: TLSv12 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 secp384r1 T CsxknGIti;
    // x509.log F0AFBBF558BF4D1B71FED9CB33793EE4 CN=pantz.org 1415404800 1573171199, ecdsa
    // 384; 510601E63B50673C55EE4E19DA304CA8 1394668800 1868054399.
    cap(
        "zeek/tls-ecdsa-cert.pcap",
        &[Fx {
            client_port: 49422,
            version: Some("TLSv1.2"),
            cipher: Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
            history: Some("CsxknGIti"),
            established: Some(true),
            certs: &[
                Cert {
                    subject: Some("OU=Domain Control Validated, OU=PositiveSSL, CN=pantz.org"),
                    issuer: Some("C=GB, ST=Greater Manchester, L=Salford, O=COMODO CA Limited, CN=COMODO ECC Domain Validation Secure Server CA"),
                    serial: Some("F0AFBBF558BF4D1B71FED9CB33793EE4"),
                    not_before: When::Unix(1415404800),
                    not_after: When::Unix(1573171199),
                    san_count: Some(2),
                    ..CERT
                },
                Cert {
                    pos: 1,
                    serial: Some("510601E63B50673C55EE4E19DA304CA8"),
                    not_before: When::Unix(1394668800),
                    not_after: When::Unix(1868054399),
                    ..CERT
                },
            ],
            ..F
        }],
    ),
    // x509.log: the T-TeleSec chain, root notBefore 931522260 (1999, UTCTime).
    cap(
        "zeek/tls-cert-1999-utctime.pcap",
        &[Fx {
            client_port: 65343,
            version: Some("TLSv1.2"),
            certs: TELESEC_CHAIN,
            ..F
        }],
    ),
    // stdout: OCSP result good: the handshake carries a CertificateStatus ("u") and
    // completes; the staple (thisUpdate 2014-04-21, nextUpdate 2014-04-28) is valid at the
    // capture (2014-04-24) and signed for the leaf by its issuer's responder.
    Cap {
        file: "zeek/tls-ocsp-stapling.pcap",
        flows: &[Fx {
            client_port: 56253,
            version: Some("TLSv1.0"),
            history: Some("CsxuknGIi"),
            established: Some(true),
            absent: &["certificate_revoked", "ocsp_staple_invalid"],
            ..F
        }],
        extra: Some(ocsp_good),
    },
    // http.log: CONNECT secure.newegg.com:443 -> 200 Connection Established; conn.log
    // service http,ssl.
    Cap {
        file: "zeek/http-connect-then-tls12-ipv6-nulllink.pcap",
        flows: &[Fx {
            client_port: 52522,
            via: Some("connect_proxy"),
            version: Some("TLSv1.2"),
            sni: Some("secure.newegg.com"),
            established: Some(true),
            absent: &["proxy_connect_failed"],
            ..F
        }],
        extra: Some(newegg_connect),
    },
    // known_services: SSH and SSL on 192.168.2.230 443/tcp.
    cap(
        "zeek/ssh-and-tls-on-port-443-sslh.pcap",
        &[
            Fx {
                client_port: 49641,
                version: Some("-"),
                findings: &["plaintext_to_tls_port"],
                evidence: &[("plaintext_to_tls_port", "detected_protocol", "ssh")],
                ..F
            },
            Fx {
                client_port: 49643,
                version: Some("TLSv1.2"),
                established: Some(true),
                absent: &["plaintext_to_tls_port"],
                ..F
            },
        ],
    ),
    // socks.log: SOCKS5 succeeded www.google.com:443; MANIFEST: TLS1.0 inside. The TLS
    // inside is checked by `socks5_tunnel_carries_tls10`. Here: analyzed without error, one flow.
    Cap {
        file: "zeek/socks-proxy-then-tls10.pcap",
        flows: &[Fx {
            client_port: 59580,
            ..F
        }],
        extra: None,
    },
    // analyzer_debug: SSL confirmation on 66.175.213.4:58380 -> 192.168.10.111:502, whose
    // server answers with a Modbus exception (not TLS).
    cap(
        "zeek/tls-clienthello-on-modbus-port-502.pcap",
        &[Fx {
            client_port: 58380,
            version: Some("-"),
            history: Some("C"),
            findings: &["tls_to_plaintext_port"],
            evidence: &[("tls_to_plaintext_port", "server_port", "502")],
            ..F
        }],
    ),
];

/// tls13 multi log: version -, server_name tls13.crypto.mozilla.org, last_alert
/// protocol_version, established F, ssl_history Cl.
const DRAFT16_REJECTED: Fx = Fx {
    version: Some("-"),
    cipher: Some("-"),
    sni: Some("tls13.crypto.mozilla.org"),
    history: Some("Cl"),
    established: Some(false),
    alerts: &[("server", "protocol_version")],
    findings: &["tls_alert", "version_mismatch", "handshake_aborted"],
    evidence: &[
        ("tls_alert", "description", "protocol_version"),
        ("handshake_aborted", "likely_cause", "version_mismatch"),
        ("handshake_aborted", "aborted_by", "server"),
    ],
    ..F
};

/// ssl.log of the ECH trace: TLSv13 TLS_AES_128_GCM_SHA256 x25519 cloudflare-ech.com (the
/// outer SNI) established T CsiI.
const ECH_OK: Fx = Fx {
    version: Some("TLSv1.3"),
    cipher: Some("TLS_AES_128_GCM_SHA256"),
    sni: Some("cloudflare-ech.com"),
    history: Some("CsiI"),
    established: Some(true),
    ..F
};

// ---------------------------------------------------------------------------
// Extra checks

fn flow(a: &Analysis, client_port: u16) -> &FlowRecord {
    &a.flows
        .iter()
        .find(|(f, _)| f.client.port == client_port)
        .unwrap_or_else(|| panic!("no flow from client port {client_port}"))
        .0
}

fn sslv2_compat_hello(a: &Analysis) {
    let ch = flow(a, 1660)
        .tls
        .as_ref()
        .and_then(|t| t.client_hello.as_ref())
        .expect("client hello");
    assert!(ch.sslv2_format, "the hello is in SSLv2 format");
    assert_eq!(ch.version, 0x0301, "and offers TLS 1.0");
}

fn all_versions_tls10(a: &Analysis) {
    let versions: BTreeSet<String> = a
        .flows
        .iter()
        .filter_map(|(f, _)| f.tls.as_ref().and_then(|t| t.negotiated_version()))
        .map(version_name)
        .collect();
    assert_eq!(versions, BTreeSet::from(["TLSv1.0".to_string()]));
}

fn connect_200(a: &Analysis) {
    assert_eq!(a.flows.len(), 1);
    let c = a.flows[0]
        .0
        .preamble
        .connect
        .as_ref()
        .expect("CONNECT seen");
    assert_eq!(c.status, Some(200));
}

fn rubicon_connect_target(a: &Analysis) {
    let c = flow(a, 62227).preamble.connect.as_ref().expect("CONNECT");
    assert_eq!(c.target, "secure-assets.rubiconproject.com:443");
}

fn newegg_connect(a: &Analysis) {
    let c = flow(a, 52522).preamble.connect.as_ref().expect("CONNECT");
    assert_eq!(c.target, "secure.newegg.com:443");
    assert_eq!(c.status, Some(200));
    assert_eq!(c.reason.as_deref(), Some("Connection Established"));
}

fn google_community_ids(a: &Analysis) {
    // test.yaml community_id values; suricata-verify runs with community-id seed 7.
    for (port, want) in [
        (60202, "1:ptJhMvufAbB5nLDNW77cB800wFM="),
        (33892, "1:PGf+a0eBbs1OhuPtJmsF0Sm51v4="),
    ] {
        let f = flow(a, port);
        let got = community_id_v1(f.client.ip, f.server.ip, f.client.port, f.server.port, 6, 7);
        assert_eq!(got, want, "community id of client port {port}");
        // The records use seed 0, the Community ID default.
        let seed0 = community_id_v1(f.client.ip, f.server.ip, f.client.port, f.server.port, 6, 0);
        assert_eq!(f.community_id, seed0);
    }
    let dst: IpAddr = "2607:f8b0:400a:800::200e".parse().unwrap();
    assert_eq!(flow(a, 60202).server.ip, dst);
}

fn selks_four_certs_one_resumed(a: &Analysis) {
    let with_cert = a
        .flows
        .iter()
        .filter(|(f, _)| {
            f.server_leaf().is_some_and(|c| {
                c.issuer == SELKS && serial_matches("00:97:E6:47:09:8E:EA:C9:B4", &c.serial)
            })
        })
        .count();
    assert_eq!(with_cert, 4);
    let resumed = a
        .flows
        .iter()
        .filter(|(f, _)| f.tls.as_ref().is_some_and(|t| t.resumed))
        .count();
    assert_eq!(resumed, 1);
    let tls_flows = a.flows.iter().filter(|(f, _)| f.tls.is_some()).count();
    assert_eq!(tls_flows, 5, "stats app_layer.flow.tls: 5");
}

fn glupteba_sans(a: &Analysis) {
    let leaf = flow(a, 23481).server_leaf().expect("leaf");
    let mut want: Vec<String> = (1..=16)
        .map(|i| format!("server{i}.xn--j1ahhq.xn--p1ai"))
        .collect();
    want.push("xn--j1ahhq.xn--p1ai".to_string());
    want.sort();
    let mut got = leaf.san.clone();
    got.sort();
    assert_eq!(got, want);
}

fn client_cert_present(a: &Analysis) {
    let f = flow(a, 58606);
    assert_eq!(f.client_certs.len(), 1, "the client's certificate");
    assert!(f.client_certs[0].is_ok());
    assert!(f.server_leaf().is_some());
}

fn ocsp_good(a: &Analysis) {
    use tlstriage::trust::ocsp::{read_staple, CertState, SignatureCheck, Subject};
    let f = flow(a, 56253);
    let tls = f.tls.as_ref().unwrap();
    let staple = tls
        .ocsp_staple
        .as_ref()
        .expect("the CertificateStatus staple");
    let chain: Vec<&[u8]> = tls.server_cert_der.iter().map(|d| d.as_slice()).collect();
    let read = read_staple(&staple.der, chain[0], chain[1..].iter().copied()).unwrap();
    let answer = read.answer.expect("a successful response");
    assert_eq!(read.response_status, "successful");
    assert_eq!(answer.state, CertState::Good);
    assert_eq!(answer.subject, Subject::Leaf);
    assert_eq!(
        tlstriage::model::format_secs(answer.this_update),
        "2014-04-21T08:04:10Z"
    );
    assert_eq!(
        answer
            .next_update
            .map(tlstriage::model::format_secs)
            .as_deref(),
        Some("2014-04-28T08:04:10Z")
    );
    assert!(
        matches!(
            read.signature,
            SignatureCheck::ByIssuer | SignatureCheck::ByDelegate
        ),
        "{:?}",
        read.signature
    );
}

fn three_cert_chain(a: &Analysis) {
    // tls.certs content |30 16 06 03 55 04 03 13 0f|, |..13 1e|, |..13 17|: CN lengths
    // 15, 30 and 23, one per certificate.
    let f = flow(a, 48106);
    let cns: Vec<usize> = f
        .server_certs
        .iter()
        .map(|c| {
            let c = c.as_ref().expect("parsed");
            c.common_names.first().map_or(0, |n| n.len())
        })
        .collect();
    assert_eq!(cns, vec![15, 30, 23]);
}

fn duplicate_client_hello(a: &Analysis) {
    let t = flow(a, 49954).tls.as_ref().expect("tls");
    assert_eq!(t.client_hello_count, 2);
}

fn seven_tcp_packets(a: &Analysis) {
    assert_eq!(a.stats.tcp_packets, 7);
}

fn kyber_group(a: &Analysis) {
    let sh = flow(a, 13783)
        .tls
        .as_ref()
        .and_then(|t| t.server_hello.as_ref())
        .expect("server hello");
    let g = sh.group.expect("key share group");
    assert_eq!(
        tlstriage::tls::names::group_name(g),
        "X25519Kyber768Draft00"
    );
}

fn heartbleed(a: &Analysis) {
    let t = flow(a, 46592).tls.as_ref().expect("tls");
    let hb: Vec<&TlsEventKind> = t
        .events
        .iter()
        .filter(|e| matches!(e.kind, TlsEventKind::Heartbeat { .. }))
        .map(|e| &e.kind)
        .collect();
    assert_eq!(
        hb,
        vec![&TlsEventKind::Heartbeat {
            len: 16368,
            payload_len_claimed: 16365
        }]
    );
    assert!(hb[0].is_heartbleed());
    // Zeek's Heartbleed::SSL_Heartbeat_Attack (no _Success: the server did not answer), and
    // the abort blamed on the probe, not on the certificate the scanner was shown.
    let kinds: Vec<(&str, &serde_json::Value)> = a
        .findings()
        .map(|(_, f)| (f.kind.as_str(), &f.evidence))
        .collect();
    let beat = kinds
        .iter()
        .find(|(k, _)| *k == "heartbeat")
        .expect("heartbeat finding");
    assert_eq!(beat.1["payload_length"], 16365);
    assert_eq!(beat.1["record_length"], 16368);
    assert_eq!(beat.1["leaked"], false);
    let aborted = kinds
        .iter()
        .find(|(k, _)| *k == "handshake_aborted")
        .expect("handshake_aborted");
    assert_eq!(aborted.1["likely_cause"], "heartbleed_probe");
    assert_eq!(
        t.events
            .iter()
            .find(|e| e.kind.is_heartbleed())
            .unwrap()
            .dir,
        Dir::ToServer
    );
}

// ---------------------------------------------------------------------------
// Checking

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if dir.join("MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    if std::env::var_os("TLSTRIAGE_REQUIRE_CORPUS").is_some() {
        panic!(
            "TLSTRIAGE_REQUIRE_CORPUS is set but {} has no MANIFEST.tsv",
            dir.display()
        );
    }
    eprintln!("skipping conformance: ../shared/captures not found");
    None
}

fn manifest(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

/// The two files that are damaged in the corpus: a record header at frame 7 claims a
/// captured length of 4325376 bytes.
const DAMAGED: &[&str] = &[
    "suricata-verify/tls12-cert-der-incomplete-header.pcap",
    "suricata-verify/tls12-cert-der-incomplete-content.pcap",
];

fn analyze(dir: &Path, file: &str) -> Analysis {
    let a = analyze_path(&dir.join(file), &AnalyzerConfig::default())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    if DAMAGED.contains(&file) {
        let e = a.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            e.contains("frame 7") && e.contains("captured length of 4325376 bytes"),
            "{file}: {e}"
        );
    } else if let Some(e) = &a.error {
        panic!("{file}: stopped with {e}");
    }
    a
}

/// Peer serial (Suricata "00:8A:..", Zeek "8A..") against tlstriage's DER content hex.
fn serial_matches(peer: &str, ours: &str) -> bool {
    let peer = peer.replace(':', "").to_ascii_lowercase();
    if ours == peer {
        return true;
    }
    // Zeek prints the value; the DER content has a 00 sign byte before a high bit.
    ours.strip_prefix("00") == Some(peer.as_str()) && peer.chars().next().is_some_and(|c| c >= '8')
}

fn evidence_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_when(ctx: &str, what: &str, want: When, got: i64) {
    match want {
        When::Any => {}
        When::Unix(s) => assert_eq!(got, s, "{ctx}: {what}"),
        When::Utc(s) => assert_eq!(format_secs(got), s, "{ctx}: {what}"),
    }
}

fn check_flow(file: &str, f: &FlowRecord, findings: &[Finding], x: &Fx) {
    let ctx = format!("{file} client port {}", x.client_port);
    let tls = f.tls.as_ref();
    let ch = tls.and_then(|t| t.client_hello.as_ref());
    let sh = tls.and_then(|t| t.server_hello.as_ref());
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    if let Some(v) = x.version {
        let got = opt(tls.and_then(|t| t.negotiated_version()).map(version_name));
        assert_eq!(got, v, "{ctx}: version");
    }
    if let Some(c) = x.cipher {
        assert_eq!(opt(sh.map(|s| cipher_name(s.cipher))), c, "{ctx}: cipher");
    }
    if let Some(s) = x.sni {
        assert_eq!(opt(f.sni().map(str::to_string)), s, "{ctx}: sni");
    }
    if let Some(h) = x.history {
        assert_eq!(tls.map_or("", |t| t.history.as_str()), h, "{ctx}: history");
    }
    if let Some(e) = x.established {
        assert_eq!(tls.is_some_and(|t| t.established), e, "{ctx}: established");
    }
    if let Some(r) = x.resumed {
        assert_eq!(tls.is_some_and(|t| t.resumed), r, "{ctx}: resumed");
    }
    if let Some(v) = x.via {
        let got = f.preamble.via.map_or("-", |v| v.as_str());
        assert_eq!(got, v, "{ctx}: via");
    }
    for &(sender, desc) in x.alerts {
        let seen = tls.is_some_and(|t| {
            t.events.iter().any(|e| match e.kind {
                TlsEventKind::Alert { description, .. } => {
                    let by = if e.dir == Dir::ToServer {
                        "client"
                    } else {
                        "server"
                    };
                    by == sender && alert_description_name(description) == desc
                }
                _ => false,
            })
        });
        assert!(seen, "{ctx}: alert {desc} from the {sender}");
    }
    let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    for k in x.findings {
        assert!(kinds.contains(k), "{ctx}: finding {k} missing in {kinds:?}");
    }
    for k in x.absent {
        assert!(!kinds.contains(k), "{ctx}: unexpected finding {k}");
    }
    for &(kind, key, want) in x.evidence {
        let found = findings
            .iter()
            .filter(|f| f.kind.as_str() == kind)
            .any(|f| f.evidence.get(key).map(evidence_str).as_deref() == Some(want));
        let have: Vec<String> = findings
            .iter()
            .filter(|f| f.kind.as_str() == kind)
            .map(|f| f.evidence.to_string())
            .collect();
        assert!(found, "{ctx}: {kind}.{key} = {want:?}; have {have:?}");
    }
    for c in x.certs {
        let cctx = format!("{ctx}: certificate {}", c.pos);
        let info = match f.server_certs.get(c.pos) {
            Some(Ok(info)) => info,
            other => panic!("{cctx}: {other:?}"),
        };
        if let Some(s) = c.subject {
            assert_eq!(info.subject, s, "{cctx}: subject");
        }
        if let Some(s) = c.issuer {
            assert_eq!(info.issuer, s, "{cctx}: issuer");
        }
        if let Some(s) = c.serial {
            assert!(
                serial_matches(s, &info.serial),
                "{cctx}: serial {} vs peer {s}",
                info.serial
            );
        }
        check_when(&cctx, "not_before", c.not_before, info.not_before);
        check_when(&cctx, "not_after", c.not_after, info.not_after);
        if let Some(n) = c.san_count {
            assert_eq!(info.san.len(), n, "{cctx}: SAN count");
        }
    }
    if let Some(t) = x.ja3_text {
        assert_eq!(ja3(ch.expect("client hello")).text, t, "{ctx}: ja3 string");
    }
    if let Some(h) = x.ja3_hash {
        assert_eq!(ja3(ch.expect("client hello")).hash, h, "{ctx}: ja3 hash");
    }
    if let Some(j) = x.ja4 {
        assert_eq!(ja4(ch.expect("client hello")), j, "{ctx}: ja4");
    }
}

#[test]
fn conformance_table_covers_the_manifest() {
    let Some(dir) = corpus() else {
        return;
    };
    let listed: BTreeSet<String> = manifest(&dir).into_iter().collect();
    let tabled: BTreeSet<String> = CAPTURES.iter().map(|c| c.file.to_string()).collect();
    assert_eq!(
        tabled.len(),
        CAPTURES.len(),
        "a capture is in the table twice"
    );
    let missing: Vec<_> = listed.difference(&tabled).collect();
    let unknown: Vec<_> = tabled.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "captures without expectations: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "table entries not in MANIFEST.tsv: {unknown:?}"
    );
}

#[test]
fn every_capture_is_analyzed() {
    let Some(dir) = corpus() else {
        return;
    };
    for file in manifest(&dir) {
        let a = analyze(&dir, &file);
        assert!(a.stats.packets > 0, "{file}: no packets");
    }
}

#[test]
fn damaged_files_stop_at_frame_7_after_analyzing_what_came_before() {
    let Some(dir) = corpus() else {
        return;
    };
    for file in DAMAGED {
        let a = analyze(&dir, file);
        assert_eq!(a.stats.packets, 6, "{file}: frames 1-6 were read");
        let f = flow(&a, 50802);
        let t = f.tls.as_ref().expect("tls");
        assert_eq!(t.history, "Csx", "{file}");
        // The Certificate message is there, and its DER is refused for what it is.
        let err = match f.server_certs.first() {
            Some(Err(e)) => e.clone(),
            other => panic!("{file}: {other:?}"),
        };
        let want = if file.contains("header") {
            "truncated DER header"
        } else {
            "truncated DER content"
        };
        assert!(err.starts_with(want), "{file}: {err}");
    }
}

#[test]
fn peers_expectations() {
    let Some(dir) = corpus() else {
        return;
    };
    for c in CAPTURES {
        let a = analyze(&dir, c.file);
        for x in c.flows {
            let (f, findings) = a
                .flows
                .iter()
                .find(|(f, _)| f.client.port == x.client_port)
                .unwrap_or_else(|| {
                    panic!("{}: no flow from client port {}", c.file, x.client_port)
                });
            check_flow(c.file, f, findings, x);
        }
        if let Some(extra) = c.extra {
            extra(&a);
        }
    }
}

// ---------------------------------------------------------------------------
// Expectations not met because of bugs or gaps outside the files this test's author
// could change. Each states the correct behaviour.

/// zeek/socks-proxy-then-tls10: socks.log "5 ... succeeded www.google.com 443"; MANIFEST
/// "SOCKS5 proxy (1080) CONNECT www.google.com:443 then TLS1.0 inside": the SOCKS sniffer
/// follows the tunnel and the TLS inside is analysed with via socks_proxy.
#[test]
fn socks5_tunnel_carries_tls10() {
    let Some(dir) = corpus() else {
        return;
    };
    let a = analyze(&dir, "zeek/socks-proxy-then-tls10.pcap");
    let f = flow(&a, 59580);
    let t = f.tls.as_ref().expect("TLS inside the SOCKS tunnel");
    assert_eq!(
        t.negotiated_version().map(version_name).as_deref(),
        Some("TLSv1.0")
    );
    assert!(t.established);
}

/// zeek/sslv2-clienthello: an SSLv2 SERVER-HELLO carries no TLS cipher suite (the client
/// picks the SSLv2 cipher in CLIENT-MASTER-KEY), so the placeholder 0x0000 must not be
/// reported as a negotiated TLS_NULL_WITH_NULL_NULL (weak_cipher "NULL"). Zeek's notices
/// for this trace: SSL::Old_Version only.
#[test]
fn sslv2_has_no_weak_tls_cipher() {
    let Some(dir) = corpus() else {
        return;
    };
    let a = analyze(&dir, "zeek/sslv2-clienthello.pcap");
    let kinds = a.kinds();
    assert!(kinds.contains(&"obsolete_version"));
    assert!(!kinds.contains(&"weak_cipher"), "{kinds:?}");
}

/// zeek/tls13-draft16-firefox-unknown-ca-then-ok: ssl.log last_alert unknown_ca for
/// 36778. The flow record's `last_alert` is the last alert event, which is the server's
/// encrypted 19-byte record after it ("encrypted"); the last alert whose description is
/// visible is the client's unknown_ca, and that is what a troubleshooter needs.
#[test]
fn last_alert_is_the_visible_unknown_ca() {
    let Some(dir) = corpus() else {
        return;
    };
    let a = analyze(&dir, "zeek/tls13-draft16-firefox-unknown-ca-then-ok.pcap");
    let (f, findings) = a
        .flows
        .iter()
        .find(|(f, _)| f.client.port == 36778)
        .expect("flow");
    let rec = tlstriage::output::tls_flow_record("x", f, findings);
    assert_eq!(rec["last_alert"], "unknown_ca");
}

/// zeek/tls13-draft16-firefox-aborted-protocol-version (issue #20): the version_mismatch
/// explanation and the offer-vs-choice verdict say the same thing about what the server
/// requires. The TLS 1.2-only retry is refused by a server that requires TLS 1.3; the
/// first attempt offers TLS 1.0 up to draft-16, so the server wants another TLS 1.3 version,
/// not "TLS 1.2 or newer" (which the client offers).
#[test]
fn firefox_draft16_explanations_do_not_contradict_themselves() {
    let Some(dir) = corpus() else {
        return;
    };
    let a = analyze(
        &dir,
        "zeek/tls13-draft16-firefox-aborted-protocol-version.pcap",
    );
    let explanation = |port: u16| -> String {
        let (_, findings) = a
            .flows
            .iter()
            .find(|(f, _)| f.client.port == port)
            .expect("flow");
        findings
            .iter()
            .find(|f| f.kind.as_str() == "handshake_aborted")
            .expect("handshake_aborted")
            .explanation
            .clone()
    };
    let retry = explanation(54982);
    assert!(
        retry.contains("it requires TLS 1.3. Enable TLS 1.3 on the client"),
        "{retry}"
    );
    assert!(!retry.contains("TLS 1.2 or newer"), "{retry}");
    let first = explanation(54980);
    assert!(
        first.contains("it requires a version the client does not offer. The server most likely speaks only another TLS 1.3 version"),
        "{first}"
    );
    assert!(!first.contains("TLS 1.2 or newer"), "{first}");
}
