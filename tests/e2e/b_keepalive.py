"""b_keepalive: persistent connections on both sides (RFC 9112 §9.3),
pipelining (§9.3.2), closing (§9.6) and the idle timeout.

Which upstream connection served a request is read from the origin's log
("conn", the origin's connection number), so the pool is checked by what the
origin saw, not by what freshd says.
"""

import time

import harness as H
from harness import check, pattern, qs, unique


def upstream_conns(env, marker):
    entries = env.origin.log_for(marker)
    return entries, sorted({e["conn"] for e in entries})


# RFC 9112 §9.3: one client connection, 100 requests, one pooled upstream
# connection.
def test_sequential_requests_one_upstream_connection(env):
    mark = unique("seq")
    env.origin.reset()
    with env.client() as c:
        for i in range(100):
            r = c.roundtrip("GET", "/seq?" + qs(m=mark, i=i, size=i))
            check(r.status == 200 and r.body == pattern(i),
                  "request %d on the kept-alive connection: %r" % (i, r))
    entries, conns = upstream_conns(env, mark)
    check(len(entries) == 100, "origin saw %d of the 100 requests" % len(entries))
    # A connection pooled by an earlier test may serve them: then none is new.
    stats = env.origin.stats()
    check(stats["connections"] <= 1 and len(conns) == 1,
          "100 sequential requests used %d upstream connections (%d new), want 1" %
          (len(conns), stats["connections"]))


# The pool is per worker, not per client connection: 100 client
# connections in turn still share one upstream connection.
def test_new_client_connections_reuse_pool(env):
    mark = unique("pool")
    env.origin.reset()
    for i in range(100):
        with env.client() as c:
            r = c.roundtrip("GET", "/pool?" + qs(m=mark, i=i, size=10))
            check(r.status == 200 and r.body == pattern(10), "request %d: %r" % (i, r))
    entries, conns = upstream_conns(env, mark)
    check(len(entries) == 100, "origin saw %d of the 100 requests" % len(entries))
    check(len(conns) == 1 and env.origin.stats()["connections"] <= 1,
          "100 client connections used %d upstream connections, want 1 (pooled)" %
          len(conns))


# RFC 9112 §9.3.2: pipelined requests are answered in order, even when
# the first one is the slowest.
def test_pipelined_requests_in_order(env):
    mark = unique("pipe")
    reqs = b"".join(H.build_request("GET", "/pipe?" + qs(m=mark, i=i, size=100 + i,
                                                         delay=300 if i == 0 else 0,
                                                         hdr="X-Seq: %d" % i))
                    for i in range(5))
    with env.client() as c:
        c.send(reqs)
        for i in range(5):
            r = c.read_response()
            check(r.header("X-Seq") == str(i),
                  "response %d carries X-Seq %r: out of order" % (i, r.header("X-Seq")))
            check(r.body == pattern(100 + i), "response %d body differs" % i)
    check(len(env.origin.log_for(mark)) == 5, "origin did not see the 5 requests")


# RFC 9112 §9.3: an HTTP/1.0 request without keep-alive gets its response,
# then the connection closes.
def test_http10_closes(env):
    with env.client() as c:
        c.request("GET", "/ten?" + qs(size=50, u=unique()), version="HTTP/1.0")
        r = c.read_response()
        check(r.status == 200 and r.body == pattern(50), "HTTP/1.0 response %r" % r)
        closed, extra = c.wait_closed(3)
        check(closed and not extra, "HTTP/1.0 connection not closed after the response")


# RFC 9112 §9.6: Connection: close from the client is honoured.
def test_connection_close_honoured(env):
    with env.client() as c:
        r = c.roundtrip("GET", "/close?" + qs(size=50, u=unique()),
                        headers=[("Connection", "close")])
        check(r.status == 200 and r.body == pattern(50), "response %r" % r)
        check("close" in r.header_list("Connection"),
              "response to Connection: close lacks Connection: close (RFC 9112 §9.6)")
        closed, extra = c.wait_closed(3)
        check(closed and not extra, "connection still open after Connection: close")


# The origin closing its side (Connection: close) does not close the
# client's connection: the two are independent hops.
def test_origin_close_keeps_client_connection(env):
    with env.client() as c:
        r = c.roundtrip("GET", "/oclose?" + qs(size=20, close=1, u=unique()))
        check(r.status == 200 and r.body == pattern(20), "response %r" % r)
        r = c.roundtrip("GET", "/oclose2?" + qs(size=21, u=unique()))
        check(r.status == 200 and r.body == pattern(21),
              "second request after the origin closed: %r" % r)


# idle-timeout (1s here): an idle client connection is closed, a busy one not.
def test_idle_timeout(env):
    f = env.new_freshd("idle", limits={"idle-timeout": "1s"})
    with f.client() as c:
        for _ in range(3):      # 0.5 s apart: never idle for the full second
            r = c.roundtrip("GET", "/busy?" + qs(size=5, u=unique()))
            check(r.status == 200, "status %d" % r.status)
            time.sleep(0.5)
        t0 = time.monotonic()
        closed, extra = c.wait_closed(4)
        idle = time.monotonic() - t0 + 0.5
    f.stop()
    check(closed, "idle connection still open after 4.5 s (idle-timeout 1s)")
    check(not extra, "bytes sent on an idle connection: %r" % extra[:100])
    check(0.8 <= idle <= 3.0, "idle connection closed after %.1fs, want ~1s" % idle)


def setup():
    return H.Env("b_keepalive")


if __name__ == "__main__":
    H.run(globals(), setup)
