"""b_limits: the configured limits on what a client may send, and how
freshd refuses (RFC 9110 §15.5.9 408, §15.5.14 413, §15.5.15 414, RFC 6585
§5 431), plus the connection cap.

The main freshd here: request-line 1k, header-bytes 4k, header-fields 20,
header-timeout 1s, max-body 1m.
"""

import select
import time

import harness as H
from harness import check, pattern, qs, unique

LIMITS = {"request-line": "1k", "header-bytes": "4k", "header-fields": "20",
          "header-timeout": "1s"}
MAX_BODY = 1 << 20


def refused_with(env, raw, status, what):
    """Sends raw; the response must be status, then the connection closes;
    the origin must have seen nothing."""
    env.origin.reset()
    with env.client() as c:
        c.send(raw)
        r = c.read_response()
        check(r.status == status, "%s: answered %d, want %d" % (what, r.status, status))
        closed, extra = c.wait_closed(2)
        check(not extra, "%s: bytes after the %d: %r" % (what, status, extra[:80]))
        if closed:
            check("close" in r.header_list("Connection"),
                  "%s: closed after %d without Connection: close" % (what, status))
    check(not env.origin.log(), "%s: the origin received the request" % what)


# The limit itself is allowed: requests just under each limit pass.
def test_just_under_the_limits(env):
    target = "/ok?" + qs(size=3, u=unique())
    target += "&pad=" + "p" * (1000 - len("GET  HTTP/1.1") - len(target) - 5)
    fields = [("X-F%d" % i, "v" * 100) for i in range(15)]
    with env.client() as c:
        r = c.roundtrip("GET", target, headers=fields)
    check(r.status == 200 and r.body == pattern(3),
          "a request under every limit got %r" % r)


# RFC 9110 §15.5.15: request line longer than request-line (1k): 414.
def test_request_line_too_long_414(env):
    refused_with(env, H.build_request("GET", "/?pad=" + "x" * 2000), 414,
                 "2 KiB request line")


# RFC 6585 §5: header section larger than header-bytes (4k): 431.
def test_header_section_too_large_431(env):
    fields = [("X-Big-%d" % i, "b" * 500) for i in range(10)]
    refused_with(env, H.build_request("GET", "/?big=1", fields), 431,
                 "5 KiB header section in 10 fields")


# RFC 6585 §5: more fields than header-fields (20): 431.
def test_too_many_fields_431(env):
    fields = [("X-N%d" % i, "1") for i in range(30)]
    refused_with(env, H.build_request("GET", "/?many=1", fields), 431, "30 fields")


# RFC 9110 §15.5.14: a Content-Length over max-body (1m) is refused with 413
# before the body is read (the client has sent the head only).
def test_body_over_max_content_length_413(env):
    env.origin.reset()
    with env.client() as c:
        c.request("POST", "/?bigcl=1", headers=[("Content-Length", str(2 * MAX_BODY))])
        check(c.readable_within(3), "no answer within 3 s to a head announcing a body "
                                    "over max-body (freshd waits for the body)")
        r = c.read_response("POST")
        check(r.status == 413, "answered %d, want 413" % r.status)
    check(not env.origin.log(), "the origin received the over-size request")


# RFC 9110 §15.5.14: a chunked body is refused when it crosses max-body.
def test_body_over_max_chunked_413(env):
    env.origin.reset()
    sent = 0
    piece = b"c" * 65536
    with env.client() as c:
        c.request("POST", "/?bigchunked=1", headers=[("Transfer-Encoding", "chunked")])
        answered = False
        try:
            while sent < 8 * MAX_BODY:
                ready, _, _ = select.select([c.sock], [], [], 0)
                if ready:
                    answered = True
                    break
                c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
        except OSError:
            answered = True     # freshd closed while we were still sending
        check(answered or c.readable_within(3),
              "no answer after %d KiB of a chunked body (max-body 1 MiB)" % (sent >> 10))
        r = c.read_response("POST")
    check(r.status == 413, "answered %d after %d KiB, want 413" % (r.status, sent >> 10))
    check(sent > MAX_BODY, "413 after only %d KiB, under the 1 MiB limit" % (sent >> 10))
    bad = [e for e in env.origin.log() if e["complete"]]
    check(not bad, "the origin received a complete over-size body (%d bytes)" %
          (bad[0]["body_length"] if bad else 0))


# RFC 9110 §15.5.9: a request head not complete within header-timeout (1s):
# 408, then close.
def test_header_timeout_408(env):
    env.origin.reset()
    with env.client() as c:
        c.send(b"GET /?partial=1 HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        t0 = time.monotonic()
        check(c.readable_within(4), "nothing within 4 s for a stalled head (timeout 1s)")
        elapsed = time.monotonic() - t0
        try:
            r = c.read_response()
        except H.Closed:
            raise H.TestFailure("closed after %.1fs without a 408" % elapsed)
        check(r.status == 408, "stalled head answered %d, want 408" % r.status)
        check(0.8 <= elapsed <= 3.0, "408 after %.1fs, header-timeout is 1s" % elapsed)
        closed, _ = c.wait_closed(2)
        check(closed, "connection open after the 408")
    check(not env.origin.log(), "the origin received the partial request")


# connections 2 (per worker, 1 worker): a third client is queued, not
# refused, and served as soon as one of the first two closes.
def test_connection_cap_queues(env):
    f = env.new_freshd("cap", limits={"connections": "2"})
    c1, c2 = f.client(), f.client()
    try:
        for c in (c1, c2):
            r = c.roundtrip("GET", "/cap?" + qs(size=2, u=unique()))
            check(r.status == 200, "one of the first two clients got %r" % r)
        c3 = f.client()
        try:
            c3.request("GET", "/cap3?" + qs(size=3, u=unique()))
            check(not c3.readable_within(1.0),
                  "a third connection was served (or closed) while two were open: "
                  "the cap of 2 is not enforced")
            c1.close()
            t0 = time.monotonic()
            check(c3.readable_within(3), "the third client was not served within 3 s "
                                         "of a slot freeing up")
            r = c3.read_response()
            check(r.status == 200 and r.body == pattern(3),
                  "the queued client got %r" % r)
            H.info("queued client served %.2fs after a slot freed" %
                   (time.monotonic() - t0))
        finally:
            c3.close()
    finally:
        c1.close()
        c2.close()
        f.stop()


def setup():
    return H.Env("b_limits", limits=LIMITS, site={"max-body": "1m"})


if __name__ == "__main__":
    H.run(globals(), setup)
