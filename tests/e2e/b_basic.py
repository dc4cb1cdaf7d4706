"""b_basic: requests pass through freshd intact, and freshd does what a
proxy must to them on the way (RFC 9110 §7.6, RFC 9112 §3.2, §6-§7).

Every response here is made uncacheable or uses a unique URL, so what is
checked is the forwarding path, not the cache.
"""

import json
import time

import harness as H
from harness import check, pattern, qs, unique


def echo_of(r):
    """The origin's echo (what it received), from a response to ?echo=1."""
    check(r.status == 200, "echo request answered %r" % r)
    return json.loads(r.body)


def origin_fields(echo, name):
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


# RFC 9110 §9.3.1: GET; status, fields and content reach the client intact.
def test_get_passes_through(env):
    with env.client() as c:
        r = c.roundtrip("GET", "/get?" + qs(size=100000, u=unique(),
                                            hdr=["X-Test: hello world", "X-Two: 2"]))
    check(r.status == 200, "status %d" % r.status)
    check(r.complete and r.body == pattern(100000),
          "body differs: %d bytes, complete=%s" % (len(r.body), r.complete))
    check(r.header("X-Test") == "hello world", "X-Test is %r" % r.header("X-Test"))
    check(r.header("X-Two") == "2", "X-Two is %r" % r.header("X-Two"))
    check(r.header("Content-Type") == "text/plain", "Content-Type %r" % r.header("Content-Type"))


# RFC 9110 §15: the origin's status codes are relayed, with their content.
def test_statuses_pass_through(env):
    with env.client() as c:
        for status in (201, 301, 404, 418, 500, 503):
            r = c.roundtrip("GET", "/status?" + qs(status=status, size=37, u=unique(),
                                                   hdr="Cache-Control: no-store"))
            check(r.status == status, "origin said %d, client got %d" % (status, r.status))
            check(r.body == pattern(37), "body of the %d response: %r" % (status, r.body))


# RFC 9110 §9.3.3-§9.3.7: POST, PUT, DELETE, OPTIONS reach the origin with
# their method, target and content.
def test_methods_pass_through(env):
    with env.client() as c:
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            body = (method.encode() * 1000) if method in ("POST", "PUT", "PATCH") else None
            target = "/m/%s?%s" % (method.lower(), qs(echo=1, u=unique(),
                                                      hdr="X-Answer: to-" + method))
            r = c.roundtrip(method, target, body=body)
            check(r.header("X-Answer") == "to-" + method,
                  "%s response field X-Answer is %r" % (method, r.header("X-Answer")))
            e = echo_of(r)
            check(e["method"] == method, "%s arrived as %s" % (method, e["method"]))
            check(e["target"] == target, "%s target arrived as %r" % (method, e["target"]))
            check(e["body_length"] == len(body or b""),
                  "%s body: sent %d, origin got %d" % (method, len(body or b""),
                                                      e["body_length"]))
            if body:
                check(e["body_sha256"] == H.sha256(body), "%s body changed" % method)


# RFC 9110 §9.3.2: HEAD gets the GET head and no content; the next response
# on the connection must not be polluted by body bytes.
def test_head_has_no_body(env):
    with env.client() as c:
        r = c.roundtrip("HEAD", "/head?" + qs(size=5000, u=unique()))
        check(r.status == 200, "HEAD status %d" % r.status)
        cl = r.header("Content-Length")
        check(cl in (None, "5000"), "HEAD Content-Length %r (GET would be 5000)" % cl)
        r2 = c.roundtrip("GET", "/after-head?" + qs(size=10, u=unique()))
        check(r2.status == 200 and r2.body == pattern(10),
              "response after HEAD is %r %r: body bytes leaked after the HEAD head" %
              (r2, r2.body[:40]))


# RFC 9110 §15.3.5, §15.4.5; RFC 9112 §6.3: 204 and 304 end at the head.
def test_204_and_304_have_no_body(env):
    with env.client() as c:
        for status in (204, 304):
            r = c.roundtrip("GET", "/nobody?" + qs(status=status, u=unique()))
            check(r.status == status, "expected %d, got %d" % (status, r.status))
            check(r.header("Transfer-Encoding") is None,
                  "%d with Transfer-Encoding %r" % (status, r.header("Transfer-Encoding")))
            if status == 204:
                check(r.header("Content-Length") in (None, "0"),
                      "204 with Content-Length %r" % r.header("Content-Length"))
            r2 = c.roundtrip("GET", "/after?" + qs(size=7, u=unique()))
            check(r2.status == 200 and r2.body == pattern(7),
                  "response after %d is %r %r" % (status, r2, r2.body[:40]))


# RFC 9110 §7.6.3: a proxy adds Via to requests and responses it forwards.
def test_via_added(env):
    with env.client() as c:
        r = c.roundtrip("GET", "/via?" + qs(echo=1, u=unique()))
    e = echo_of(r)
    via_resp = ", ".join(r.header_all("Via"))
    via_req = ", ".join(origin_fields(e, "Via"))
    check("freshd" in via_resp, "response Via is %r" % via_resp)
    check("freshd" in via_req, "Via forwarded to the origin is %r" % via_req)


# X-Forwarded-For / X-Forwarded-Proto (site default: on) reach the origin;
# a client-supplied X-Forwarded-For is extended with the real peer address.
def test_x_forwarded(env):
    with env.client() as c:
        e = echo_of(c.roundtrip("GET", "/xff?" + qs(echo=1, u=unique())))
        xff = origin_fields(e, "X-Forwarded-For")
        check(xff == ["127.0.0.1"], "X-Forwarded-For at the origin: %r" % xff)
        xfp = origin_fields(e, "X-Forwarded-Proto")
        check(xfp == ["http"], "X-Forwarded-Proto at the origin: %r" % xfp)
        e = echo_of(c.roundtrip("GET", "/xff2?" + qs(echo=1, u=unique()),
                                headers=[("X-Forwarded-For", "192.0.2.7")]))
        xff = ", ".join(origin_fields(e, "X-Forwarded-For"))
        check(xff.replace(" ", "").split(",")[-1] == "127.0.0.1",
              "X-Forwarded-For with a client value: %r (last must be the peer)" % xff)


# Request fields named with "_" are dropped (underscore-fields off): a
# CGI-style backend would read X_Forwarded_For as X-Forwarded-For. A site
# with underscore-fields on forwards them.
def test_underscore_fields(env):
    sent = [("X_Forwarded_For", "192.0.2.66"), ("X_Custom", "a"), ("X-Custom", "b")]
    with env.client() as c:
        e = echo_of(c.roundtrip("GET", "/us?" + qs(echo=1, u=unique()), headers=sent))
    names = [k.lower() for k, _ in e["headers"]]
    check("x_forwarded_for" not in names and "x_custom" not in names,
          "fields named with _ reached the origin: %r" % names)
    check(origin_fields(e, "X-Custom") == ["b"], "X-Custom at the origin: %r" %
          origin_fields(e, "X-Custom"))
    f = env.new_freshd("underscores", backend_port=env.origin.port,
                       site={"underscore-fields": "on"})
    try:
        r = H.get(f.port, "/us?" + qs(echo=1, u=unique()), sent)
        e = echo_of(r)
        check(origin_fields(e, "X_Custom") == ["a"],
              "underscore-fields on: X_Custom at the origin: %r" % origin_fields(e, "X_Custom"))
    finally:
        f.stop()


HOP_REQUEST = [
    ("Connection", "keep-alive, X-Hop, Upgrade"),
    ("X-Hop", "must-not-pass"),
    ("Keep-Alive", "timeout=5"),
    ("TE", "trailers"),
    ("Trailer", "X-Trailer"),
    ("Upgrade", "example/1"),
    ("Proxy-Connection", "keep-alive"),
    ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
    ("X-End-To-End", "must-pass"),
]


# RFC 9110 §7.6.1: hop-by-hop fields (Connection and the fields it names,
# Keep-Alive, TE, Trailer, Upgrade, Proxy-Connection) are not forwarded;
# Proxy-Authorization is for freshd (pass-proxy-authorization off).
def test_hop_by_hop_request_fields_removed(env):
    with env.client() as c:
        e = echo_of(c.roundtrip("GET", "/hop?" + qs(echo=1, u=unique()), headers=HOP_REQUEST))
    got = {k.lower(): v for k, v in e["headers"]}
    for name in ("x-hop", "keep-alive", "te", "trailer", "upgrade", "proxy-connection",
                 "proxy-authorization"):
        check(name not in got, "%s reached the origin: %r" % (name, got.get(name)))
    for v in origin_fields(e, "Connection"):
        check("x-hop" not in v.lower() and "upgrade" not in v.lower(),
              "the client's Connection options reached the origin: %r" % v)
    check(got.get("x-end-to-end") == "must-pass", "end-to-end field lost: %r" % got)


# RFC 9110 §7.6.1, the other direction: the origin's hop-by-hop fields do
# not reach the client.
def test_hop_by_hop_response_fields_removed(env):
    hdrs = ["Connection: X-Hop-Resp", "X-Hop-Resp: 1", "Keep-Alive: timeout=5",
            "Proxy-Connection: keep-alive", "Upgrade: example/1", "Trailer: X-T",
            "TE: trailers", "X-End-To-End: yes"]
    with env.client() as c:
        r = c.roundtrip("GET", "/hop-resp?" + qs(size=10, u=unique(), hdr=hdrs))
    check(r.status == 200 and r.body == pattern(10), "response %r" % r)
    names = {k.lower() for k, _ in r.headers}
    for name in ("x-hop-resp", "keep-alive", "proxy-connection", "upgrade", "trailer", "te"):
        check(name not in names, "%s reached the client: %r" % (name, r.header(name)))
    for v in r.header_all("Connection"):
        check("x-hop-resp" not in v.lower(), "origin's Connection option passed: %r" % v)
    check(r.header("X-End-To-End") == "yes", "end-to-end field lost")


# RFC 9112 §7 and §6.1: freshd re-frames. A chunked origin body reaches an
# HTTP/1.1 client chunked or sized, intact.
def test_chunked_origin_to_http11_client(env):
    with env.client() as c:
        r = c.roundtrip("GET", "/rechunk?" + qs(size=300001, chunked=1, chunk=1000, u=unique()))
        check(r.framing in ("chunked", "length"),
              "HTTP/1.1 client got a %s-delimited body" % r.framing)
        check(r.complete and r.body == pattern(300001),
              "body: %d bytes, complete=%s" % (len(r.body), r.complete))
        r2 = c.roundtrip("GET", "/after?" + qs(size=3, u=unique()))
        check(r2.body == pattern(3), "the connection is unusable after a re-chunked body")


# RFC 9112 §6.1: chunked must not be sent to an HTTP/1.0 recipient.
def test_chunked_origin_to_http10_client(env):
    with env.client() as c:
        c.request("GET", "/rechunk10?" + qs(size=200000, chunked=1, chunk=999, u=unique()),
                  version="HTTP/1.0")
        r = c.read_response()
    check(r.header("Transfer-Encoding") is None,
          "HTTP/1.0 client got Transfer-Encoding: %r" % r.header("Transfer-Encoding"))
    check(r.framing in ("close", "length"), "framing %s" % r.framing)
    check(r.body == pattern(200000), "body: %d bytes, differs" % len(r.body))


# RFC 9112 §3.2.2: an absolute-form target is accepted; its authority
# replaces the Host field; the origin is sent origin-form.
def test_absolute_form_target(env):
    u = unique()
    with env.client() as c:
        c.send(("GET http://example.test/abs?%s HTTP/1.1\r\nHost: other.test\r\n\r\n" %
                qs(echo=1, u=u)).encode())
        e = echo_of(c.read_response())
    check(e["target"] == "/abs?" + qs(echo=1, u=u),
          "the origin received target %r (want origin-form)" % e["target"])
    hosts = origin_fields(e, "Host")
    check(hosts == ["example.test"], "Host at the origin: %r (want the target's)" % hosts)


# RFC 9112 §3.2.4: the asterisk form, for server-wide OPTIONS.
def test_options_asterisk(env):
    env.origin.reset()
    with env.client() as c:
        r = c.roundtrip("OPTIONS", "*")
        check(200 <= r.status < 300, "OPTIONS * answered %d" % r.status)
        r2 = c.roundtrip("GET", "/after-options?" + qs(size=5, u=unique()))
        check(r2.body == pattern(5), "connection unusable after OPTIONS *: %r" % r2)
    for e in env.origin.log():
        if e["method"] == "OPTIONS":
            check(e["target"] == "*", "OPTIONS * reached the origin as %r" % e["target"])


# Streaming: text/event-stream events reach the client as the origin sends
# them (no buffering of the whole response).
def test_event_stream_is_streamed(env):
    with env.client() as c:
        t0 = time.monotonic()
        c.request("GET", "/events?" + qs(sse=1, count=5, body_delay=300, u=unique()))
        r = c.read_head()
        check(r.status == 200, "status %d" % r.status)
        arrivals = []
        data = b""
        for piece in c.body_pieces(r, 4096):
            data += piece
            while data.count(b"\n\n") > len(arrivals):
                arrivals.append(time.monotonic() - t0)
    check(r.complete, "event stream did not end properly (%s)" % r.framing)
    check(data.count(b"data: event") == 5, "events received: %r" % data)
    check(arrivals[0] < 0.4, "first event arrived after %.2fs (sent at ~0s; the "
                             "last at 1.2s): freshd buffers the stream" % arrivals[0])
    check(arrivals[-1] - arrivals[0] > 0.9,
          "events spread over %.2fs only (sent over 1.2s)" % (arrivals[-1] - arrivals[0]))


# Access log: TIME CLIENT METHOD TARGET STATUS BYTES TOTAL_MS UPSTREAM_MS CACHE_STATUS
def test_access_log_line(env):
    target = "/logged?" + qs(size=1234, status=201, u=unique())
    with env.client() as c:
        r = c.roundtrip("GET", target)
    check(r.status == 201, "status %d" % r.status)
    deadline = time.monotonic() + 3
    line = None
    while line is None and time.monotonic() < deadline:
        for candidate in env.freshd.stderr_text().splitlines():
            if " " + target + " " in candidate:
                line = candidate
        time.sleep(0.05)
    check(line is not None, "no access log line for %s" % target)
    f = line.split()
    check(len(f) == 9, "access log line has %d fields, want 9: %r" % (len(f), line))
    check(f[1] == "127.0.0.1" and f[2] == "GET" and f[3] == target and f[4] == "201",
          "fields CLIENT METHOD TARGET STATUS wrong: %r" % line)
    check(f[5].isdigit() and int(f[5]) >= 1234, "BYTES %r < the body size" % f[5])
    for v in f[6:8]:
        check(v == "-" or float(v) >= 0, "timing field %r in %r" % (v, line))


def setup():
    return H.Env("b_basic")


if __name__ == "__main__":
    H.run(globals(), setup)
