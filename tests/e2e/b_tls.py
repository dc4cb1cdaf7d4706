"""b_tls: TLS on both sides. freshd listens with TLS and in plaintext side
by side, in front of the (plaintext) scripted origin; the client is
Python's ssl module over the harness's raw HTTP client, so framing is seen
exactly. For HTTPS backends a second freshd talks TLS to TLSFront, a small
TLS terminator (Python's ssl) in front of the same origin, which records
the server names it was asked for and the connections it accepted.

A throw-away CA and three certificates are made at set-up with the openssl
command-line tool: "default.test" (the first, the default), "a.test" with
"*.a.test", and "b.test". Clients verify against the CA and the name they
ask for, so a wrong certificate fails the handshake.

Covered: hits over TLS (byte-exact, Cache-Status), http and https cached
apart and X-Forwarded-Proto, keep-alive, pipelining, a large response to a
slow reader (from the origin and from the store), SNI and the default
certificate, ALPN, session resumption, a plaintext client on the TLS port,
a handshake that never completes (closed at header-timeout), the plaintext
listener beside it, certificate reload on SIGHUP, and config errors.
Backends: hit and SNI over an HTTPS backend, pooled keep-alive TLS
connections, a large body, certificate verification (a wrong name is 502,
tls-verify off lets it through), the retry of a GET on a dead pooled TLS
connection, and tls-ca errors.
"""

import json
import os
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import harness as H
from harness import check, pattern, qs, unique

HEADER_TIMEOUT_MS = 1500
MiB = 1024 * 1024
CERTS = {}          # name -> (chain path, key path)
CA = [None]


def openssl(*args):
    p = subprocess.run(["openssl"] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise H.TestFailure("openssl %s: %s" % (" ".join(args),
                                                 p.stderr.decode(errors="replace")))


def make_certs(d):
    """The CA and the three certificates (EC P-256, valid two days)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ca, cakey = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    openssl("req", "-x509", *ec, "-keyout", cakey, "-out", ca, "-days", "2",
            "-subj", "/CN=freshd test CA")
    CA[0] = ca
    for name, sans in (("default.test", "DNS:default.test"),
                       ("a.test", "DNS:a.test,DNS:*.a.test"),
                       ("b.test", "DNS:b.test")):
        crt, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
        openssl("req", "-x509", *ec, "-keyout", key, "-out", crt, "-days", "2",
                "-subj", "/CN=" + name, "-addext", "subjectAltName=" + sans,
                "-CA", ca, "-CAkey", cakey)
        CERTS[name] = (crt, key)


def tls_block(order=("default.test", "a.test", "b.test")):
    return "tls { %s }\n" % " ".join(
        "certificate %s %s;" % CERTS[n] for n in order)


def config(env, tls_port, order=("default.test", "a.test", "b.test")):
    text = env.config_text("freshd", env.plain_port,
                           limits={"header-timeout": "%dms" % HEADER_TIMEOUT_MS})
    return text + "listen 127.0.0.1:%d tls;\n" % tls_port + tls_block(order)


def client_ctx(alpn=None):
    ctx = ssl.create_default_context(cafile=CA[0])
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class TLSClient(H.Client):
    """The harness's raw HTTP client over a TLS connection."""

    def __init__(self, port, server_name="a.test", ctx=None, session=None,
                 timeout=10.0):
        super().__init__(port, timeout=timeout)
        ctx = ctx or client_ctx()
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_name,
                                    session=session)

    def peer_cn(self):
        subject = dict(x[0] for x in self.sock.getpeercert()["subject"])
        return subject["commonName"]


def tls_get(env, target, headers=None, server_name="a.test"):
    with TLSClient(env.tls_port, server_name) as c:
        return c.roundtrip("GET", target, headers)


def cacheable(mark, size=1024, **extra):
    return "/t/%s?%s" % (mark, qs(size=size, m=mark, hdr="Cache-Control: max-age=60",
                                  **extra))


def origin_count(env, mark):
    return len(env.origin.log_for(mark))


def wait_tls_cached(env, target, timeout=5.0):
    def probe():
        r = tls_get(env, target, [("Cache-Control", "only-if-cached")])
        return r if r.status != 504 else None
    return H.wait_until(probe, timeout, 0.01)


def closed_within(sock, timeout):
    """Reads (and drops) until EOF or reset; the time it took, or None."""
    t0 = time.monotonic()
    sock.setblocking(False)
    while True:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            return None
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return None
        try:
            if not sock.recv(65536):
                return time.monotonic() - t0
        except ConnectionResetError:
            return time.monotonic() - t0
        except BlockingIOError:
            continue


# A 1 KiB hit over TLS: byte-exact, Cache-Status hit, one origin request.
def test_hit_over_tls(env):
    mark = unique("hit")
    target = cacheable(mark)
    r1 = tls_get(env, target)
    check(r1.status == 200 and r1.body == pattern(1024), "miss: %r" % r1)
    check(r1.cache_status().get("fwd") == "uri-miss", "miss Cache-Status %r" %
          r1.header("Cache-Status"))
    check(wait_tls_cached(env, target) is not None, "not stored within 5 s")
    r2 = tls_get(env, target)
    check(r2.status == 200 and r2.body == pattern(1024), "hit: %r" % r2)
    cs = r2.cache_status()
    check("hit" in cs and "fwd" not in cs, "hit Cache-Status %r" % r2.header("Cache-Status"))
    check(origin_count(env, mark) == 1, "origin saw %d requests, want 1" %
          origin_count(env, mark))


# RFC 9110 §4.2: http and https URIs name different resources; the cache
# keeps them apart in both directions, and the origin hears the scheme.
def test_http_and_https_cached_apart(env):
    for first, second in (("https", "http"), ("http", "https")):
        mark = unique("scheme")
        target = cacheable(mark)

        def get(scheme, headers=None):
            if scheme == "https":
                return tls_get(env, target, headers)
            return H.get(env.plain_port, target, headers)

        check(get(first).status == 200, "%s miss failed" % first)
        check(H.wait_until(lambda: get(first, [("Cache-Control", "only-if-cached")])
                           .status == 200, 5), "%s response not stored" % first)
        r = get(second, [("Cache-Control", "only-if-cached")])
        check(r.status == 504, "%s request served the %s response: %r (%s)" %
              (second, first, r, r.header("Cache-Status")))
        r = get(second)
        check(r.status == 200 and r.cache_status().get("fwd") == "uri-miss",
              "%s after %s: %r %s" % (second, first, r, r.header("Cache-Status")))
        check(origin_count(env, mark) == 2, "origin saw %d requests, want 2" %
              origin_count(env, mark))
    echo = tls_get(env, "/xfp?" + qs(echo=1, u=unique()))
    fields = [v for k, v in json.loads(echo.body)["headers"]
              if k.lower() == "x-forwarded-proto"]
    check(fields == ["https"], "X-Forwarded-Proto over TLS: %r" % fields)


# An absolute-form target that names the other scheme than the connection's
# (RFC 9112 §3.2.2) is answered 421 (RFC 9110 §15.5.20), on a connection
# kept open, and reaches neither the origin nor the cache: a plaintext
# client cannot fill the https entries, nor a TLS client the http ones.
def test_absolute_form_other_scheme_misdirected(env):
    for scheme in ("https", "http"):
        mark = unique("misdir")
        target = cacheable(mark)
        other = "http" if scheme == "https" else "https"
        absolute = "%s://freshd.test%s" % (other, target)
        c = TLSClient(env.tls_port) if scheme == "https" else env.freshd.client()
        with c:
            r = c.roundtrip("GET", absolute)
            check(r.status == 421, "%s connection, %s: %r" % (scheme, absolute, r))
            r = c.roundtrip("GET", target)
            check(r.status == 200, "%s connection, next request: %r" % (scheme, r))
        check(origin_count(env, mark) == 1, "origin saw %d requests, want 1" %
              origin_count(env, mark))
        only = [("Cache-Control", "only-if-cached")]
        r = (H.get(env.plain_port, target, only) if other == "http" else
             tls_get(env, target, only))
        check(r.status == 504, "the %s entry was filled: %r" % (other, r))


# RFC 9112 §9.3: many requests on one TLS connection.
def test_keepalive(env):
    mark = unique("ka")
    with TLSClient(env.tls_port) as c:
        for i in range(50):
            r = c.roundtrip("GET", "/ka?" + qs(m=mark, i=i, size=i * 100))
            check(r.status == 200 and r.body == pattern(i * 100),
                  "request %d on the TLS connection: %r" % (i, r))
    check(origin_count(env, mark) == 50, "origin saw %d of 50" % origin_count(env, mark))


# RFC 9112 §9.3.2: pipelined requests in one TLS write, answered in order.
def test_pipelined(env):
    mark = unique("pipe")
    reqs = b"".join(H.build_request("GET", "/pipe?" + qs(m=mark, i=i, size=300 + i,
                                                         delay=200 if i == 0 else 0))
                    for i in range(10))
    with TLSClient(env.tls_port) as c:
        c.send(reqs)
        for i in range(10):
            r = c.read_response()
            check(r.status == 200 and r.body == pattern(300 + i),
                  "pipelined response %d: %r" % (i, r))


def slow_read(c, size, slow_seconds):
    """Reads a response, slowly for slow_seconds (small reads, pauses)."""
    r = c.read_head()
    got = bytearray()
    slow_until = time.monotonic() + slow_seconds
    for piece in c.body_pieces(r, bufsize=16384):
        got += piece
        if time.monotonic() < slow_until:
            time.sleep(0.02)
    r.body = bytes(got)
    return r


# A 12 MiB response to a reader that is slow at first: from the origin
# (miss), then from the store (hit, sent from the map by reference).
def test_large_slow_reader(env):
    size = 12 * MiB
    mark = unique("large")
    target = cacheable(mark, size=size)
    for what in ("miss", "hit"):
        with TLSClient(env.tls_port) as c:
            c.request("GET", target)
            r = slow_read(c, size, 2.0)
        check(r.status == 200 and r.complete and len(r.body) == size,
              "%s: %r" % (what, r))
        check(r.body == pattern(size), "%s: body differs" % what)
        if what == "miss":
            check(wait_tls_cached(env, target, 10) is not None, "not stored")
        else:
            check("hit" in r.cache_status(), "second read not a hit: %s" %
                  r.header("Cache-Status"))


# A client that pipelines two requests, the second with Connection: close,
# then half-closes its side (shutdown SHUT_WR) and reads slowly: both
# responses arrive whole over TLS, as over TCP (RFC 9112 §9.6), and freshd
# then closes. libevent's OpenSSL bufferevent stops writing at the client's
# end of stream; freshd must start it again.
def test_half_close_after_pipelined_requests(env):
    sizes = (6 * MiB, MiB)
    targets = ["/nb/%s?%s" % (unique("hc"), qs(size=n, hdr="Cache-Control: no-store"))
               for n in sizes]
    c = TLSClient(env.tls_port, timeout=10)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    with c:
        c.send(H.build_request("GET", targets[0]) +
               H.build_request("GET", targets[1], [("Connection", "close")]))
        # The TLS object cannot half-close; the socket under it can.
        dup = socket.socket(fileno=os.dup(c.sock.fileno()))
        dup.shutdown(socket.SHUT_WR)
        dup.close()
        for n in sizes:
            r = c.read_head()
            got = bytearray()
            for piece in c.body_pieces(r, 1 << 14):
                got += piece
                time.sleep(0.01)
            check(r.status == 200 and r.complete and bytes(got) == pattern(n),
                  "%d bytes: status %d, %d received, complete=%s" %
                  (n, r.status, len(got), r.complete))
        c.sock.settimeout(3.0)
        try:
            rest = c.sock.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError):
            rest = b""
        except socket.timeout:
            rest = None
        check(rest == b"", "after the responses: %r, want the connection closed" % rest)


# A close-delimited response (HTTP/1.0 client, origin without a length)
# that the origin cuts: over TLS the connection ends without close_notify,
# the only sign of the truncation such a client has (RFC 8446 §6.1, RFC 9112
# §9.8); a complete one ends with it.
def test_truncated_close_delimited_has_no_close_notify(env):
    for cut in (True, False):
        extra = {"reset_after": 300000} if cut else {}
        target = "/tr?" + qs(u=unique("tr"), size=1000000, nolength=1,
                             hdr="Cache-Control: no-store", **extra)
        s = client_ctx().wrap_socket(
            socket.create_connection(("127.0.0.1", env.tls_port), timeout=10),
            server_hostname="a.test", suppress_ragged_eofs=False)
        s.sendall(H.build_request("GET", target, version="HTTP/1.0"))
        data, how = bytearray(), None
        while how is None:
            try:
                b = s.recv(65536)
                if not b:
                    how = "close_notify"
                data += b
            except (ssl.SSLEOFError, ConnectionResetError):
                how = "cut"
        s.close()
        body = bytes(data).partition(b"\r\n\r\n")[2]
        want = ("cut", 300000) if cut else ("close_notify", 1000000)
        check((how, len(body)) == want, "origin %s: %s after %d body bytes, want %r" %
              ("cut" if cut else "whole", how, len(body), want))


# Clients that vanish (reset) while a large response is being encrypted
# and written: freshd carries on serving the others.
def test_client_reset_mid_body(env):
    size = 12 * MiB
    target = cacheable(unique("reset"), size=size)
    with TLSClient(env.tls_port) as c:
        check(c.roundtrip("GET", target).body == pattern(size), "first read")
    check(wait_tls_cached(env, target, 10) is not None, "not stored")
    for i in range(6):
        c = TLSClient(env.tls_port)
        c.request("GET", target)
        c.read_head()
        c._fill(65536 * (i + 1))
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        c.sock.close()
    # Request and reset at once: the answer's first write may fail at once.
    small = cacheable(unique("reset-small"), size=1024)
    tls_get(env, small)
    for i in range(30):
        c = TLSClient(env.tls_port)
        c.request("GET", small if i % 2 else target)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        c.sock.close()
    check(env.freshd.alive(), "freshd died")
    with TLSClient(env.tls_port) as c:
        r = c.roundtrip("GET", target)
    check(r.status == 200 and r.body == pattern(size), "a read after the resets: %r" % r)


# RFC 6066 §3: the server name picks the certificate; an unknown name or
# none gets the first one.
def test_sni_picks_certificate(env):
    for name, want in (("a.test", "a.test"), ("www.a.test", "a.test"),
                       ("b.test", "b.test"), ("default.test", "default.test")):
        with TLSClient(env.tls_port, name) as c:
            check(c.peer_cn() == want, "SNI %s got %s, want %s" %
                  (name, c.peer_cn(), want))
            check(c.roundtrip("GET", "/sni?" + qs(size=10, u=unique())).status == 200,
                  "request after SNI %s" % name)
    ctx = client_ctx()
    ctx.check_hostname = False
    for name in ("unknown.test", None):
        with TLSClient(env.tls_port, name, ctx=ctx) as c:
            check(c.peer_cn() == "default.test", "SNI %r got %s, want the default" %
                  (name, c.peer_cn()))


# RFC 7301: http/1.1 is selected; a client offering only h2 is refused.
def test_alpn(env):
    with TLSClient(env.tls_port, ctx=client_ctx(["h2", "http/1.1"])) as c:
        check(c.sock.selected_alpn_protocol() == "http/1.1", "ALPN selected %r" %
              c.sock.selected_alpn_protocol())
        check(c.roundtrip("GET", "/alpn?" + qs(size=5, u=unique())).status == 200,
              "request after ALPN")
    try:
        with TLSClient(env.tls_port, ctx=client_ctx(["h2"])):
            pass
    except ssl.SSLError as e:
        check("ALERT" in str(e).upper(), "h2-only handshake failed oddly: %s" % e)
    else:
        raise H.TestFailure("a client offering only h2 completed the handshake")


# RFC 8446 §2.2: a second connection resumes the first one's session.
def test_session_resumption(env):
    ctx = client_ctx()
    with TLSClient(env.tls_port, ctx=ctx) as c:
        c.roundtrip("GET", "/res?" + qs(size=5, u=unique()))
        session = c.sock.session
    check(session is not None, "no session after the first connection")
    with TLSClient(env.tls_port, ctx=ctx, session=session) as c:
        check(c.sock.session_reused, "the session was not resumed")
        check(c.roundtrip("GET", "/res?" + qs(size=5, u=unique())).status == 200,
              "request on a resumed session")


# A plaintext request on the TLS port: the handshake fails, the connection
# closes, freshd stays up.
def test_plaintext_client_on_tls_port(env):
    with socket.create_connection(("127.0.0.1", env.tls_port), timeout=5) as s:
        s.sendall(H.build_request("GET", "/plain-on-tls"))
        t = closed_within(s, 3.0)
        check(t is not None, "connection still open 3 s after a plaintext request")
    check(env.freshd.alive(), "freshd died")
    check(tls_get(env, "/after?" + qs(size=7, u=unique())).status == 200,
          "TLS request after the plaintext one")


# A client that never finishes its handshake (silent, or half a
# ClientHello) is closed at header-timeout, not before and not much later.
def test_handshake_never_completes(env):
    for first_bytes in (b"", b"\x16\x03\x01\x02\x00\x01\x00"):
        with socket.create_connection(("127.0.0.1", env.tls_port), timeout=5) as s:
            if first_bytes:
                s.sendall(first_bytes)
            t = closed_within(s, HEADER_TIMEOUT_MS / 1000 + 3)
        check(t is not None, "handshake %r not closed within header-timeout + 3 s" %
              first_bytes)
        check(t >= HEADER_TIMEOUT_MS / 1000 - 0.3, "closed after %.2f s, before "
              "header-timeout (%d ms)" % (t, HEADER_TIMEOUT_MS))


# The plaintext listener works beside the TLS one.
def test_plaintext_listener_beside(env):
    mark = unique("plain")
    r = H.get(env.plain_port, "/plain?" + qs(size=2000, m=mark, echo=1))
    check(r.status == 200, "plaintext request: %r" % r)
    fields = [v for k, v in json.loads(r.body)["headers"]
              if k.lower() == "x-forwarded-proto"]
    check(fields == ["http"], "X-Forwarded-Proto over plaintext: %r" % fields)


# SIGHUP with the certificates reordered: new connections get the new
# default, a connection already open keeps working; a reload naming a
# missing file is refused and the running certificates stay.
def test_reload_changes_certificates(env):
    ctx = client_ctx()
    ctx.check_hostname = False
    old = TLSClient(env.tls_port, None, ctx=ctx)
    try:
        check(old.peer_cn() == "default.test", "before reload: %s" % old.peer_cn())
        env.freshd.write_config(config(env, env.tls_port, ("b.test", "a.test")))
        env.freshd.signal(signal.SIGHUP)

        def default_cn():
            with TLSClient(env.tls_port, None, ctx=ctx) as c:
                return c.peer_cn()
        check(H.wait_until(lambda: default_cn() == "b.test", 5),
              "the default certificate is still %s after the reload" % default_cn())
        r = old.roundtrip("GET", "/old?" + qs(size=3, u=unique()))
        check(r.status == 200, "connection opened before the reload: %r" % r)
        bad = config(env, env.tls_port).replace(CERTS["a.test"][0], "/nonexistent.pem")
        env.freshd.write_config(bad)
        env.freshd.signal(signal.SIGHUP)
        check(H.wait_until(lambda: "reload failed" in env.freshd.stderr_text(), 5),
              "no 'reload failed' after a reload with a missing certificate")
        check(default_cn() == "b.test", "a refused reload changed the certificate")
    finally:
        old.close()
        env.freshd.write_config(config(env, env.tls_port))
        env.freshd.signal(signal.SIGHUP)
        H.wait_until(lambda: TLSClient(env.tls_port, None, ctx=ctx).peer_cn() ==
                     "default.test", 5)


def freshd_t(env, name, text):
    path = os.path.join(env.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([H.FRESHD, "-t", "-c", path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    return path, p.returncode, p.stderr.decode("utf-8", "replace")


def assert_bad(env, name, lines, line, words):
    path, status, err = freshd_t(env, name, "\n".join(lines) + "\n")
    check(status != 0, "freshd -t accepted %s" % name)
    m = re.search(re.escape(path) + r":(\d+): (.*)", err)
    check(m is not None, "no '%s:LINE: message': %r" % (path, err))
    check(int(m.group(1)) == line, "%s: error at line %s, want %d: %s" %
          (name, m.group(1), line, err.strip()))
    for w in words:
        check(w in m.group(2), "%s: message lacks %r: %s" % (name, w, err.strip()))


# Config errors stop freshd with FILE:LINE: message and a non-zero exit.
def test_config_errors(env):
    a, akey = CERTS["a.test"]
    bkey = CERTS["b.test"][1]
    head = ["workers 1;", "listen 127.0.0.1:%d tls;" % H.free_port(),
            "cache { dir %s; }" % os.path.join(env.tmp, "cfg-cache"),
            "backend o { server 127.0.0.1:1; }", "site s { backend o; }"]
    missing = os.path.join(env.tmp, "missing.pem")
    assert_bad(env, "missing.conf", head + ["tls {", "  certificate %s %s;" %
                                             (missing, akey), "}"],
               7, ["cannot read certificate chain", missing, "no such file"])
    assert_bad(env, "missingkey.conf", head + ["tls { certificate %s %s; }" %
                                                (a, missing)],
               6, ["cannot read private key", missing])
    assert_bad(env, "mismatch.conf", head + ["tls {", "", "  certificate %s %s;" %
                                              (a, bkey), "}"],
               8, ["does not match", bkey, a])
    assert_bad(env, "notls.conf", head, 2, ["tls", "certificate"])
    assert_bad(env, "badopt.conf", ["listen 127.0.0.1:1 ssl;"], 1, ["ssl", "tls"])
    assert_bad(env, "nocert.conf", head + ["tls { ciphers HIGH; }"], 6, ["certificate"])
    assert_bad(env, "ciphers.conf", head + ["tls { certificate %s %s;" % (a, akey),
                                            "ciphers NOSUCHCIPHER; }"],
               6, ["ciphers", "NOSUCHCIPHER"])
    # The daemon itself refuses to start (exit 1, the config error).
    path, _, _ = freshd_t(env, "start.conf", "\n".join(
        head + ["tls { certificate %s %s; }" % (a, bkey)]) + "\n")
    p = subprocess.run([H.FRESHD, "-c", path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    check(p.returncode == 1 and b"does not match" in p.stderr,
          "freshd with a mismatched key: exit %d, %r" % (p.returncode, p.stderr[:300]))
    path, status, err = freshd_t(env, "good.conf", "\n".join(
        head + ["tls { certificate %s %s; }" % (a, akey)]) + "\n")
    check(status == 0, "a good TLS config is refused: %s" % err)


class TLSFront:
    """A TLS terminator on loopback in front of the origin: each TLS
    connection (certificate a.test) gets its own plaintext one to the
    origin, and bytes are copied both ways until either side closes."""

    def __init__(self, origin_port):
        self.origin_port = origin_port
        self.names = []         # SNI of each handshake (None: none sent)
        self.accepted = 0       # completed handshakes
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*CERTS["a.test"])
        ctx.sni_callback = lambda sock, name, c: self.names.append(name)
        self.ctx = ctx
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        self.accepted += 1
        plain = socket.create_connection(("127.0.0.1", self.origin_port))
        try:
            while True:
                ready = [tls] if tls.pending() else \
                    select.select([tls, plain], [], [], 60)[0]
                if not ready:
                    return
                for src in ready:
                    dst = plain if src is tls else tls
                    try:
                        data = src.recv(65536)
                    except ssl.SSLWantReadError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        return
                    dst.sendall(data)
        except OSError:
            return
        finally:
            plain.close()
            tls.close()


def backend_freshd(env, name, backend):
    """A freshd whose backend is env.front over TLS, with these backend
    directives added."""
    port = H.free_port()
    f = H.Freshd(env.tmp, name, port, conf_text=env.config_text(
        name, port, env.front.port,
        backend=dict({"tls": "on", "tls-ca": CA[0]}, **backend)))
    env.freshds.append(f)
    return f


def test_https_backend_hit_and_sni(env):
    mark = unique("bhit")
    target = cacheable(mark, size=5000)
    env.front.names.clear()
    r1 = H.get(env.bfreshd.port, target)
    check(r1.status == 200 and r1.body == pattern(5000), "miss: %r" % r1)
    check(H.wait_cached(env.bfreshd.port, target) is not None, "not stored")
    r2 = H.get(env.bfreshd.port, target)
    check(r2.status == 200 and r2.body == pattern(5000) and "hit" in r2.cache_status(),
          "hit: %r %s" % (r2, r2.header("Cache-Status")))
    check(origin_count(env, mark) == 1, "origin saw %d requests, want 1" %
          origin_count(env, mark))
    check(env.front.names and set(env.front.names) == {"a.test"},
          "SNI sent to the backend: %r, want a.test" % env.front.names)


# Keep-alive toward an HTTPS backend: 30 requests, one TLS connection.
def test_https_backend_pooled(env):
    mark = unique("bpool")
    with env.bfreshd.client() as c:
        c.roundtrip("GET", "/bpool?" + qs(m=mark, i=-1, size=1))
        before = env.front.accepted
        for i in range(30):
            r = c.roundtrip("GET", "/bpool?" + qs(m=mark, i=i, size=i * 50))
            check(r.status == 200 and r.body == pattern(i * 50), "request %d: %r" % (i, r))
    check(env.front.accepted == before, "%d new TLS connections for 30 requests, "
          "want 0 (the pooled one)" % (env.front.accepted - before))
    check(origin_count(env, mark) == 31, "origin saw %d of 31" % origin_count(env, mark))


# A 12 MiB body from the HTTPS backend, byte-exact, to a slow reader.
def test_https_backend_large(env):
    size = 12 * MiB
    with env.bfreshd.client() as c:
        c.request("GET", "/blarge?" + qs(size=size, u=unique()))
        r = slow_read(c, size, 1.0)
    check(r.status == 200 and r.complete and r.body == pattern(size), "%r" % r)


# The origin closes a pooled connection (TLSFront then closes the TLS one):
# the GET is retried on a new connection, once.
def test_https_backend_retry_dead_pooled(env):
    mark = unique("bretry")
    with env.bfreshd.client() as c:
        check(c.roundtrip("GET", "/bretry?" + qs(m=mark, i=0, size=10)).status == 200,
              "first request")
        env.origin.arm_drop_reused(1)
        r = c.roundtrip("GET", "/bretry?" + qs(m=mark, i=1, size=10))
    env.origin.arm_drop_reused(0)
    check(r.status == 200 and r.body == pattern(10), "after a dead pooled TLS "
          "connection: %r" % r)


# Certificate checks: a name the certificate does not carry is refused
# (502, and the error log says why); tls-verify off lets it through; a
# CA that did not sign it is refused.
def test_https_backend_verification(env):
    wrong = backend_freshd(env, "wrongname", {"tls-server-name": "b.test"})
    try:
        r = H.get(wrong.port, "/v?" + qs(size=3, u=unique()))
        check(r.status == 502, "wrong name answered %r, want 502" % r)
        check(H.wait_until(lambda: "certificate" in wrong.stderr_text(), 3),
              "no certificate error in the log: %s" % H.tail(wrong.stderr_path, 5))
    finally:
        wrong.stop()
    loose = backend_freshd(env, "noverify", {"tls-server-name": "b.test",
                                             "tls-verify": "off", "tls-ca": None})
    try:
        r = H.get(loose.port, "/v?" + qs(size=3, u=unique()))
        check(r.status == 200 and r.body == pattern(3), "tls-verify off: %r" % r)
    finally:
        loose.stop()
    sysca = backend_freshd(env, "sysca", {"tls-ca": None})
    try:
        r = H.get(sysca.port, "/v?" + qs(size=3, u=unique()))
        check(r.status == 502, "a certificate of an unknown CA answered %r" % r)
    finally:
        sysca.stop()


# --origin https://HOST:PORT: TLS to the origin, verified. In quick mode the
# system's CAs do not know the test CA (502, and the log says why); over a
# configuration whose backend names the test CA and a.test, the override
# keeps those and talks TLS to the new server.
def test_origin_flag_https(env):
    origin = "https://127.0.0.1:%d" % env.front.port
    qport = H.free_port()
    quick = env.new_freshd_args("quickhttps", qport, [
        "--origin", origin, "--listen", "127.0.0.1:%d" % qport,
        "--cache-dir", os.path.join(env.tmp, "quickhttps-cache"), "--workers", "1"])
    port = H.free_port()
    text = env.config_text("cfghttps", port, env.origin.port, backend={
        "tls-ca": CA[0], "tls-server-name": "a.test"})
    cfg = env.new_freshd_args("cfghttps", port, ["--origin", origin], conf_text=text)
    try:
        r = H.get(quick.port, "/q?" + qs(size=3, u=unique()))
        check(r.status == 502, "quick mode, a CA the system does not know: %r" % r)
        check(H.wait_until(lambda: "certificate" in quick.stderr_text(), 3),
              "no certificate error in the log: %s" % H.tail(quick.stderr_path, 5))
        before = env.front.accepted
        r = H.get(cfg.port, "/q?" + qs(size=3000, u=unique()))
        check(r.status == 200 and r.body == pattern(3000),
              "--origin https:// over a backend with tls-ca: %r" % r)
        check(env.front.accepted > before, "the request did not go through TLS")
    finally:
        quick.stop()
        cfg.stop()


# Two backends to the same server whose tls-ca paths differ only past the
# first 300 bytes do not share pooled connections: a connection checked
# against one backend's CA is never handed to the other.
def test_https_backends_pooled_apart_by_settings(env):
    d = os.path.join(env.tmp, "c" * 250)
    os.makedirs(d, exist_ok=True)
    good, other = os.path.join(d, "ca-good.pem"), os.path.join(d, "ca-other.pem")
    with open(CA[0], "rb") as src, open(good, "wb") as dst:
        dst.write(src.read())
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", os.path.join(env.tmp, "other.key"), "-out", other,
            "-days", "2", "-subj", "/CN=another CA")
    port = H.free_port()
    text = H.render_config("127.0.0.1:%d" % port, "127.0.0.1:%d" % env.front.port,
                           os.path.join(env.tmp, "pools-cache"),
                           backend={"tls": "on", "tls-ca": good,
                                    "tls-server-name": "a.test"},
                           site={"hosts": "good.test"})
    text += ("backend other { server 127.0.0.1:%d; tls on; tls-ca %s; "
             "tls-server-name a.test; }\n" % (env.front.port, other))
    text += "site other { hosts other.test; backend other; }\n"
    f = H.Freshd(env.tmp, "pools", port, conf_text=text)
    env.freshds.append(f)
    try:
        with H.Client(port) as c:
            r = c.roundtrip("GET", "/p?" + qs(size=3, u=unique()), host="good.test")
        check(r.status == 200, "through the backend with the right CA: %r" % r)
        with H.Client(port) as c:
            r = c.roundtrip("GET", "/p?" + qs(size=3, u=unique()), host="other.test")
        check(r.status == 502, "through the backend with another CA: %r, want 502" % r)
    finally:
        f.stop()


def test_https_backend_config_errors(env):
    head = ["workers 1;", "listen 127.0.0.1:%d;" % H.free_port(),
            "cache { dir %s; }" % os.path.join(env.tmp, "bcfg-cache"),
            "site s { backend o; }"]
    missing = os.path.join(env.tmp, "missing-ca.pem")
    assert_bad(env, "noca.conf", head + ["backend o {", "  server 127.0.0.1:1;",
                                         "  tls on;", "  tls-ca %s;" % missing, "}"],
               8, ["cannot read tls-ca", missing])
    assert_bad(env, "badca.conf", head + ["backend o { server 127.0.0.1:1; tls on;",
                                          "tls-ca %s; }" % CERTS["a.test"][1]],
               6, ["invalid tls-ca"])
    assert_bad(env, "tlsbool.conf", head + ["backend o { server 127.0.0.1:1; tls yes; }"],
               5, ["on or off"])


def setup():
    env = H.Env("b_tls", start_freshd=False)
    make_certs(env.tmp)
    env.plain_port = H.free_port()
    env.tls_port = H.free_port()
    env.freshd = H.Freshd(env.tmp, "freshd", env.plain_port,
                          conf_text=config(env, env.tls_port))
    env.freshds.append(env.freshd)
    check(H.wait_port(env.tls_port, env.freshd.proc), "TLS port not listening")
    env.front = TLSFront(env.origin.port)
    env.bfreshd = backend_freshd(env, "bfreshd", {"tls-server-name": "a.test"})
    return env


if __name__ == "__main__":
    H.run(globals(), setup)
