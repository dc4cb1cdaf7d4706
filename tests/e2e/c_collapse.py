"""c_collapse: request collapsing (RFC 9111 §4 leaves it to the cache;
DESIGN.md "one fetch per key"). Concurrent misses for one key share one
origin fetch, every waiter gets the whole body as it streams in, and a
response that may not be shared (private) goes only to the request that
caused it: the others are released and each goes to the origin.

Waiters do not hold each other back: one that stops reading, or leaves
mid-body, costs the others nothing, up to the lag window
(INFLIGHT_MAX_LAG, 4 MiB in src/inflight.h) past which the origin is paused
so that memory stays bounded.

freshd runs with two workers here, so waiters sit on both event loops.
"""

import json
import threading
import time

import harness as H
from harness import check, pattern, qs, unique

MIB = 1 << 20


class Result:
    def __init__(self):
        self.status = 0
        self.headers = None
        self.resp = None
        self.body = b""
        self.first_byte = None      # time.time() when the first body byte arrived
        self.error = None


def fetch(port, target, headers, barrier, res):
    """One client: waits for the others at barrier, then GETs target."""
    try:
        with H.Client(port, timeout=30) as c:
            barrier.wait(10)
            c.request("GET", target, headers)
            r = c.read_head()
            res.resp = r
            res.status = r.status
            pieces = []
            for p in c.body_pieces(r):
                if res.first_byte is None:
                    res.first_byte = time.time()
                pieces.append(p)
            res.body = b"".join(pieces)
            check(r.complete, "response body incomplete after %d bytes" % len(res.body))
    except Exception as e:      # noqa: BLE001 - reported by the test
        res.error = "%s: %s" % (type(e).__name__, e)


def run_clients(port, target, n, headers_of=lambda i: None):
    """n concurrent GETs for target; returns their Results."""
    results = [Result() for _ in range(n)]
    barrier = threading.Barrier(n)
    threads = [threading.Thread(target=fetch, args=(port, target, headers_of(i), barrier,
                                                    results[i]))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not any(t.is_alive() for t in threads), "clients still running after 60 s")
    return results


# 100 concurrent misses for one slow key: one origin request, 100 full
# and identical bodies.
def test_collapse_100_misses(env):
    mark = unique("collapse")
    size = MIB
    target = "/big?" + qs(size=size, delay=500, m=mark,
                          hdr="Cache-Control: max-age=300")
    t0 = time.monotonic()
    results = run_clients(env.freshd.port, target, 100)
    elapsed = time.monotonic() - t0
    errors = [r.error for r in results if r.error]
    check(not errors, "%d clients failed, e.g. %s" % (len(errors), errors[:3]))
    want = H.sha256(pattern(size))
    bad = [i for i, r in enumerate(results)
           if r.status != 200 or H.sha256(r.body) != want]
    check(not bad, "%d clients got a wrong response, e.g. #%d: %d, %d bytes" %
          (len(bad), bad[0] if bad else -1, results[bad[0]].status if bad else 0,
           len(results[bad[0]].body) if bad else 0))
    n = len(env.origin.log_for(mark))
    collapsed = sum(1 for r in results if "collapsed" in (r.resp.cache_status() or {}))
    H.info("100 clients, 1 MiB each, origin delay 500 ms: %.2f s, origin requests %d, "
           "Cache-Status collapsed on %d" % (elapsed, n, collapsed))
    check(n == 1, "origin saw %d requests for one key (expected exactly 1)" % n)
    check(collapsed >= 90, "only %d of 100 responses say collapsed in Cache-Status" % collapsed)


# Waiters get the body as it streams from the origin: each client's first
# body byte arrives long before the origin has sent its last one.
def test_waiters_stream(env):
    mark = unique("stream")
    size = MIB
    # 16 pieces of 64 KiB, 100 ms apart: the origin needs 1.5 s for the body.
    target = "/slow?" + qs(size=size, chunk=65536, body_delay=100, delay=200, m=mark,
                           hdr="Cache-Control: max-age=300")
    results = run_clients(env.freshd.port, target, 10)
    errors = [r.error for r in results if r.error]
    check(not errors, "clients failed: %s" % errors[:3])
    check(all(r.status == 200 and r.body == pattern(size) for r in results),
          "some client got a wrong body")
    log = env.origin.log_for(mark)
    check(len(log) == 1, "origin saw %d requests (expected 1)" % len(log))
    done = log[0]["done_ms"] / 1000.0
    check(done > 0, "the origin never finished its response")
    leads = sorted(done - r.first_byte for r in results)
    H.info("first body byte before the origin's last: min %.0f ms, max %.0f ms (10 clients)" %
           (leads[0] * 1000, leads[-1] * 1000))
    check(leads[0] > 0.8,
          "a client's first body byte came only %.0f ms before the origin sent its last "
          "piece (expected > 800 ms of a 1.5 s body): waiters are not streamed" %
          (leads[0] * 1000))


# A private response may not be shared (RFC 9111 §5.2.2.7): every waiter
# is released, goes to the origin with its own request, and gets its own
# answer; nobody gets another client's response.
def test_private_not_shared(env):
    mark = unique("private")
    n = 20
    target = "/private?" + qs(echo=1, delay=300, m=mark,
                              hdr="Cache-Control: private, max-age=300")
    results = run_clients(env.freshd.port, target, n,
                          headers_of=lambda i: [("X-Client", "client-%d" % i)])
    errors = [r.error for r in results if r.error]
    check(not errors, "clients failed: %s" % errors[:3])
    for i, r in enumerate(results):
        check(r.status == 200, "client %d: status %d" % (i, r.status))
        echo = json.loads(r.body)
        seen = [v for k, v in echo["headers"] if k.lower() == "x-client"]
        check(seen == ["client-%d" % i],
              "client %d got the response to a request with X-Client %r" % (i, seen))
        check("hit" not in (r.resp.cache_status() or {}),
              "client %d: private response served as a hit" % i)
    log = env.origin.log_for(mark)
    clients = sorted(v for e in log for k, v in e["headers"] if k.lower() == "x-client")
    H.info("private: %d clients, %d origin requests" % (n, len(log)))
    check(len(log) == n and clients == sorted("client-%d" % i for i in range(n)),
          "origin saw %d requests (expected %d, one per client)" % (len(log), n))


def start_get(port, target):
    """A client that has sent GET target and reads nothing yet (its receive
    buffer keeps its initial size until it reads)."""
    c = H.Client(port, timeout=30)
    c.request("GET", target)
    return c


def read_rest(r, pieces, got=()):
    """Reads the rest of r's body (pieces: its body_pieces generator, got:
    the pieces already read); returns the whole body."""
    body = b"".join(list(got) + list(pieces))
    check(r.complete, "response body incomplete after %d bytes" % len(body))
    return body


# A waiter that stops reading does not slow the others: they get their
# last byte as if it were not there, and it still gets the whole body,
# intact, once it reads again (the blocks it needs were kept for it).
def test_stalled_waiter_does_not_hold_others(env):
    mark = unique("stalled")
    size = 3 * MIB          # inside the lag window
    target = "/stall?" + qs(size=size, delay=300, m=mark, hdr="Cache-Control: max-age=300")
    with start_get(env.freshd.port, target) as stalled:
        t0 = time.monotonic()
        results = run_clients(env.freshd.port, target, 10)
        elapsed = time.monotonic() - t0
        errors = [r.error for r in results if r.error]
        check(not errors, "%d clients failed while one waiter did not read, e.g. %s" %
              (len(errors), errors[:3]))
        check(all(r.status == 200 and H.sha256(r.body) == H.sha256(pattern(size))
                  for r in results), "a reading client got a wrong body")
        H.info("10 clients, 3 MiB, one waiter not reading: %.2f s" % elapsed)
        check(elapsed < 10, "the reading clients needed %.1f s (the origin sends in "
              "0.3 s): held back by the waiter that does not read" % elapsed)
        r = stalled.read_head()
        body = read_rest(r, stalled.body_pieces(r))
        check(r.status == 200 and len(body) == size and body == pattern(size),
              "the waiter that read late got %d, %d bytes%s" %
              (r.status, len(body), "" if len(body) != size else " (wrong content)"))
    n = len(env.origin.log_for(mark))
    check(n == 1, "origin saw %d requests (expected 1)" % n)


# Waiters that close their connection mid-body leave the others streaming:
# every remaining client gets the whole body, and freshd goes on serving.
# The body is larger than the lag window, so a waiter that left but still
# counted as the slowest would stop the origin for good.
def test_waiters_leave_mid_body(env):
    mark = unique("leave")
    size = 8 * MIB
    # 32 pieces of 256 KiB, 20 ms apart: the leavers go while it streams.
    target = "/leave?" + qs(size=size, chunk=262144, body_delay=20, delay=200, m=mark,
                            hdr="Cache-Control: max-age=300")
    leavers = []
    for i in range(5):
        leavers.append(start_get(env.freshd.port, target))
    stayed = [None]

    def stay():
        stayed[0] = run_clients(env.freshd.port, target, 15)

    t = threading.Thread(target=stay)
    t.start()
    cut = []
    for i, c in enumerate(leavers):
        r = c.read_head()
        got = 0
        for p in c.body_pieces(r, bufsize=16384):
            got += len(p)
            if got >= (i + 1) * 65536:
                break
        cut.append(got)
        c.close()
    t.join(60)
    check(not t.is_alive(), "the remaining clients still run after 60 s")
    results = stayed[0]
    errors = [r.error for r in results if r.error]
    check(not errors, "%d clients failed after others left, e.g. %s" % (len(errors), errors[:3]))
    bad = [i for i, r in enumerate(results) if r.status != 200 or r.body != pattern(size)]
    check(not bad, "%d remaining clients got a wrong body" % len(bad))
    H.info("5 waiters left after %s bytes; 15 got the whole body" % cut)
    n = len(env.origin.log_for(mark))
    check(n == 1, "origin saw %d requests (expected 1)" % n)
    r = H.get(env.freshd.port, target)
    check(r.status == 200 and r.body == pattern(size), "freshd after the leavers: %r" % r)


def tcp_buffers():
    """What the kernel may hold for a connection whose peer reads nothing:
    the largest send buffer and the initial receive buffer (bytes)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem = int(f.read().split()[2])
        with open("/proc/sys/net/ipv4/tcp_rmem") as f:
            rmem = int(f.read().split()[1])
        return wmem + rmem
    except (OSError, ValueError, IndexError):
        return 4 * MIB + 128 * 1024


# The lag window: while one waiter reads nothing, a fast one still gets
# about INFLIGHT_MAX_LAG past it, and no more (the origin is paused, so
# freshd holds a bounded part of the body); when the slow one reads again,
# both finish with the whole body. What the slow one "took" includes what
# the kernel holds for its connection, hence the bound.
def test_lag_window(env):
    mark = unique("lag")
    lag_window = 4 * MIB
    bound = lag_window + tcp_buffers() + 2 * MIB
    size = bound + 8 * MIB
    target = "/lag?" + qs(size=size, delay=200, m=mark, hdr="Cache-Control: max-age=300")
    with start_get(env.freshd.port, target) as slow, \
            start_get(env.freshd.port, target) as fast:
        r = fast.read_head()
        pieces = fast.body_pieces(r)
        got = []
        while fast.readable_within(1.0) and sum(len(p) for p in got) < size:
            got.append(next(pieces))
        ahead = sum(len(p) for p in got)
        H.info("fast waiter got %.1f MiB while the other read nothing" % (ahead / MIB))
        check(ahead >= lag_window // 2, "the fast waiter got only %d bytes: held back "
              "before the lag window" % ahead)
        check(ahead < bound, "the fast waiter got %d of %d bytes while the other read "
              "nothing (expected < %d): the lag window does not bound what freshd holds" %
              (ahead, size, bound))
        # Both read on now, at once (either may become the slow one).
        fast_rest = []
        t = threading.Thread(target=lambda: fast_rest.extend(pieces))
        t.start()
        rs = slow.read_head()
        slow_body = read_rest(rs, slow.body_pieces(rs))
        t.join(60)
        check(not t.is_alive(), "the fast waiter still reads after 60 s")
        fast_body = read_rest(r, fast_rest, got)
        check(len(slow_body) == size and slow_body == pattern(size),
              "the slow waiter got %d bytes%s" % (len(slow_body),
                                                  "" if len(slow_body) != size else
                                                  " (wrong content)"))
        check(len(fast_body) == size and fast_body == pattern(size),
              "the fast waiter got %d bytes%s" % (len(fast_body),
                                                  "" if len(fast_body) != size else
                                                  " (wrong content)"))
    n = len(env.origin.log_for(mark))
    check(n == 1, "origin saw %d requests (expected 1)" % n)


if __name__ == "__main__":
    H.run(globals(), lambda: H.Env("c_collapse", workers=2))
