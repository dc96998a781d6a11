#!/usr/bin/env python3
"""Tiny loopback-only helper programs used by scripts/make-samples.sh.

Every socket here is bound to / connects to 127.0.0.1 only.  Subcommands:

  smtp-server PORT CERT KEY        minimal ESMTP server (EHLO, STARTTLS, AUTH PLAIN/LOGIN,
                                   MAIL, RCPT, DATA, RSET, NOOP, QUIT); serves one client
  smtp-client PORT starttls|auth   real smtplib client: STARTTLS+QUIT, or AUTH PLAIN in clear
  connect-proxy PORT ALLOWED_PORTS HTTP CONNECT proxy; targets localhost/127.0.0.1 on one of
                                   the comma-separated ALLOWED_PORTS are tunnelled to
                                   127.0.0.1, anything else gets "403 Forbidden"
  rst-client PORT SNI              sends an ssl-module ClientHello, reads the server's first
                                   flight, then resets the connection (SO_LINGER 0 -> RST)
  close-server PORT                accepts one TCP connection, reads the ClientHello,
                                   closes with FIN and no alert
  accept-server PORT close|reset   accepts one TCP connection and ends it at once, before
                                   any byte: FIN (close) or RST (reset, SO_LINGER 0)
  socks4-proxy PORT                SOCKS4/4a proxy (RFC-less de-facto protocol: VN=4, CD=1
                                   CONNECT, optional 4a host name); only localhost/127.0.0.1
                                   targets are tunnelled, anything else gets reply 91
  upgrade-server PORT CERT KEY     RFC 2817 server: answers a request carrying 'Upgrade: TLS/1.0'
                                   with '101 Switching Protocols', then TLS (ssl module) and
                                   one HTTP response inside it; serves one client
  upgrade-client PORT CAFILE       RFC 2817 client: 'OPTIONS * HTTP/1.1' with 'Upgrade: TLS/1.0',
                                   then after the 101 a TLS handshake (SNI localhost) and a GET
  http-server PORT DIR             python's http.server (SimpleHTTPRequestHandler) whose
                                   default_request_version is HTTP/1.0, so that the 400 it
                                   sends for a garbage request line always has a status line
"""
import os
import socket
import ssl
import struct
import sys
import threading

LOOPBACK = "127.0.0.1"


def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((LOOPBACK, port))
    s.listen(5)
    return s


# --------------------------------------------------------------------------- SMTP server
class LineConn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def readline(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def send(self, text):
        self.sock.sendall(text.encode("latin-1") + b"\r\n")


def smtp_server(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = listen(port)
    conn, _ = srv.accept()
    srv.close()
    c = LineConn(conn)
    tls = False
    c.send("220 mail.localhost ESMTP tlstriage-sample ready")
    while True:
        line = c.readline()
        if line is None:
            break
        verb = line.split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            lines = ["mail.localhost greets you", "8BITMIME", "SIZE 10240000"]
            if not tls:
                lines.append("STARTTLS")
            lines.append("AUTH PLAIN LOGIN")
            for i, text in enumerate(lines):
                sep = " " if i == len(lines) - 1 else "-"
                c.send("250" + sep + text)
        elif verb == "STARTTLS" and not tls:
            if c.buf:
                c.send("501 pipelining after STARTTLS refused")
                break
            c.send("220 2.0.0 Ready to start TLS")
            conn = ctx.wrap_socket(conn, server_side=True)
            c = LineConn(conn)
            tls = True
        elif verb == "AUTH":
            parts = line.split()
            if len(parts) >= 2 and parts[1].upper() == "PLAIN":
                if len(parts) == 2:
                    c.send("334 ")
                    c.readline()
                c.send("235 2.7.0 Authentication successful")
            elif len(parts) >= 2 and parts[1].upper() == "LOGIN":
                c.send("334 VXNlcm5hbWU6")
                c.readline()
                c.send("334 UGFzc3dvcmQ6")
                c.readline()
                c.send("235 2.7.0 Authentication successful")
            else:
                c.send("504 5.5.4 Unrecognized authentication type")
        elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
            c.send("250 2.0.0 OK")
        elif verb == "DATA":
            c.send("354 End data with <CR><LF>.<CR><LF>")
            while True:
                l = c.readline()
                if l is None or l == ".":
                    break
            c.send("250 2.0.0 OK queued")
        elif verb == "QUIT":
            c.send("221 2.0.0 Bye")
            break
        else:
            c.send("502 5.5.2 Command not recognized")
    try:
        if tls:
            conn = conn.unwrap()  # send close_notify
    except (ssl.SSLError, OSError):
        pass
    conn.close()


def smtp_client(port, mode):
    import smtplib
    s = smtplib.SMTP(LOOPBACK, port, local_hostname="client.localhost", timeout=10)
    s.ehlo()
    if mode == "starttls":
        ctx = ssl.create_default_context(cafile=os.environ["SAMPLES_CA"])
        ctx.check_hostname = False  # we connect by IP; the chain is still verified
        s.starttls(context=ctx)
        s.ehlo()
        s.quit()
    elif mode == "auth":
        s.login("alice", "not-a-real-secret")
        s.quit()
    else:
        raise SystemExit("mode must be starttls or auth")


# --------------------------------------------------------------------------- CONNECT proxy
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def connect_proxy(port, allowed):
    allowed = {int(p) for p in allowed.split(",") if p}
    srv = listen(port)
    conn, _ = srv.accept()
    srv.close()
    head = b""
    while b"\r\n\r\n" not in head:
        data = conn.recv(4096)
        if not data:
            conn.close()
            return
        head += data
    request = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request.split()
    ok = False
    if len(parts) == 3 and parts[0] == "CONNECT":
        host, _, tport = parts[1].rpartition(":")
        ok = host in ("localhost", "127.0.0.1") and tport.isdigit() and int(tport) in allowed
    if not ok:
        body = b"CONNECT to this target is not allowed by policy\n"
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                     b"Connection: close\r\n\r\n" + body)
        conn.close()
        return
    up = socket.create_connection((LOOPBACK, int(tport)))
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    t = threading.Thread(target=pipe, args=(up, conn))
    t.start()
    pipe(conn, up)
    t.join()
    up.close()
    conn.close()


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        more = conn.recv(n - len(data))
        if not more:
            return None
        data += more
    return data


def recv_nul(conn, limit=255):
    data = b""
    while not data.endswith(b"\0"):
        more = conn.recv(1)
        if not more or len(data) > limit:
            return None
        data += more
    return data[:-1]


def socks4_proxy(port):
    srv = listen(port)
    conn, _ = srv.accept()
    srv.close()
    head = recv_exact(conn, 8)
    user = recv_nul(conn) if head else None
    if head is None or user is None or head[0] != 4 or head[1] != 1:
        conn.close()
        return
    tport = struct.unpack(">H", head[2:4])[0]
    ip = socket.inet_ntoa(head[4:8])
    host = ip
    if head[4:7] == b"\0\0\0" and head[7] != 0:
        name = recv_nul(conn)
        host = name.decode("latin-1") if name is not None else ""
    if host not in ("localhost", LOOPBACK):
        conn.sendall(b"\0\x5b" + head[2:8])
        conn.close()
        return
    try:
        up = socket.create_connection((LOOPBACK, tport))
    except OSError:
        conn.sendall(b"\0\x5b" + head[2:8])
        conn.close()
        return
    conn.sendall(b"\0\x5a" + head[2:8])
    t = threading.Thread(target=pipe, args=(up, conn))
    t.start()
    pipe(conn, up)
    t.join()
    up.close()
    conn.close()


# --------------------------------------------------------------------------- RFC 2817 upgrade
def read_head(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(1)   # byte by byte: nothing after the head may be consumed
        if not data:
            return None
        head += data
    return head


def upgrade_server(port, cert, key):
    srv = listen(port)
    conn, _ = srv.accept()
    srv.close()
    head = read_head(conn)
    if head is None or b"upgrade: tls/1.0" not in head.lower():
        conn.close()
        return
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, HTTP/1.1\r\n"
                 b"Connection: Upgrade\r\n\r\n")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls = ctx.wrap_socket(conn, server_side=True)
    if read_head(tls) is not None:
        body = b"upgraded\n"
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (len(body), body))
    tls.unwrap()
    conn.close()


def upgrade_client(port, cafile):
    sock = socket.create_connection((LOOPBACK, port))
    sock.sendall(b"OPTIONS * HTTP/1.1\r\nHost: localhost:%d\r\nUpgrade: TLS/1.0\r\n"
                 b"Connection: Upgrade\r\n\r\n" % port)
    head = read_head(sock)
    if head is None or not head.startswith(b"HTTP/1.1 101"):
        sock.close()
        raise SystemExit("no 101: %r" % head)
    ctx = ssl.create_default_context(cafile=cafile)
    tls = ctx.wrap_socket(sock, server_hostname="localhost")
    tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % port)
    while tls.recv(4096):
        pass
    tls.close()


# --------------------------------------------------------------------------- RST client
def rst_client(port, sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    s = socket.create_connection((LOOPBACK, port))
    s.sendall(hello)
    # read the server's first flight (ServerHello .. ServerHelloDone)
    got = b""
    s.settimeout(5)
    while True:
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        got += data
        # ServerHelloDone is handshake type 14 with empty body: 0e 00 00 00
        if b"\x0e\x00\x00\x00" in got:
            break
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # abortive close -> RST


# --------------------------------------------------------------------------- close server
def close_server(port):
    srv = listen(port)
    conn, _ = srv.accept()
    srv.close()
    conn.settimeout(5)
    got = b""
    try:
        while len(got) < 5 or len(got) < 5 + struct.unpack("!H", got[3:5])[0]:
            data = conn.recv(65536)
            if not data:
                break
            got += data
    except socket.timeout:
        pass
    conn.shutdown(socket.SHUT_WR)  # FIN, no alert
    conn.settimeout(5)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


# --------------------------------------------------------------------------- accept server
def accept_server(port, mode):
    """Accept one connection and end it at once, before reading or sending a byte (what a
    tcpwrappers deny or an overloaded terminator does): FIN with mode close, RST with reset."""
    srv = listen(port)
    conn, _ = srv.accept()
    srv.close()
    if mode == "reset":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


# --------------------------------------------------------------------------- HTTP server
def http_server(port, directory):
    import functools
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        # The stock default (HTTP/0.9) makes http.server answer some garbage request lines
        # with a bare HTML body and no status line, depending on how the random bytes of
        # a ClientHello split into words; HTTP/1.0 makes the answer always
        # "HTTP/1.0 400 Bad request ...".
        default_request_version = "HTTP/1.0"

    handler = functools.partial(Handler, directory=directory)
    with http.server.HTTPServer((LOOPBACK, port), handler) as httpd:
        httpd.serve_forever()


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "smtp-server":
        smtp_server(int(args[0]), args[1], args[2])
    elif cmd == "smtp-client":
        smtp_client(int(args[0]), args[1])
    elif cmd == "connect-proxy":
        connect_proxy(int(args[0]), args[1])
    elif cmd == "rst-client":
        rst_client(int(args[0]), args[1])
    elif cmd == "close-server":
        close_server(int(args[0]))
    elif cmd == "accept-server":
        accept_server(int(args[0]), args[1])
    elif cmd == "socks4-proxy":
        socks4_proxy(int(args[0]))
    elif cmd == "upgrade-server":
        upgrade_server(int(args[0]), args[1], args[2])
    elif cmd == "upgrade-client":
        upgrade_client(int(args[0]), args[1])
    elif cmd == "http-server":
        http_server(int(args[0]), args[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
