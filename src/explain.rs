//! `tlstriage explain KIND`: the long explanation of a finding kind or of a
//! `handshake_aborted` `likely_cause`: what it means, the usual causes seen when
//! troubleshooting, and the commands that confirm it from either end.

use std::fmt::Write as _;

pub mod alerts;

/// Whether a topic is a finding `kind`, a `likely_cause` of `handshake_aborted`, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicType {
    Kind,
    Cause,
    KindAndCause,
}

impl TopicType {
    fn label(self) -> &'static str {
        match self {
            TopicType::Kind => "finding kind",
            TopicType::Cause => "likely_cause of handshake_aborted",
            TopicType::KindAndCause => "finding kind, and likely_cause of handshake_aborted",
        }
    }
}

/// One explanation.
#[derive(Debug)]
pub struct Topic {
    pub name: &'static str,
    pub topic_type: TopicType,
    /// One line: what the finding says.
    pub title: &'static str,
    /// What it means on the wire, in plain words.
    pub meaning: &'static str,
    /// Common causes, most frequent first.
    pub causes: &'static [&'static str],
    /// Commands that confirm it: (command, what to look for).
    pub confirm: &'static [(&'static str, &'static str)],
}

const S_CLIENT: &str = "openssl s_client -connect HOST:PORT -servername NAME </dev/null";
const CURL_V: &str = "curl -v https://NAME:PORT/";

/// Every topic: the 22 finding kinds, then the likely causes that are not also kinds.
pub const TOPICS: &[Topic] = &[
    Topic {
        name: "handshake_aborted",
        topic_type: TopicType::Kind,
        title: "a TLS handshake began (ClientHello seen) and never completed",
        meaning: "The client sent a ClientHello but the two sides never finished the handshake: one of them sent \
            a fatal alert, reset or closed the connection, or the flow went quiet. The evidence says who gave up \
            (aborted_by), at which step (stage), how (rst, fin, alert, timeout, capture_end), and the most likely \
            cause (likely_cause, with a confidence and the reasons). Run `tlstriage explain <likely_cause>` for \
            the cause itself.",
        causes: &[
            "version mismatch: the client's TLS versions and the server's do not overlap (likely_cause version_mismatch)",
            "cipher mismatch: no cipher suite, group or signature algorithm in common (cipher_mismatch)",
            "expired, not yet valid, self-signed or untrusted certificate rejected by the client (certificate_rejected)",
            "SNI mismatch: the certificate does not cover the name the client asked for (name_mismatch)",
            "plaintext to a TLS port, or TLS to a plaintext port (plaintext_mismatch)",
            "proxy misconfiguration: the HTTP CONNECT tunnel was refused or the proxy intercepts TLS (proxy)",
            "server-side TLS not configured for this name/port, or a load balancer/firewall in front of it (server_closed_without_alert)",
            "client timeout, user cancel, or a TLS library that rejects without an alert (client_gave_up)",
        ],
        confirm: &[
            (S_CLIENT, "reproduces the handshake and prints the error, the negotiated version/cipher and the chain"),
            (CURL_V, "shows the step where the client's TLS library stops and its error message"),
            ("tshark -r CAPTURE -Y 'tcp.stream eq N'", "the flow's packets; the finding's wireshark_filter selects it"),
        ],
    },
    Topic {
        name: "tls_alert",
        topic_type: TopicType::Kind,
        title: "a TLS alert record was sent",
        meaning: "An alert is how a TLS stack says why it stops. A fatal alert ends the connection; warning \
            alerts are informational; close_notify is the normal end of a session. In TLS 1.3 (and in TLS 1.2 \
            after ChangeCipherSpec) alerts are encrypted: tlstriage then recognises them by position and size \
            (encrypted: true) but cannot read the description.",
        causes: &[
            "protocol_version: version mismatch between client and server",
            "handshake_failure / insufficient_security: cipher mismatch (no common suite, group or signature algorithm), or a missing client certificate",
            "unknown_ca, bad_certificate, certificate_unknown: the certificate is untrusted (private CA, missing intermediate, self-signed)",
            "certificate_expired: expired certificate, or a wrong clock on one end",
            "unrecognized_name: SNI mismatch, the server has no virtual host for the name",
            "decrypt_error, bad_record_mac: a middlebox or TLS-intercepting proxy altering the handshake",
        ],
        confirm: &[
            (S_CLIENT, "prints the alert it receives (e.g. 'tlsv1 alert protocol version') or the verify error it sends"),
            (CURL_V, "names the alert in its error line"),
        ],
    },
    Topic {
        name: "plaintext_to_tls_port",
        topic_type: TopicType::Kind,
        title: "the client sent plaintext to a port where TLS was expected",
        meaning: "The client's first bytes to a TLS port were not a TLS record: typically an HTTP request to 443, \
            or an SMTP/IMAP/POP3 command to the implicit-TLS port (465, 993, 995). The server sees garbage where \
            a ClientHello should be and answers with an alert, closes, resets, or returns an HTTP 400 ('plain \
            HTTP request was sent to HTTPS port').",
        causes: &[
            "plaintext to a TLS port: http:// used where https:// is needed, or a client configured without TLS",
            "STARTTLS vs implicit TLS confusion: the client expects to upgrade in-protocol, the port speaks TLS from the first byte",
            "proxy misconfiguration: a proxy or load balancer forwarding plaintext to a TLS backend (TLS offload configured on one side only)",
            "a health check or monitoring probe using the wrong scheme",
        ],
        confirm: &[
            (S_CLIENT, "completes a handshake if the port really speaks TLS"),
            ("curl -v http://HOST:PORT/", "a plain request to the TLS port: the server answers with garbage, a reset or HTTP 400"),
            ("openssl s_client -connect HOST:PORT -starttls smtp", "for mail ports: tells whether the port wants STARTTLS (587/25) or implicit TLS (465)"),
        ],
    },
    Topic {
        name: "tls_to_plaintext_port",
        topic_type: TopicType::Kind,
        title: "a ClientHello was answered in plaintext",
        meaning: "The client started a TLS handshake, but the server answered with plaintext (an 'HTTP/1.1 400' \
            page, an SMTP or FTP banner): the port does not speak TLS. Clients report this as 'wrong version \
            number' (OpenSSL) or 'packet length too long', because they parse the plaintext as a TLS record header.",
        causes: &[
            "https:// used against a plain HTTP port (80, 8080) or a backend without TLS",
            "implicit TLS used against a STARTTLS port (SMTP 25/587, IMAP 143): the client must send STARTTLS first",
            "proxy misconfiguration: the client talks TLS to an HTTP proxy port instead of using CONNECT",
            "a TLS-terminating load balancer removed or moved to another port",
        ],
        confirm: &[
            (S_CLIENT, "fails with 'wrong version number'; the first bytes of the answer show the plaintext protocol"),
            ("curl -v http://HOST:PORT/", "a plain request gets a normal answer"),
            ("openssl s_client -connect HOST:PORT -starttls smtp", "for mail ports: the upgrade succeeds if the port wants STARTTLS"),
        ],
    },
    Topic {
        name: "version_mismatch",
        topic_type: TopicType::KindAndCause,
        title: "client and server share no TLS version",
        meaning: "One side sent a protocol_version alert, or the versions offered by the client and the versions \
            accepted by the server do not overlap. Usually the server aborts right after the ClientHello. Clients \
            report 'unsupported protocol', 'no protocols available', 'tlsv1 alert protocol version' or \
            'wrong version number'.",
        causes: &[
            "an old client (Java 7, old OpenSSL, embedded devices) offering only TLS 1.0/1.1 to a server that requires TLS 1.2+",
            "a server restricted to TLS 1.3 meeting a TLS 1.2-only client",
            "a client pinned to a maximum version (MinProtocol/MaxProtocol in openssl.cnf, -Djdk.tls.client.protocols, curl --tls-max)",
            "a system crypto policy (e.g. DEFAULT:@SECLEVEL=2, update-crypto-policies) disabling old versions on one end",
            "a middlebox or TLS-intercepting proxy that only supports older versions",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -tls1_2 </dev/null", "succeeds or fails per version; repeat with -tls1_3, -tls1_1, -tls1"),
            ("curl -v --tlsv1.2 --tls-max 1.2 https://NAME:PORT/", "the same test from curl"),
            ("nmap --script ssl-enum-ciphers -p PORT HOST", "lists the versions and suites the server accepts"),
        ],
    },
    Topic {
        name: "cipher_mismatch",
        topic_type: TopicType::KindAndCause,
        title: "client and server share no cipher suite (or group / signature algorithm)",
        meaning: "The server answered the ClientHello with a handshake_failure or insufficient_security alert and \
            no ServerHello: it found nothing acceptable in what the client offered. In practice this is a cipher \
            suite mismatch, or no common elliptic-curve group or signature algorithm, or a required extension \
            missing.",
        causes: &[
            "a hardened server (only ECDHE + AES-GCM/ChaCha20) meeting an old client that offers only CBC, RC4 or 3DES suites",
            "an old server (only RSA key exchange or CBC) meeting a modern client that dropped those suites",
            "an ECDSA-only certificate on the server and a client that offers only RSA suites (or the reverse)",
            "no common group (e.g. server only X25519, client only P-256) or signature algorithm",
            "a FIPS or crypto-policy mode on one end removing suites",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -cipher 'ECDHE-RSA-AES128-GCM-SHA256' </dev/null", "test one TLS 1.2 suite at a time; -ciphersuites for TLS 1.3"),
            ("nmap --script ssl-enum-ciphers -p PORT HOST", "lists the suites the server accepts"),
            ("openssl ciphers -v 'CLIENT-CIPHER-STRING'", "expands the client's configured cipher string to compare"),
        ],
    },
    Topic {
        name: "certificate_expired",
        topic_type: TopicType::Kind,
        title: "a certificate of the chain has expired (at capture time)",
        meaning: "The server's leaf certificate (high) or a chain certificate (medium) has a notAfter earlier than \
            the capture time. A verifying client rejects it with a certificate_expired alert or by closing; TLS \
            1.3 clients do it with an encrypted alert.",
        causes: &[
            "the certificate was not renewed (ACME/certbot timer failing, manual renewal forgotten)",
            "renewed on disk but the server was not reloaded, or one node of a cluster/load balancer still serves the old one",
            "an expired intermediate is still sent in the chain",
            "a wrong clock on the client (or on the capture host: the check uses capture time)",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -showcerts </dev/null | openssl x509 -noout -dates -subject", "notAfter of the served leaf"),
            ("openssl x509 -noout -dates -in cert.pem", "validity of the file the server is configured with"),
            (CURL_V, "'certificate has expired' in the verify step"),
        ],
    },
    Topic {
        name: "certificate_not_yet_valid",
        topic_type: TopicType::Kind,
        title: "a certificate of the chain is not valid yet (at capture time)",
        meaning: "A certificate's notBefore is later than the capture time. Almost always a clock problem rather \
            than a certificate problem.",
        causes: &[
            "a client (or capture host) clock in the past: no NTP, a dead RTC battery, a VM restored from a snapshot",
            "a certificate issued with a notBefore in the future by a CA or script with a wrong clock",
        ],
        confirm: &[
            ("openssl x509 -noout -dates -in cert.pem", "compare notBefore with `date -u` on the client"),
            ("timedatectl status", "whether the client's clock is synchronised"),
        ],
    },
    Topic {
        name: "certificate_self_signed",
        topic_type: TopicType::Kind,
        title: "the server presented a self-signed certificate or an unknown root",
        meaning: "The leaf's issuer equals its subject, or the chain ends in a root the server sent itself and the \
            client rejected. Clients that do not have that certificate or root in their trust store reject it \
            (unknown_ca, 'self signed certificate in certificate chain').",
        causes: &[
            "a default or test certificate left on the server (the package's snakeoil certificate)",
            "a private CA whose root is not installed on the client (containers often have a different trust store)",
            "a TLS-intercepting proxy re-signing traffic with its own CA, not trusted by this client",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -showcerts </dev/null", "'verify error:num=18:self-signed certificate' or num=19"),
            ("openssl verify -CAfile ca.pem cert.pem", "whether the chain verifies against the CA the client should trust"),
            (CURL_V, "'self-signed certificate' in the verify step; retry with --cacert ca.pem"),
        ],
    },
    Topic {
        name: "certificate_chain_incomplete",
        topic_type: TopicType::Kind,
        title: "the server does not send the intermediate certificate its leaf needs",
        meaning: "Validated as a client would at the capture time: the last certificate the server sent is not \
            self-issued, and its issuer is neither in the chain nor in the trust store in use. Browsers often hide \
            this (they cache intermediates or fetch them from the AIA URL); curl, Java, Go, Python and most \
            libraries fail with 'unable to get local issuer certificate'.",
        causes: &[
            "the server's certificate file holds only the leaf (nginx ssl_certificate must hold leaf + intermediates; Apache >= 2.4.8 the same in SSLCertificateFile)",
            "a renewed certificate deployed without the CA's new intermediate",
            "the issuer is a private root the clients trust but this analysis did not: pass it with --ca-file",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -showcerts </dev/null", "only one certificate in 'Certificate chain' and 'verify error:num=20:unable to get local issuer certificate'"),
            ("curl -v https://NAME/", "'unable to get local issuer certificate'"),
        ],
    },
    Topic {
        name: "certificate_untrusted",
        topic_type: TopicType::Kind,
        title: "the certificate chain does not validate against the trust store",
        meaning: "The chain is complete but a validating client rejects it at the capture time: it ends at a root \
            that no store in use holds (Mozilla's, the system's, --ca-file), or a signature, CA flag, path length, \
            name constraint or key usage on the path fails. Validation is rustls-webpki's, with no network access.",
        causes: &[
            "a private or test CA: install its root on the clients (and pass it here with --ca-file)",
            "an old root that Mozilla removed (old captures of public sites)",
            "a mis-issued intermediate (CA:FALSE, pathlen, name constraints) or a chain mixing two CAs' certificates",
        ],
        confirm: &[
            ("openssl verify -CAfile root.pem -untrusted chain.pem leaf.pem", "the same failure, with OpenSSL's reason"),
            ("openssl s_client -connect HOST:PORT -servername NAME -showcerts </dev/null", "'Verify return code' other than 0"),
        ],
    },
    Topic {
        name: "certificate_expires_soon",
        topic_type: TopicType::Kind,
        title: "a certificate of the chain expires soon after the capture",
        meaning: "The leaf or an intermediate reaches its notAfter within --expiry-warning-days (default 30) of the \
            capture time. Not a failure yet: the warning Zeek calls SSL::Certificate_Expires_Soon.",
        causes: &[
            "automatic renewal (ACME, certbot timer) not running or failing",
            "a renewed certificate not deployed, or the server not reloaded after renewal",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME </dev/null | openssl x509 -noout -enddate", "the notAfter date"),
        ],
    },
    Topic {
        name: "certificate_revoked",
        topic_type: TopicType::Kind,
        title: "the server's stapled OCSP response says its certificate is revoked",
        meaning: "The server answered the client's status_request with an OCSP response (TLS 1.2 CertificateStatus, \
            or in TLS 1.3 the status_request extension of the leaf's CertificateEntry, seen once decrypted) in which \
            the CA's responder says the leaf is revoked. Clients that check the staple refuse the certificate.",
        causes: &[
            "the certificate was revoked (key compromise, mis-issuance, superseded) and the server still serves it",
            "the server was not switched to the replacement certificate",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -status </dev/null", "'Cert Status: revoked' in the OCSP response"),
        ],
    },
    Topic {
        name: "ocsp_staple_invalid",
        topic_type: TopicType::Kind,
        title: "the server's stapled OCSP response is stale, for another certificate, or badly signed",
        meaning: "The OCSP response the server staples cannot vouch for its certificate at the capture time: its \
            nextUpdate has passed (expired) or its thisUpdate is in the future, its CertID (serial, issuer name and \
            key hashes) is not the leaf's, its responder's signature does not verify against the leaf's issuer, or \
            the responder refused (tryLater, unauthorized). The signature is checked when the chain holds the \
            issuer; otherwise the evidence says it was not checked.",
        causes: &[
            "the server's stapling stopped refreshing (the responder is unreachable from the server, a cron job died)",
            "a static staple file (nginx ssl_stapling_file, HAProxy .ocsp) left over from the previous certificate",
            "a clock off on the server or the responder",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -status </dev/null", "the OCSP response's This/Next Update and serial"),
            ("openssl ocsp -respin staple.der -resp_text -issuer issuer.pem -VAfile issuer.pem", "whether it verifies"),
        ],
    },
    Topic {
        name: "certificate_name_mismatch",
        topic_type: TopicType::Kind,
        title: "the certificate does not cover the SNI name the client asked for",
        meaning: "The SNI name in the ClientHello is not matched by the leaf certificate's subjectAltName entries \
            (or its CN when there is no SAN), with RFC 6125 wildcard rules: *.example.com covers a.example.com \
            but not example.com nor a.b.example.com. A verifying client rejects the certificate.",
        causes: &[
            "SNI mismatch: the server or load balancer serves its default certificate because the name is not mapped to a virtual host",
            "the client connects by IP address or an internal alias that is not in the SAN",
            "a certificate issued for www.example.com only, used for example.com (or the reverse)",
            "a proxy or CDN in front presenting its own certificate",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME </dev/null | openssl x509 -noout -subject -ext subjectAltName", "the names the served certificate covers"),
            (CURL_V, "'no alternative certificate subject name matches target host name'"),
            ("openssl s_client -connect HOST:PORT -noservername </dev/null | openssl x509 -noout -subject", "the default certificate served without SNI"),
        ],
    },
    Topic {
        name: "certificate_weak",
        topic_type: TopicType::Kind,
        title: "the certificate uses a weak key or signature",
        meaning: "An RSA or DSA key shorter than 2048 bits, an EC key shorter than 224 bits, or an MD5 or SHA-1 \
            signature. Current clients and security levels (OpenSSL SECLEVEL 2, browsers) reject them.",
        causes: &[
            "an old certificate or appliance default never replaced",
            "an internal CA still signing with SHA-1",
        ],
        confirm: &[
            ("openssl x509 -noout -text -in cert.pem | grep -E 'Public-Key|Signature Algorithm'", "key size and signature algorithm"),
            (S_CLIENT, "'ee key too small' or 'ca md too weak' on a client at SECLEVEL 2"),
        ],
    },
    Topic {
        name: "missing_sni",
        topic_type: TopicType::Kind,
        title: "a ClientHello without server_name (SNI)",
        meaning: "The client did not say which host name it wants. Servers with several names then serve their \
            default certificate (often causing a name mismatch) or refuse the handshake (handshake_failure or \
            unrecognized_name).",
        causes: &[
            "the client connects by IP address (clients send no SNI for IP literals)",
            "an old client or library (Java 6, Python 2 without SNI support, some embedded stacks)",
            "a client that disables SNI (jsse.enableSNIExtension=false, -noservername)",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -noservername </dev/null", "what the server does without SNI"),
            (S_CLIENT, "the same with SNI, to compare the certificate served"),
        ],
    },
    Topic {
        name: "obsolete_version",
        topic_type: TopicType::Kind,
        title: "SSLv2, SSLv3, TLS 1.0 or TLS 1.1 negotiated (or the client's best)",
        meaning: "These versions are deprecated (RFC 8996) and disabled by default in current libraries. A \
            connection that still negotiates one works today but will fail as soon as either end is updated, \
            and is the usual cause of version mismatches.",
        causes: &[
            "an old client or server that was never upgraded",
            "a configuration that explicitly re-enables old versions for compatibility",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -tls1_1 </dev/null", "succeeds only if the server still accepts TLS 1.1"),
            ("nmap --script ssl-enum-ciphers -p PORT HOST", "all versions the server accepts"),
        ],
    },
    Topic {
        name: "weak_cipher",
        topic_type: TopicType::Kind,
        title: "a NULL, EXPORT, anonymous, RC4, DES or 3DES suite was negotiated",
        meaning: "The negotiated cipher suite gives no or weak protection: NULL encrypts nothing, anonymous suites \
            authenticate nobody, EXPORT/DES/RC4/3DES are breakable. Current clients no longer offer them, so a \
            server that prefers them will also cause cipher mismatches.",
        causes: &[
            "a legacy cipher string (e.g. 'ALL' or 'DEFAULT' on an old OpenSSL) on the server",
            "an old client offering only weak suites",
        ],
        confirm: &[
            ("nmap --script ssl-enum-ciphers -p PORT HOST", "grades each suite the server accepts"),
            ("openssl s_client -connect HOST:PORT -cipher '3DES:RC4:@SECLEVEL=0' </dev/null", "whether the server still accepts them"),
        ],
    },
    Topic {
        name: "tls_interception_suspected",
        topic_type: TopicType::Kind,
        title: "the same SNI presents a certificate from a different issuer on this flow",
        meaning: "Within one capture, most flows to this name get a leaf certificate from one issuer, this flow from \
            another. A TLS-intercepting proxy, antivirus or security appliance re-signs the server's certificate \
            with its own CA; clients that do not trust that CA fail with unknown_ca or bad_certificate.",
        causes: &[
            "a corporate TLS inspection proxy or firewall on some paths only",
            "endpoint security software intercepting TLS on some hosts",
            "a legitimate certificate rollover or backends with certificates from different CAs",
        ],
        confirm: &[
            (S_CLIENT, "the issuer from an affected and from an unaffected client"),
            ("tshark -r CAPTURE -Y 'tls.handshake.type == 11' -T fields -e tcp.stream -e x509sat.printableString", "issuers per stream"),
        ],
    },
    Topic {
        name: "starttls",
        topic_type: TopicType::Kind,
        title: "an in-protocol upgrade to TLS (SMTP, IMAP, POP3, FTP, XMPP, LDAP, PostgreSQL, IRC, MySQL, HTTP Upgrade, RDP)",
        meaning: "The connection started in plaintext and switched to TLS with STARTTLS (or the protocol's \
            equivalent). A successful upgrade is informational; a refused upgrade, or one not followed by a TLS \
            handshake, leaves the session in plaintext (medium).",
        causes: &[
            "refused: the server does not offer STARTTLS (not configured, or stripped by a middlebox)",
            "no_tls_followed: the client sent STARTTLS but then did not start TLS (client bug or protocol confusion)",
            "not_offered: the server's greeting does not announce TLS at all (MySQL/MariaDB without ssl_cert/ssl_key: no CLIENT_SSL capability), so a client that requires TLS closes and one that does not logs in in cleartext",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -starttls smtp </dev/null", "performs the upgrade and the handshake (imap, pop3, ftp, xmpp, ldap, postgres also accepted)"),
            ("curl -v --ssl-reqd smtp://HOST:PORT/", "fails if the upgrade is refused"),
            ("openssl s_client -connect HOST:3306 -starttls mysql </dev/null", "MySQL/MariaDB: the SSL request and the handshake"),
        ],
    },
    Topic {
        name: "cleartext_credentials",
        topic_type: TopicType::Kind,
        title: "credentials sent before any TLS",
        meaning: "The client sent AUTH, LOGIN, USER/PASS or an HTTP Basic Authorization header in plaintext, \
            before any TLS: anyone on the path can read them. tlstriage records the mechanism, never the secret.",
        causes: &[
            "a mail or FTP client configured without STARTTLS or implicit TLS",
            "plaintext to a service that offered STARTTLS, where the client did not use it",
            "http:// used with Basic authentication",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -starttls smtp </dev/null", "whether the server offers TLS that the client should use"),
            (CURL_V, "use https:// or --ssl-reqd and check that authentication still works"),
        ],
    },
    Topic {
        name: "proxy_connect_failed",
        topic_type: TopicType::Kind,
        title: "an HTTP CONNECT was answered with a non-2xx status",
        meaning: "The client asked an HTTP proxy for a tunnel (CONNECT host:port) and the proxy refused: 403 \
            (policy), 407 (proxy authentication required), 502/503/504 (the proxy could not reach the target). The \
            TLS handshake never reached the real server; the client typically reports 'CONNECT tunnel failed' or \
            'Received HTTP code 403 from proxy after CONNECT'.",
        causes: &[
            "proxy misconfiguration: the target host or port is not on the proxy's allow list (often only 443 is allowed)",
            "proxy authentication missing or wrong (407)",
            "the proxy cannot resolve or reach the target (502/504)",
            "the client uses the proxy for a host that should be in NO_PROXY",
        ],
        confirm: &[
            ("curl -v --proxy http://PROXY:PORT https://NAME:PORT/", "prints the proxy's CONNECT response status and headers"),
            ("openssl s_client -proxy PROXY:PORT -connect HOST:PORT -servername NAME </dev/null", "the handshake through the tunnel"),
            ("env | grep -i _proxy", "the proxy settings the client inherits"),
        ],
    },
    Topic {
        name: "connection_failed",
        topic_type: TopicType::Kind,
        title: "a TCP connection that never carried a byte: refused, unanswered, ICMP-rejected, or closed at once",
        meaning: "TLS never started because TCP did not get that far. `reason` says how: `refused` (the SYN was \
            answered by a RST: 'connection refused', Zeek REJ), `no_answer` (the SYN and its retransmissions drew \
            nothing: 'connection timed out', Zeek S0; `ended_by` tells whether the client gave up or the capture \
            ended first), `icmp_<name>` (a router, firewall or the host answered with an ICMP/ICMPv6 error quoting \
            the SYN: `icmp_port_unreachable`, `icmp_host_unreachable`, `icmp_net_unreachable`, \
            `icmp_admin_prohibited`, ...; 'no route to host'), or `server_closed`/`server_reset` (the server accepted \
            the connection and ended it before any byte). `answered_by` is `server`, `middlebox` (a RST whose TTL \
            does not fit the server's other packets) or the ICMP sender's address. Many of these from one client to \
            many ports are a port scan: the roll-up (`--summary-by server`) counts them per server:port.",
        causes: &[
            "refused: nothing listens on the port (service down, wrong port, bound to another address), or a host firewall rejecting with tcp-reset",
            "no_answer: a firewall DROP rule, the host is down, or the route back to the client is broken",
            "icmp_admin_prohibited / icmp_port_unreachable: a firewall REJECT rule (iptables REJECT --reject-with ...)",
            "icmp_host_unreachable / icmp_net_unreachable: routing, or the host does not answer ARP/ND on its last hop",
            "server_closed / server_reset: an access rule (tcpwrappers hosts.deny), a proxy without healthy backends, a connection limit or a full listen queue",
        ],
        confirm: &[
            ("ss -ltn", "on the server: is anything listening on the port and address (refused)? Recv-Q against the backlog (server_closed)"),
            ("nc -vz HOST PORT", "from the client: 'succeeded', 'Connection refused' or a timeout"),
            ("iptables -L -n -v", "on the server and the firewalls on the path: DROP/REJECT rules and their packet counters (nft list ruleset with nftables)"),
            ("traceroute -T -p PORT HOST", "TCP SYN traceroute (or tcptraceroute HOST PORT): the hop where the SYN stops or is rejected"),
            ("tcpdump -ni any 'tcp port PORT or icmp or icmp6'", "on the server: does the SYN arrive at all, and what answers it"),
        ],
    },
    Topic {
        name: "tcp_overlap_conflict",
        topic_type: TopicType::Kind,
        title: "TCP segments that carry different bytes for the same stream positions",
        meaning: "A retransmitted or overlapping segment did not repeat the bytes already received: the stream \
            has two versions. The receiver keeps one (its operating system decides), tlstriage keeps the first \
            received. An evasion splice relies on the two choosing differently, to show a monitor one SNI and \
            the server another; the flow's other findings carry capture_quality overlap_conflict.",
        causes: &[
            "an evasion tool splicing a ClientHello (censorship circumvention, IDS evasion)",
            "a broken middlebox, NIC offload or capture device rewriting payload",
            "a capture merged from two points that saw different rewrites",
        ],
        confirm: &[
            ("tshark -r CAPTURE -Y 'tcp.stream eq N && tcp.analysis.retransmission' -x", "the bytes of both copies"),
            ("tshark -r CAPTURE -o tcp.check_checksum:TRUE -Y 'tcp.stream eq N'", "whether one copy has a bad checksum (never delivered)"),
        ],
    },
    Topic {
        name: "malformed_tls",
        topic_type: TopicType::Kind,
        title: "a TLS record or handshake message that does not parse",
        meaning: "A record or handshake message had an impossible length or could not be decoded. Either the bytes \
            are not TLS at all (another protocol on a TLS port), something on the path altered them, or a TLS \
            implementation is broken.",
        causes: &[
            "plaintext or another protocol on the port, detected only after a first valid-looking record",
            "a middlebox (IPS, TLS-intercepting proxy) rewriting or truncating records",
            "a buggy or fuzzing client",
            "capture problems: missed segments that reassembly could not bridge (see capture_stats reassembly_gaps)",
        ],
        confirm: &[
            ("tshark -r CAPTURE -Y 'tcp.stream eq N' -V", "Wireshark's own decoding of the same records"),
            (S_CLIENT, "whether a clean client gets a normal handshake"),
        ],
    },
    Topic {
        name: "heartbeat",
        topic_type: TopicType::Kind,
        title: "TLS heartbeat messages, or a Heartbleed-style request (CVE-2014-0160)",
        meaning: "A heartbeat (RFC 6520) asks the peer to echo a payload. Ordinary ones are informational (TLS \
            stacks rarely use them). A request that claims more payload than its record holds is how Heartbleed \
            reads a vulnerable OpenSSL's memory: with it, `leaked` says whether the peer answered with more bytes \
            than were sent (then it is vulnerable, and its keys must be treated as compromised).",
        causes: &[
            "a vulnerability scanner (nmap ssl-heartbleed, Nessus, masscan) or an attack probing for Heartbleed",
            "an old TLS library (OpenSSL 1.0.1 before 1.0.1g) that still answers heartbeats",
            "a stack that keeps sessions alive with heartbeats (rare outside DTLS)",
        ],
        confirm: &[
            ("nmap -p PORT --script ssl-heartbleed HOST", "whether the server is vulnerable"),
            ("openssl version -a", "on the server: OpenSSL 1.0.1 to 1.0.1f are vulnerable"),
        ],
    },
    Topic {
        name: "heartbleed_probe",
        topic_type: TopicType::Cause,
        title: "the handshake ended after a Heartbleed-style heartbeat request: a scanner, not a failing client",
        meaning: "The client sent a heartbeat request claiming more payload than its record holds during the \
            handshake, and the connection ended there. Nothing was wrong with the server's certificate or \
            parameters: the client never meant to complete the handshake (see the heartbeat finding for \
            whether the server leaked memory).",
        causes: &[
            "a vulnerability scanner or an attacker probing for CVE-2014-0160",
        ],
        confirm: &[
            ("nmap -p PORT --script ssl-heartbleed HOST", "whether the server is vulnerable"),
        ],
    },
    Topic {
        name: "client_certificate",
        topic_type: TopicType::Cause,
        title: "the server refused the client's certificate, or its absence (mutual TLS)",
        meaning: "The server asked for a client certificate (CertificateRequest) and aborted once it had the \
            client's answer: no certificate, one from a CA the server does not trust, or one it does not accept. \
            In TLS 1.2 the request and the client's Certificate are visible. In TLS 1.3 without keys they are \
            encrypted: the client completes its flight (Finished included) and the server's only answer is an \
            alert-sized encrypted record and a close; the client flight's record count and sizes tell whether \
            a Certificate was sent and whether it was empty, and `confidence` says how sure that is.",
        causes: &[
            "no client certificate configured in the client (curl without --cert, a browser without the certificate installed)",
            "the client certificate is issued by a CA the server does not trust (the server's client CA list)",
            "the client certificate is expired, revoked, or lacks the clientAuth extended key usage",
            "a proxy in front of the server terminating TLS without forwarding the client certificate",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -cert client.pem -key client.key </dev/null", "the handshake with the client certificate; without -cert the server's alert (certificate_required)"),
            ("openssl s_client -connect HOST:PORT -servername NAME </dev/null 2>&1 | grep -A5 'Acceptable client certificate CA names'", "which CAs the server accepts client certificates from"),
            ("openssl x509 -noout -issuer -dates -ext extendedKeyUsage -in client.pem", "issuer, validity and clientAuth of the client certificate"),
        ],
    },
    Topic {
        name: "certificate_rejected",
        topic_type: TopicType::Cause,
        title: "the client rejected the server's certificate",
        meaning: "The client aborted right after receiving the server's certificate: with a certificate alert \
            (bad_certificate, unknown_ca, certificate_expired, ...), with a short encrypted alert in TLS 1.3 where \
            the certificate itself is encrypted, or by closing without an alert. On the server side the same \
            rejection of the client's certificate in mutual TLS is `client_certificate`.",
        causes: &[
            "untrusted certificate: a private CA not in the client's trust store, a missing intermediate in the server's chain, a self-signed certificate",
            "expired certificate (or a client clock in the future/past)",
            "SNI mismatch not caught separately (TLS 1.3 hides the certificate from the capture)",
            "a TLS-intercepting proxy whose CA the client does not trust",
            "certificate pinning in the client application",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME -showcerts </dev/null", "'Verify return code' and the chain the server actually sends"),
            ("openssl x509 -noout -dates -subject -issuer -ext subjectAltName -in cert.pem", "validity, names and issuer of the served certificate"),
            (CURL_V, "the client's exact verify error (unable to get local issuer certificate, expired, name mismatch)"),
        ],
    },
    Topic {
        name: "name_mismatch",
        topic_type: TopicType::Cause,
        title: "the client rejected the certificate because it does not cover the requested name",
        meaning: "The handshake was aborted by the client after a certificate whose subjectAltName does not match \
            the SNI name (see certificate_name_mismatch). The server is reachable and speaks TLS; it just presents \
            the wrong certificate for this name.",
        causes: &[
            "SNI mismatch: the name is not configured as a virtual host, so the default certificate is served",
            "the client uses an IP address or internal alias not in the certificate",
            "a load balancer or CDN serving a certificate for another domain",
        ],
        confirm: &[
            ("openssl s_client -connect HOST:PORT -servername NAME </dev/null | openssl x509 -noout -subject -ext subjectAltName", "the names covered by the served certificate"),
            (CURL_V, "'no alternative certificate subject name matches target host name'"),
        ],
    },
    Topic {
        name: "plaintext_mismatch",
        topic_type: TopicType::Cause,
        title: "one side speaks TLS and the other does not",
        meaning: "The client sent a ClientHello to a port that answered in plaintext, or plaintext to a port that \
            expected TLS (see tls_to_plaintext_port and plaintext_to_tls_port). This is the classic cause of the \
            OpenSSL client error 'wrong version number'.",
        causes: &[
            "plaintext to a TLS port, or https:// to a plain HTTP port",
            "implicit TLS vs STARTTLS confusion on mail ports (465 vs 587, 993 vs 143)",
            "proxy misconfiguration: TLS sent to an HTTP proxy port without CONNECT, or TLS offload configured on one side only",
        ],
        confirm: &[
            (S_CLIENT, "'wrong version number' when the port is plaintext"),
            ("curl -v http://HOST:PORT/", "a normal plaintext answer confirms the port does not speak TLS"),
        ],
    },
    Topic {
        name: "proxy",
        topic_type: TopicType::Cause,
        title: "the handshake never reached the server: the proxy refused the tunnel",
        meaning: "The ClientHello followed an HTTP CONNECT that the proxy answered with an error, so the TLS \
            handshake was never seen by the target (see proxy_connect_failed).",
        causes: &[
            "proxy misconfiguration: target or port not allowed by the proxy's policy",
            "missing or wrong proxy credentials (407)",
            "the proxy cannot reach or resolve the target",
        ],
        confirm: &[
            ("curl -v --proxy http://PROXY:PORT https://NAME:PORT/", "the CONNECT status line from the proxy"),
            ("openssl s_client -proxy PROXY:PORT -connect HOST:PORT -servername NAME </dev/null", "the handshake through the tunnel"),
        ],
    },
    Topic {
        name: "server_closed_without_alert",
        topic_type: TopicType::Cause,
        title: "the server closed (FIN or RST) during the handshake without an alert",
        meaning: "The server, or something answering in its place, ended the connection without saying why. TLS \
            stacks normally send an alert when they refuse a handshake, so a silent close points at the server's \
            configuration or at a device in front of it.",
        causes: &[
            "TLS not configured for this name or port (no certificate loaded, SNI name not mapped and no default)",
            "a load balancer, WAF or firewall in front of the server rejecting the client (IP, SNI or JA3 policy)",
            "a version or cipher mismatch on a stack that closes instead of alerting",
            "the server process crashed or hit a connection limit",
        ],
        confirm: &[
            (S_CLIENT, "'unexpected eof while reading' / 'errno=104' reproduces the silent close"),
            ("openssl s_client -connect HOST:PORT -servername NAME -tls1_2 </dev/null", "vary version and SNI to find what the server refuses"),
            ("journalctl -u SERVICE --since '-10 min'", "the server's own error log at the capture time"),
        ],
    },
    Topic {
        name: "client_gave_up",
        topic_type: TopicType::Cause,
        title: "the client closed (FIN or RST) during the handshake without an alert",
        meaning: "The client ended the connection without an alert. Some TLS libraries and applications close \
            silently when they reject something (a certificate, a parameter); others give up on a timeout or a \
            user cancel.",
        causes: &[
            "a client-side timeout (a slow server, a large certificate chain over a slow link)",
            "a certificate rejected by an application that closes instead of alerting (pinning, custom verification)",
            "the user or the application cancelled (browser tab closed, retry logic)",
            "happy-eyeballs or connection racing: the client kept another connection and dropped this one",
        ],
        confirm: &[
            (CURL_V, "the client's own error message for the same request"),
            (S_CLIENT, "whether a plain OpenSSL client completes the handshake with this server"),
        ],
    },
    Topic {
        name: "network",
        topic_type: TopicType::Cause,
        title: "the network path broke the handshake (injected RST, lost or stalled flight)",
        meaning: "Neither endpoint refused the handshake: a RST whose TTL differs from the claimed sender's other \
            packets was most likely injected by a middlebox, or the server's flight was retransmitted and never \
            acknowledged (lost, or held by a zero window) until the connection gave up.",
        causes: &[
            "a firewall, IPS or proxy blocking the connection by SNI or destination and forging a RST",
            "a path MTU black hole: ICMP 'fragmentation needed' filtered, so the large certificate flight never arrives (VPNs, tunnels, PPPoE)",
            "a lossy or congested link",
        ],
        confirm: &[
            ("ping -M do -s 1472 HOST", "fails with 'message too long' or silently when the path MTU is below 1500"),
            ("tracepath HOST", "the path MTU hop by hop"),
            (S_CLIENT, "hangs after the ClientHello on an MTU black hole; works with a smaller MSS"),
        ],
    },
    Topic {
        name: "unknown",
        topic_type: TopicType::Cause,
        title: "the capture does not show why the handshake stopped",
        meaning: "No alert, close or earlier finding explains the abort: the server never answered, the flow went \
            quiet, or an alert was sent whose description does not point at one cause. The evidence (stage, how, \
            because) still says what was and was not seen.",
        causes: &[
            "a firewall dropping packets in one direction, or asymmetric routing (the capture sees one side only)",
            "a server that does not speak TLS on this port and waits for the client",
            "the capture started or ended in the middle of the handshake",
        ],
        confirm: &[
            (S_CLIENT, "reproduce the connection and read the client's error"),
            ("tshark -r CAPTURE -Y 'tcp.stream eq N'", "look for retransmissions and a missing direction"),
        ],
    },
];

/// The topic for a kind or likely_cause; case-insensitive, `-` accepted for `_`.
pub fn lookup(name: &str) -> Option<&'static Topic> {
    let want = name.trim().to_ascii_lowercase().replace('-', "_");
    TOPICS.iter().find(|t| t.name == want)
}

/// Greedy word wrap of `text` at `width` columns, each line prefixed with `indent`.
fn wrap(out: &mut String, text: &str, indent: &str, first_indent: &str, width: usize) {
    let mut line = String::from(first_indent);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// The long explanation, as `tlstriage explain` prints it.
pub fn render(t: &Topic) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", t.name, t.title);
    let _ = writeln!(out, "({})\n", t.topic_type.label());
    let _ = writeln!(out, "What it means");
    wrap(&mut out, t.meaning, "  ", "  ", 92);
    let _ = writeln!(out, "\nCommon causes");
    for c in t.causes {
        wrap(&mut out, c, "    ", "  - ", 92);
    }
    let _ = writeln!(out, "\nHow to confirm");
    for (cmd, what) in t.confirm {
        let _ = writeln!(out, "  $ {cmd}");
        wrap(&mut out, what, "      ", "      ", 92);
    }
    if alerts::lookup(t.name).is_some() {
        let _ = writeln!(
            out,
            "\nAlso a TLS alert: tlstriage explain alert:{}",
            t.name
        );
    }
    out
}

/// The explanation of `name`: a finding kind or likely cause, else a TLS alert.
pub fn explain(name: &str) -> Option<String> {
    let bare = !name.trim().to_ascii_lowercase().starts_with("alert:");
    match lookup(name).filter(|_| bare) {
        Some(topic) => Some(render(topic)),
        None => alerts::lookup(name).map(alerts::render),
    }
}

/// The list printed when a kind is unknown (or none is given).
pub fn known_list() -> String {
    let mut out = String::from("finding kinds:\n");
    for t in TOPICS.iter().filter(|t| t.topic_type != TopicType::Cause) {
        let _ = writeln!(out, "  {:<28} {}", t.name, t.title);
    }
    out.push_str("\nlikely_cause values of handshake_aborted:\n");
    for t in TOPICS.iter().filter(|t| t.topic_type != TopicType::Kind) {
        let _ = writeln!(out, "  {:<28} {}", t.name, t.title);
    }
    out.push_str("\nTLS alerts (explain NAME, alert:NAME or the code):\n");
    for a in alerts::ALERTS {
        let _ = writeln!(out, "  {:<28} {} (code {})", a.name, a.sent_by, a.code);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_topic_is_complete() {
        for (i, t) in TOPICS.iter().enumerate() {
            assert!(TOPICS[..i].iter().all(|o| o.name != t.name), "{}", t.name);
            assert!(!t.title.is_empty() && t.meaning.len() > 80, "{}", t.name);
            assert!(!t.causes.is_empty(), "{}", t.name);
            assert!(!t.confirm.is_empty(), "{}", t.name);
        }
    }

    #[test]
    fn lookup_accepts_kinds_causes_dashes_and_case() {
        assert_eq!(
            lookup("handshake_aborted").unwrap().name,
            "handshake_aborted"
        );
        assert_eq!(
            lookup("Certificate-Rejected").unwrap().topic_type,
            TopicType::Cause
        );
        assert_eq!(
            lookup("version_mismatch").unwrap().topic_type,
            TopicType::KindAndCause
        );
        assert!(lookup("nope").is_none());
    }

    #[test]
    fn render_has_the_three_sections_and_wraps() {
        let text = render(lookup("certificate_expired").unwrap());
        for s in [
            "What it means",
            "Common causes",
            "How to confirm",
            "openssl x509",
        ] {
            assert!(text.contains(s), "{s}\n{text}");
        }
        for line in text.lines().filter(|l| !l.starts_with("  $ ")) {
            assert!(line.chars().count() <= 92, "{line}");
        }
    }

    #[test]
    fn the_known_list_has_both_groups() {
        let l = known_list();
        assert!(l.contains("malformed_tls") && l.contains("client_gave_up"));
        // version_mismatch is both a kind and a cause: listed in both groups.
        assert_eq!(l.matches("  version_mismatch ").count(), 2);
    }
}
