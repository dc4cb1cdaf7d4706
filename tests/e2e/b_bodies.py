"""b_bodies: large and awkward message bodies (RFC 9112 §6-§7, RFC 9110
§10.1.1): request bodies arrive intact whatever their framing, 100-continue,
a 1 GiB response through a slow reader with bounded memory, and a backend
dying mid-body.
"""

import json
import os
import socket
import threading
import time

import harness as H
from harness import check, pattern, qs, unique

MiB = 1 << 20


def big_body(n):
    """n bytes that are not a repeating pattern (so reordering shows)."""
    seed = os.urandom(MiB)
    return (seed * (n // MiB + 1))[:n]


def origin_entry(env, marker):
    entries = env.origin.log_for(marker)
    check(len(entries) == 1, "origin logged %d requests for %s, want 1" %
          (len(entries), marker))
    return entries[0]


# RFC 9112 §6.2: a 50 MiB body with Content-Length arrives intact.
def test_post_50mib_content_length(env):
    body = big_body(50 * MiB)
    mark = unique("cl")
    with env.client(timeout=60) as c:
        r = c.roundtrip("POST", "/upload?" + qs(m=mark, echo=1), body=body)
    check(r.status == 200, "status %d" % r.status)
    e = origin_entry(env, mark)
    check(e["complete"] and e["body_length"] == len(body),
          "origin got %d of %d bytes" % (e["body_length"], len(body)))
    check(e["body_sha256"] == H.sha256(body), "body changed on the way (sha256 differs)")


# RFC 9112 §7.1: a 50 MiB chunked body (uneven chunk sizes) arrives intact.
def test_post_50mib_chunked(env):
    body = big_body(50 * MiB)
    mark = unique("ch")
    with env.client(timeout=60) as c:
        c.request("POST", "/upload?" + qs(m=mark, echo=1),
                  headers=[("Transfer-Encoding", "chunked")])
        pos, sizes = 0, (1, 4093, 65536, 300000, 17)
        i = 0
        while pos < len(body):
            piece = body[pos:pos + sizes[i % len(sizes)]]
            c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
            pos += len(piece)
            i += 1
        c.send(b"0\r\n\r\n")
        r = c.read_response()
    check(r.status == 200, "status %d" % r.status)
    e = origin_entry(env, mark)
    check(e["complete"] and e["body_length"] == len(body),
          "origin got %d of %d bytes" % (e["body_length"], len(body)))
    check(e["body_sha256"] == H.sha256(body), "body changed on the way (sha256 differs)")


# RFC 9110 §10.1.1: Expect: 100-continue gets 100 Continue before the body
# is sent, then the final response.
def test_expect_100_continue(env):
    body = b"x" * 1000
    mark = unique("exp")
    with env.client() as c:
        c.request("PUT", "/expect?" + qs(m=mark, echo=1),
                  headers=[("Expect", "100-continue"), ("Content-Length", str(len(body)))])
        check(c.readable_within(3), "no 100 Continue within 3 s (the client waits for it)")
        interim = c.read_interim()
        check(interim.status == 100, "first response is %d, want 100" % interim.status)
        c.send(body)
        r = c.read_response("PUT")
        check(r.status == 200, "final status %d" % r.status)
        check(all(i.status != 100 for i in r.interim),
              "a second 100 Continue was relayed: %r" % r.interim)
    e = json.loads(r.body)
    check(e["body_length"] == 1000 and e["body_sha256"] == H.sha256(body),
          "origin got %d body bytes" % e["body_length"])


# RFC 9112 §6 streaming with backpressure: a 1 GiB response to a client
# that reads slowly at first arrives complete, and freshd does not buffer it
# (VmRSS growth stays under 64 MiB).
def test_1gib_slow_reader_bounded_memory(env):
    size = 1 << 30
    t0 = time.monotonic()
    with env.freshd.rss_sampled() as samples, env.client(timeout=60) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.request("GET", "/huge?" + qs(size=size, u=unique(),
                                       hdr="Cache-Control: no-store"))
        r = c.read_head()
        check(r.status == 200, "status %d" % r.status)
        got = 0
        slow_until = time.monotonic() + 3
        for piece in c.body_pieces(r, 65536):
            check(piece == pattern(len(piece), got), "body differs at offset %d" % got)
            got += len(piece)
            if time.monotonic() >= slow_until:
                break
            time.sleep(0.01)
        slow_bytes = got
        for piece in c.body_pieces(r, 1 << 20):
            check(piece == pattern(len(piece), got), "body differs at offset %d" % got)
            got += len(piece)
    elapsed = time.monotonic() - t0
    base = samples[0]
    peak = max(samples)
    H.info("freshd VmRSS: %d KiB before, %d KiB max during the 1 GiB slow read "
           "(growth %d KiB); %d MiB read slowly, %.1fs in all" %
           (base, peak, peak - base, slow_bytes // MiB, elapsed))
    check(r.complete and got == size, "got %d of %d bytes (complete=%s)" %
          (got, size, r.complete))
    check(peak - base < 64 * 1024, "freshd RSS grew by %d KiB (limit 64 MiB): it "
                                  "buffers instead of applying backpressure" % (peak - base))


def _read_all(c, method="GET"):
    r = c.read_head(method)
    r.body = b"".join(c.body_pieces(r))
    return r


# RFC 9112 §8: a backend reset mid-body must reach the client as an
# incomplete message (closed before Content-Length bytes, or chunked without
# the last chunk), never as a complete-looking short body.
def test_backend_dies_mid_body(env):
    for framing in ("length", "chunked"):
        params = dict(size=1000000, reset_after=100000, u=unique())
        if framing == "chunked":
            params["chunked"] = 1
        with env.client() as c:
            c.request("GET", "/dies?" + qs(**params))
            try:
                r = _read_all(c)
            except H.Closed:
                H.info("%s: closed before any response" % framing)
                continue        # the client can tell
            closed, extra = c.wait_closed(3)
        H.info("%s: client got %r" % (framing, r))
        if r.status == 200:
            check(r.framing != "close",
                  "origin (%s) died mid-body and the client got a close-delimited "
                  "body of %d bytes: an HTTP/1.1 client cannot tell it is short" %
                  (framing, len(r.body)))
            check(not r.complete,
                  "origin (%s) died after 100000 of 1000000 bytes, yet the client got "
                  "a complete-looking %s-framed body of %d bytes" %
                  (framing, r.framing, len(r.body)))
            check(closed, "connection left open after an incomplete body")
            check(r.body == pattern(len(r.body)), "the bytes that did arrive differ")
        else:
            check(r.status in (502, 503, 504),
                  "status %d for a backend that died mid-body" % r.status)
    with env.client() as c:
        r = c.roundtrip("GET", "/after-reset?" + qs(size=10, u=unique()))
        check(r.status == 200 and r.body == pattern(10), "freshd unusable afterwards: %r" % r)


def setup():
    return H.Env("b_bodies")


if __name__ == "__main__":
    H.run(globals(), setup)
