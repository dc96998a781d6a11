#!/usr/bin/env python3
"""Verify the sample captures with tshark and write samples/EXPECTED.tsv and samples/README.md.

usage: samples_expected.py SAMPLES_DIR MANIFEST.tsv NAME...

MANIFEST.tsv (written by make-samples.sh) has one line per sample:
  file  server_port  tshark_proto  scenario  command  analyst_should_see  expect
Everything reported in EXPECTED.tsv / README.md "Observed" comes from tshark's dissection
of the file; `expect` lists checks that must hold, otherwise this script exits non-zero.
"""
import os
import subprocess
import sys

ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
    22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure",
    41: "no_certificate", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
    90: "user_canceled", 100: "no_renegotiation", 109: "missing_extension",
    110: "unsupported_extension", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 115: "unknown_psk_identity",
    116: "certificate_required", 120: "no_application_protocol",
}
LEVELS = {1: "warning", 2: "fatal"}
HS = {
    0: "hello_request", 1: "client_hello", 2: "server_hello", 4: "new_session_ticket",
    5: "end_of_early_data", 8: "encrypted_extensions", 11: "certificate",
    12: "server_key_exchange", 13: "certificate_request", 14: "server_hello_done",
    15: "certificate_verify", 16: "client_key_exchange", 20: "finished",
    22: "certificate_status", 24: "key_update",
}
VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2",
            0x0304: "TLSv1.3"}

FIELDS = [
    "frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.fin",
    "tcp.flags.reset", "tcp.len", "tls.record.content_type", "tls.record.opaque_type", "tls.record.length",
    "tls.handshake.type", "tls.handshake.version", "tls.handshake.extensions.supported_version",
    "tls.handshake.extensions_server_name", "tls.handshake.ciphersuite", "tls.alert_message.level",
    "tls.alert_message.desc", "tcp.payload",
]


def ints(v):
    out = []
    for x in v.split(","):
        x = x.strip()
        if x:
            out.append(int(x, 0))
    return out


def dissect(path, port, proto):
    cmd = ["tshark", "-n", "-r", path, "-o", "tcp.desegment_tcp_streams:TRUE",
           "-d", "tcp.port==%d,%s" % (port, proto), "-T", "fields",
           "-E", "separator=\t", "-E", "aggregator=,", "-E", "occurrence=a"]
    for f in FIELDS:
        cmd += ["-e", f]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    rows = []
    for line in res.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        rows.append(dict(zip(FIELDS, cols)))
    return rows


def describe_hs(h, r, st):
    name = HS.get(h, str(h))
    suites = ints(r["tls.handshake.ciphersuite"])
    if h == 1:
        hv = ints(r["tls.handshake.version"])
        sv = ints(r["tls.handshake.extensions.supported_version"])
        return "%s(version %s, supported_versions %s, %d cipher suites%s, sni %s)" % (
            name, VERSIONS.get(hv[0], "?") if hv else "?",
            "/".join(VERSIONS[v] for v in sv if v in VERSIONS) or "-",
            len(suites), " incl. SCSV" if 0x00ff in suites else "", st["sni"] or "-")
    if h == 2:
        return "%s(%s, suite 0x%04x)" % (name, st["version"], suites[-1]) if suites else name
    return name


def analyse(path, port, proto):
    rows = dissect(path, port, proto)
    flows = {}      # stream -> state
    alerts = []     # (frame, text)
    first_close = None
    events = []     # (frame, sender, what)
    payloads = []   # (frame, sender, bytes)
    for r in rows:
        fno = int(r["frame.number"])
        sender = "server" if int(r["tcp.srcport"]) == port else "client"
        st = flows.setdefault(r["tcp.stream"], {
            "version": None, "sni": None, "ch": None, "sh": None, "ccs": set(),
            "cert": False, "client_fin_len": False, "fatal": False, "tls": False,
            "ccs_order": [], "syn": False, "end": False})
        if r["tcp.flags.syn"] in ("1", "True"):
            st["syn"] = True
        if r["tcp.flags.fin"] in ("1", "True") or r["tcp.flags.reset"] in ("1", "True"):
            st["end"] = True
        if r["tcp.payload"]:
            payloads.append((fno, sender, bytes.fromhex(r["tcp.payload"].replace(":", ""))))
        if first_close is None and (r["tcp.flags.fin"] in ("1", "True") or
                                    r["tcp.flags.reset"] in ("1", "True")):
            kind = "rst" if r["tcp.flags.reset"] in ("1", "True") else "fin"
            first_close = "%s:%s@%d" % (sender, kind, fno)
        # TLS 1.3 protected records carry tls.record.opaque_type instead of content_type;
        # within one packet the clear records (ServerHello, CCS) precede the protected ones
        cts = ints(r["tls.record.content_type"]) + ints(r["tls.record.opaque_type"])
        lens = ints(r["tls.record.length"])
        if not cts:
            continue
        st["tls"] = True
        hts = ints(r["tls.handshake.type"])
        descs = ints(r["tls.alert_message.desc"])
        levels = ints(r["tls.alert_message.level"])
        if 1 in hts and st["ch"] is None:
            st["ch"] = fno
            names = [n for n in r["tls.handshake.extensions_server_name"].split(",") if n]
            st["sni"] = names[0] if names else None
        if 2 in hts and st["sh"] is None:
            st["sh"] = fno
            sv = ints(r["tls.handshake.extensions.supported_version"])
            hv = ints(r["tls.handshake.version"])
            v = sv[-1] if sv else (hv[-1] if hv else None)
            st["version"] = VERSIONS.get(v, hex(v) if v else None)
        if 11 in hts and sender == "server":
            st["cert"] = True
        what = []
        hs_listed = False
        ai = 0
        for ct, ln in zip(cts, lens + [None] * (len(cts) - len(lens))):
            if ct == 22:
                if sender in st["ccs"] and st["version"] != "TLSv1.3":
                    what.append("encrypted_handshake(finished)")
                elif not hs_listed:
                    what += [describe_hs(h, r, st) for h in hts]
                    hs_listed = True
            elif ct == 20:
                st["ccs"].add(sender)
                st["ccs_order"].append(sender)
                what.append("change_cipher_spec")
            elif ct == 21:
                if ai < len(descs):
                    lvl = LEVELS.get(levels[ai] if ai < len(levels) else 0, "?")
                    desc = ALERTS.get(descs[ai], str(descs[ai]))
                    alerts.append((fno, "%s:%s:%s" % (sender, lvl, desc)))
                    what.append("alert(%s %s)" % (lvl, desc))
                    if lvl == "fatal":
                        st["fatal"] = True
                    ai += 1
                else:
                    alerts.append((fno, "%s:?:encrypted" % sender))
                    what.append("encrypted_alert")
            elif ct == 23:
                if st["version"] == "TLSv1.3" and st["sh"] is not None:
                    if ln == 19:
                        # TLS 1.3 hides the record type: a 19-byte record is 2 bytes of
                        # alert + 1 byte inner type + 16 bytes AEAD tag
                        alerts.append((fno, "%s:?:likely_encrypted" % sender))
                        what.append("encrypted_record_19b(alert?)")
                    elif sender == "client" and ln and ln > 19:
                        st["client_fin_len"] = True
                        what.append("encrypted_record")
                    else:
                        what.append("encrypted_record")
                else:
                    what.append("application_data")
        events.append((fno, sender, "+".join(what)))
    tls_flows = [f for f in flows.values() if f["tls"]]

    def established(f):
        if f["sh"] is None or f["fatal"]:
            return False
        if f["version"] == "TLSv1.3":
            return f["client_fin_len"]
        return f["ccs"] == {"client", "server"}

    first = min(tls_flows, key=lambda f: f["ch"] or 10**9) if tls_flows else None
    versions = []
    for f in sorted(tls_flows, key=lambda f: f["ch"] or 10**9):
        if f["version"] and f["version"] not in versions:
            versions.append(f["version"])
    return {
        "version": ",".join(versions) or "-",
        "sni": (first["sni"] if first and first["sni"] else "-"),
        "alerts": ",".join("%s@%d" % (a, fno) for fno, a in alerts) or "-",
        "alert_list": [a for _, a in alerts],
        "close": first_close or "-",
        "established": "yes" if tls_flows and all(established(f) for f in tls_flows) else "no",
        "flows": len(flows),
        "tls_flows": sorted(tls_flows, key=lambda f: f["ch"] or 10**9),
        "events": events,
        "payloads": payloads,
        "nframes": len(rows),
        "complete": all(f["syn"] and f["end"] for f in flows.values()),
    }


def printable(b, n=40):
    s = b[:n].decode("latin-1")
    return "".join(c if 32 <= ord(c) < 127 else "." for c in s)


def check(name, res, expect):
    errors = []
    for item in [e for e in expect.split(";") if e]:
        key, _, val = item.partition("=")
        if key == "version" and res["version"] != val:
            errors.append("version %s != %s" % (res["version"], val))
        elif key == "sni" and res["sni"] != val:
            errors.append("sni %s != %s" % (res["sni"], val))
        elif key == "established" and res["established"] != val:
            errors.append("established %s != %s" % (res["established"], val))
        elif key == "alert" and val not in res["alert_list"]:
            errors.append("alert %s not in %s" % (val, res["alert_list"]))
        elif key == "no_alert" and res["alert_list"]:
            errors.append("unexpected alerts %s" % res["alert_list"])
        elif key == "no_clear_fatal" and any(":fatal:" in a for a in res["alert_list"]):
            errors.append("unexpected fatal alert %s" % res["alert_list"])
        elif key == "no_server_hello" and any(f["sh"] for f in res["tls_flows"]):
            errors.append("a ServerHello was seen")
        elif key == "no_tls" and res["tls_flows"]:
            errors.append("TLS records were seen")
        elif key == "close" and not res["close"].startswith(val + "@"):
            errors.append("first close %s, expected %s" % (res["close"], val))
        elif key in ("first_client_bytes", "first_server_bytes"):
            who = key.split("_")[1]
            first = next((p for _, s, p in res["payloads"] if s == who), b"")
            if not first.startswith(val.encode()):
                errors.append("%s first bytes %r" % (who, first[:20]))
        elif key == "contains" and not any(val.encode() in p for _, _, p in res["payloads"]):
            errors.append("no payload contains %r" % val)
        elif key == "flows" and res["flows"] != int(val):
            errors.append("flows %d != %s" % (res["flows"], val))
        elif key == "resumed_second":
            f = res["tls_flows"]
            if len(f) < 2 or f[1]["cert"] or f[1]["ccs_order"][:1] != ["server"]:
                errors.append("second connection does not look resumed")
    return ["%s: %s" % (name, e) for e in errors]


def first_line(b, n=48):
    line = b.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    text = printable(line, n)
    more = len(line) > n or len(b) > len(line) + 2
    return text + ("..." if more else "")


def observed(res):
    """One compact sentence of facts (frame numbers as Wireshark numbers them)."""
    items = [(fno, "frame %d: %s %s" % (fno, sender, what)) for fno, sender, what in res["events"]]
    evframes = {e[0] for e in res["events"]}
    shown = 0
    for fno, sender, p in res["payloads"]:
        # plaintext before/instead of TLS (STARTTLS, CONNECT, HTTP, SMTP ...)
        if fno in evframes or shown >= 12 or p[:1] in (b"\x14", b"\x15", b"\x16", b"\x17"):
            continue
        items.append((fno, "frame %d: %s '%s'" % (fno, sender, first_line(p))))
        shown += 1
    items.sort()
    parts = ["%d frames, %d TCP connection(s)" % (res["nframes"], res["flows"])]
    parts += [t for _, t in items]
    parts.append("first FIN/RST: %s" % res["close"])
    return "; ".join(parts)


def tcpdump_count(path):
    try:
        res = subprocess.run(["tcpdump", "-nn", "-r", path], capture_output=True, text=True,
                             check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return len([l for l in res.stdout.splitlines() if l.strip()])


def main():
    outdir, manifest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    entries = {}
    with open(manifest) as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) == 7:
                entries[cols[0]] = cols
    errors = []
    tsv = ["\t".join(["file", "tls_version", "sni", "alerts", "close", "established",
                      "server_port", "flows"])]
    readme_rows = []
    for name in names:
        fname = name + ".pcap"
        if fname not in entries:
            errors.append("%s: not described in manifest" % fname)
            continue
        _, port, proto, scenario, command, analyst, expect = entries[fname]
        path = os.path.join(outdir, fname)
        size = os.path.getsize(path)
        if size > 100_000:
            errors.append("%s: too big (%d bytes)" % (fname, size))
        res = analyse(path, int(port), proto)
        if res["nframes"] == 0:
            errors.append("%s: empty capture" % fname)
        # A sample that shows a filtered capture ("filtered" in its expectations) lacks
        # them by design.
        if not res["complete"] and "filtered" not in expect.split(";"):
            errors.append("%s: a TCP connection lacks its SYN or its FIN/RST" % fname)
        n = tcpdump_count(path)
        if n is not None and n != res["nframes"]:
            errors.append("%s: tcpdump sees %d packets, tshark %d" % (fname, n, res["nframes"]))
        errors += check(fname, res, expect)
        tsv.append("\t".join([fname, res["version"], res["sni"], res["alerts"], res["close"],
                              res["established"], port, str(res["flows"])]))
        readme_rows.append((fname, port, scenario, command, analyst, observed(res), res))
    with open(os.path.join(outdir, "EXPECTED.tsv"), "w") as fh:
        fh.write("\n".join(tsv) + "\n")
    write_readme(outdir, readme_rows)
    for e in errors:
        print("[samples_expected] FAIL " + e, file=sys.stderr)
    if errors:
        sys.exit(1)
    print("[samples_expected] %d samples verified; wrote EXPECTED.tsv and README.md" % len(readme_rows),
          file=sys.stderr)


HEADER = """# Sample captures

Generated by `scripts/make-samples.sh` (do not edit by hand: the script rewrites this file,
`EXPECTED.tsv` and every `*.pcap`). Each file is one scenario played by real programs on
loopback (127.0.0.1 only) and captured with `tcpdump -i lo -U --immediate-mode -w FILE 'tcp port N and host 127.0.0.1'`, started
before the client and stopped after the connection closed, so every file holds the whole
conversation from SYN to the last FIN/RST. Certificates are throwaway ones made at run time:
a "tlstriage Sample CA" (RSA 2048), a CA-signed `CN=localhost` leaf (SAN `DNS:localhost,
IP:127.0.0.1`), an expired one (valid 2020-01-01..2021-01-01, made with `openssl ca
-startdate/-enddate`), one for `wrong-host.example`, and a self-signed `CN=localhost`.
Clients trust the sample CA (`--cacert ca.pem` / `-CAfile ca.pem`) unless said otherwise.
Tools at generation time: OpenSSL 3 (`s_server`, `s_client`), curl (OpenSSL backend),
gnutls-cli, Python 3 (`ssl`, `smtplib`, `http.server`) and `scripts/sample_helpers.py`.

The bytes (keys, randoms, ports, timestamps) change on every run; the scenario and the
sequence of messages do not. "Observed" is tshark's dissection of the committed file, with
frame numbers as Wireshark numbers them (1-based). In it, `encrypted_alert` is a TLS 1.2
alert record sent after ChangeCipherSpec (content hidden, normally close_notify) and
`encrypted_record_19b(alert?)` is a TLS 1.3 application_data record of 19 bytes, which is
what an encrypted alert looks like (2 bytes alert + 1 byte inner type + 16 bytes AEAD tag).

## EXPECTED.tsv

Machine-readable facts per file, tab-separated, derived from tshark:

| column | meaning |
|---|---|
| `file` | capture file name |
| `tls_version` | version chosen in the ServerHello (supported_versions for TLS 1.3), `-` if no ServerHello |
| `sni` | server_name of the first ClientHello, `-` if none |
| `alerts` | every alert record as `sender:level:description@frame`, comma-separated; `level`/`description` are `?`/`encrypted` for a TLS 1.2 alert after ChangeCipherSpec and `?`/`likely_encrypted` for a 19-byte TLS 1.3 application_data record (an encrypted alert); `-` if none |
| `close` | first FIN or RST in the file as `sender:fin|rst@frame` |
| `established` | `yes` if every TLS connection in the file completed its handshake (TLS 1.2: ChangeCipherSpec from both sides and no fatal alert; TLS 1.3: the client sent an encrypted record longer than an alert, i.e. its Finished), else `no` |
| `server_port` | TCP port of the server side (the proxy port for the CONNECT samples) |
| `flows` | number of TCP connections in the file |

## Samples

"""


def write_readme(outdir, rows):
    out = [HEADER]
    for fname, port, scenario, command, analyst, obs, res in rows:
        out.append("### `%s`\n" % fname)
        out.append("- Scenario: %s Server port %s.\n" % (scenario, port))
        out.append("- Made with: `%s`\n" % command.replace("`", "'"))
        out.append("- Analyst should see: %s\n" % analyst)
        out.append("- Observed (tshark): %s\n" % obs)
        out.append("- EXPECTED.tsv: version `%s`, sni `%s`, alerts `%s`, close `%s`, established `%s`\n\n"
                   % (res["version"], res["sni"], res["alerts"], res["close"], res["established"]))
    out.append(NETWORK_SAMPLES)
    out.append("\n" + KEYLOG_SAMPLES)
    with open(os.path.join(outdir, "README.md"), "w") as fh:
        fh.write("".join(out).rstrip("\n") + "\n")


# Made by scripts/make-network-samples.sh (needs network namespaces), not by this run; kept
# here so regenerating the loopback samples does not drop their lines from README.md.
NETWORK_SAMPLES = """## Network-fault samples (scripts/make-network-samples.sh)

Made with real openssl over three network namespaces (client -- router -- server) joined by
veth pairs, the fault configured on the router; nothing in the captures is edited.

### `middlebox-rst.pcap`
- Scenario: the router is a firewall that blocks the SNI `blocked.example` by forging a TCP RST
  to the client (iptables string match + `REJECT --reject-with tcp-reset`); the server runs with
  a TTL of 128, so its packets reach the client with TTL 127 and the forged RST with 64.
  Captured on the client's interface.
- Made with: `scripts/make-network-samples.sh` (openssl s_server / s_client, iptables, tcpdump).
- Analyst should see: `handshake_aborted` with `aborted_by: middlebox`, `likely_cause: network`,
  the TTLs as evidence.

### `pmtu-blackhole.pcap`
- Scenario: the router's link towards the client has MTU 1000 and the router drops its own ICMP
  "fragmentation needed": a path-MTU black hole. The server's ~4 KB certificate flight never
  arrives; the server retransmits its full-size segments until the client gives up after 3 s.
  Captured on the server's interface.
- Made with: `scripts/make-network-samples.sh` (openssl s_server / s_client, ip link mtu,
  iptables, tcpdump).
- Analyst should see: `handshake_aborted` with `likely_cause: network` (the retransmitted
  certificate flight).

### `no-answer.pcap`
- Scenario: the router DROPs the SYNs to port 4455 (`iptables -A FORWARD ... -j DROP`); curl
  `--connect-timeout 4` sends a SYN and three retransmissions one second apart and gives up.
  8 s later a UDP datagram to a closed port of the router draws an ICMP port-unreachable that
  quotes no TCP connection: it shows the capture went on. Captured on the client's interface
  with `tcp or icmp or (icmp6 and ip6[40] < 128)`.
- Made with: `scripts/make-network-samples.sh no-answer` (curl, iptables, python3, tcpdump).
- Analyst should see: `connection_failed` `reason: no_answer`, `attempts: 4`, `ended_by:
  client_gave_up` (Zeek S0); the unrelated ICMP error counted in `capture_stats`.

### `reject-port-unreachable.pcap`, `reject-admin-prohibited.pcap`, `reject6-adm-prohibited.pcap`
- Scenario: the router REJECTs the SYN (`--reject-with icmp-port-unreachable` on 4456,
  `icmp-admin-prohibited` on 4457; `ip6tables ... icmp6-adm-prohibited` on 4458 over IPv6,
  where curl retries once). Captured on the client's interface.
- Made with: `scripts/make-network-samples.sh reject-port-unreachable` (and the other names).
- Analyst should see: `connection_failed` with `reason: icmp_port_unreachable` /
  `icmp_admin_prohibited`, `answered_by` the router (10.9.1.1, fd00:9:1::1).

### `pmtu-frag-needed.pcap`
- Scenario: as `pmtu-blackhole` (port 4459), but the router sends its ICMP "fragmentation
  needed" (MTU 1000); it is captured on the server's interface and dropped by the server's own
  INPUT chain, so the handshake still stalls, with the ICMP errors in the capture.
- Made with: `scripts/make-network-samples.sh pmtu-frag-needed`.
- Analyst should see: `handshake_aborted` with `likely_cause: network`, confidence high, and
  `path_mtu` (MTU 1000, the ICMP's frame) as evidence.
"""


# Made by scripts/make-keylog-samples.sh into samples/keylog/; kept here for the same reason.
KEYLOG_SAMPLES = """## Key-log samples (scripts/make-keylog-samples.sh)

In `samples/keylog/`: each capture with the key log its client wrote while it was taken
(`NAME.keys`, NSS key log format), made by real programs on loopback with a throwaway "tlstriage
Keylog Sample CA" and captured with `tcpdump -i lo 'tcp port N and host 127.0.0.1'`. Read them with
`tlstriage read --keylog samples/keylog/NAME.keys samples/keylog/NAME.pcap`.

### `keylog/tls13-expired.pcap` + `tls13-expired.keys`
- Scenario: TLS 1.3, the leaf (CN=localhost) expired on 2021-01-01; GnuTLS rejects it with an alert
  encrypted under its handshake key. Server port 4601.
- Made with: `openssl s_server -tls1_3 -www` (expired leaf); `SSLKEYLOGFILE=... gnutls-cli 127.0.0.1 -p 4601
  --sni-hostname localhost --verify-hostname localhost --x509cafile ca.pem --priority NORMAL:-VERS-ALL:+VERS-TLS1.3`.
- Analyst should see, with the key log: the decrypted Certificate (`certificate_expired`), the
  decrypted fatal `bad_certificate` (42) alert (GnuTLS's alert for any verification failure),
  `handshake_aborted` certificate_rejected; `tls_flow.decrypted: true`.

### `keylog/tls13-wrong-name.pcap` + `tls13-wrong-name.keys`
- Scenario: TLS 1.3, GnuTLS asks for `wrong-name.example` and gets the CN=localhost leaf. Port 4606.
- Made with: `openssl s_server -tls1_3 -www`; `SSLKEYLOGFILE=... gnutls-cli ... --sni-hostname
  wrong-name.example --verify-hostname wrong-name.example`.
- Analyst should see, with the key log: `certificate_name_mismatch`, the decrypted `bad_certificate`,
  `handshake_aborted` name_mismatch.

### `keylog/tls13-mtls-required.pcap` + `tls13-mtls-required.keys`
- Scenario: TLS 1.3 server requiring a client certificate; the client has none. Port 4602.
- Made with: `openssl s_server -tls1_3 -Verify 1 -www`; `openssl s_client -tls1_3 -keylogfile ...`
  (no `-cert`), sending `GET /`.
- Analyst should see, with the key log: the decrypted CertificateRequest and empty client
  Certificate, the server's decrypted fatal `certificate_required` (116), `handshake_aborted`
  client_certificate.

### `keylog/tls13-chacha-ok.pcap` + `tls13-chacha-ok.keys`
- Scenario: a good TLS 1.3 session with TLS_CHACHA20_POLY1305_SHA256, one HTTP GET. Port 4603.
- Made with: `openssl s_server -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 -www`;
  `SSLKEYLOGFILE=... curl --tlsv1.3 --cacert ca.pem https://localhost:4603/`.
- Analyst should see, with the key log: established, both closing alerts decrypted as close_notify.

### `keylog/tls12-gcm-ok.pcap` + `tls12-gcm-ok.keys`, `keylog/tls12-gcm-dsb.pcapng`
- Scenario: a good TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 session, one HTTP GET. Port 4604. The
  pcapng is the same capture with its key log in a Decryption Secrets Block.
- Made with: `openssl s_server -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -www`;
  `SSLKEYLOGFILE=... curl --tlsv1.2 --tls-max 1.2`; `editcap -F pcapng` then
  `editcap --inject-secrets tls,tls12-gcm-ok.keys`.
- Analyst should see: the encrypted closing alerts decrypted as close_notify (the pcapng without
  any option).

### `keylog/tls12-cbc-etm.pcap` + `tls12-cbc-etm.keys`, `keylog/tls12-cbc-sha384.pcap` + `tls12-cbc-sha384.keys`
- Scenario: good TLS 1.2 sessions with CBC suites, one HTTP GET each: ECDHE-RSA-AES128-SHA with
  encrypt-then-MAC (port 4607, OpenSSL's default), ECDHE-RSA-AES256-SHA384 with MAC-then-encrypt
  (port 4608, `-no_etm` on the server).
- Made with: `openssl s_server -tls1_2 -cipher ECDHE-RSA-AES128-SHA -www` (and `-cipher
  ECDHE-RSA-AES256-SHA384 -no_etm`); `SSLKEYLOGFILE=... curl --tlsv1.2 --tls-max 1.2 --ciphers ...`.
- Analyst should see, with the key log: both encrypted closing alerts decrypted as close_notify.

### `keylog/unrelated.keys`
- A key log written by curl for another TLS 1.3 session (port 4605, not captured): it matches none
  of the captures, which are then analysed as without keys.
"""


if __name__ == "__main__":
    main()
