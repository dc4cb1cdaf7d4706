"""b_errors: what the client gets when the backend fails (RFC 9110 §15.6.3
502, §15.6.5 504), and the retry rule for a pooled connection that died
(RFC 9112 §9.3.1: only idempotent requests are retried automatically).

The main freshd here has first-byte-timeout 1s and read-timeout 1s.

The dead pooled connection is staged with the origin's POST /__arm
?drop_reused=1: the next request arriving on an already used connection is
read, logged with "dropped": true, and the connection closed without a
byte of response, exactly what a backend closing an idle keep-alive
connection at the wrong moment looks like to freshd.
"""

import time

import harness as H
from harness import check, pattern, qs, unique


def close_ok(r, c):
    """RFC 9112 §9.6: if freshd closes after r, r said Connection: close."""
    why = H.connection_close_ok(r, c)
    check(why is None, why)


# RFC 9110 §15.6.3: connection refused by the backend: 502.
def test_backend_refused_502(env):
    f = env.new_freshd("refused", backend_port=H.free_port(),
                       backend={"connect-timeout": "1s"})
    with f.client() as c:
        t0 = time.monotonic()
        r = c.roundtrip("GET", "/refused?" + qs(u=unique()))
        elapsed = time.monotonic() - t0
        check(r.status == 502, "refused backend answered %d, want 502" % r.status)
        check(elapsed < 2.5, "502 took %.1fs for a refused connection" % elapsed)
        close_ok(r, c)
    f.stop()


# RFC 9110 §15.6.5: first-byte-timeout (1s) exceeded: 504.
def test_first_byte_timeout_504(env):
    with env.client() as c:
        t0 = time.monotonic()
        r = c.roundtrip("GET", "/slow?" + qs(delay=3000, size=10, u=unique()))
        elapsed = time.monotonic() - t0
        check(r.status == 504, "backend silent for 3s answered %d, want 504" % r.status)
        check(0.9 <= elapsed <= 2.8,
              "504 after %.1fs with first-byte-timeout 1s" % elapsed)
        close_ok(r, c)


# read-timeout (1s) between body bytes: the client sees an incomplete body.
def test_read_timeout_truncates(env):
    with env.client() as c:
        c.request("GET", "/stall?" + qs(size=2000, chunk=1000, body_delay=3000,
                                        u=unique()))
        t0 = time.monotonic()
        try:
            r = c.read_head()
            r.body = b"".join(c.body_pieces(r))
        except H.Closed:
            return      # nothing sent yet: closing tells the client
        elapsed = time.monotonic() - t0
        if r.status == 200:
            check(r.framing != "close" and not r.complete,
                  "a body cut by the read timeout looks complete: %r" % r)
            check(elapsed < 2.8, "read-timeout 1s fired after %.1fs" % elapsed)
        else:
            check(r.status == 504, "stalled body answered %d" % r.status)


# A request the backend reads and then drops without answering, on a new
# connection, is a 502 (tried at most twice).
def test_backend_closes_without_response_502(env):
    mark = unique("noresp")
    with env.client() as c:
        r = c.roundtrip("GET", "/noresp?" + qs(noresp=1, m=mark))
        check(r.status == 502, "backend closing unanswered gave %d, want 502" % r.status)
        close_ok(r, c)
    n = len(env.origin.log_for(mark))
    check(1 <= n <= 2, "origin saw the request %d times" % n)


def _warm(env):
    """Leaves a used keep-alive connection in freshd's pool."""
    with env.client() as c:
        r = c.roundtrip("GET", "/warm?" + qs(size=1, u=unique()))
        check(r.status == 200, "warm-up request: %r" % r)


# RFC 9112 §9.3.1: a GET that fails on a reused pooled connection before
# any response byte is retried once on a new connection, transparently.
def test_get_retried_on_dead_pooled_connection(env):
    mark = unique("retry")
    _warm(env)
    env.origin.arm_drop_reused(1)
    try:
        with env.client() as c:
            r = c.roundtrip("GET", "/retry?" + qs(m=mark, size=33))
    finally:
        env.origin.arm_drop_reused(0)
    entries = env.origin.log_for(mark)
    dropped = [e for e in entries if e["dropped"]]
    served = [e for e in entries if not e["dropped"]]
    check(len(dropped) == 1, "scenario not staged: the GET did not go out on the "
                             "pooled connection (origin log %r)" % entries)
    check(r.status == 200 and r.body == pattern(33),
          "GET on a dead pooled connection gave %r, want a retried 200" % r)
    check(len(served) == 1, "the GET was served %d times, want once" % len(served))
    check(served[0]["conn"] != dropped[0]["conn"], "retried on the same connection")


# RFC 9112 §9.3.1, RFC 9110 §9.2.2: a POST is not retried. Either freshd
# sends it on the dead pooled connection and answers 502 without a second
# try, or it avoids reusing a connection for a POST at all; it is never
# received twice.
def test_post_not_retried(env):
    mark = unique("post")
    _warm(env)
    env.origin.arm_drop_reused(1)
    body = b"p" * 5000
    try:
        with env.client() as c:
            r = c.roundtrip("POST", "/post?" + qs(m=mark, echo=1), body=body)
            entries = env.origin.log_for(mark)
            if entries and entries[0]["dropped"]:
                close_ok(r, c)
    finally:
        env.origin.arm_drop_reused(0)
    check(len(entries) <= 1, "POST reached the origin %d times: it was retried" %
          len(entries))
    if entries and entries[0]["dropped"]:
        check(r.status == 502, "POST dropped by the backend answered %d, want 502" %
              r.status)
    else:
        check(r.status == 200 and len(entries) == 1,
              "POST on a fresh connection: %r, origin log %r" % (r, entries))
        H.info("freshd sent the POST on a new connection (did not reuse the pool)")


# A pooled connection the backend closed while idle is not used (or is
# retried): the next GET succeeds.
def test_idle_pooled_connection_closed_by_backend(env):
    mark = unique("idle")
    _warm(env)
    check(env.origin.drop_idle() >= 1, "no idle upstream connection to drop")
    time.sleep(0.1)
    with env.client() as c:
        r = c.roundtrip("GET", "/after-drop?" + qs(m=mark, size=12))
    check(r.status == 200 and r.body == pattern(12),
          "GET after the backend closed the idle pooled connection: %r" % r)
    served = [e for e in env.origin.log_for(mark) if not e["dropped"]]
    check(len(served) == 1, "served %d times" % len(served))


def setup():
    return H.Env("b_errors", backend={"first-byte-timeout": "1s", "read-timeout": "1s"})


if __name__ == "__main__":
    H.run(globals(), setup)
