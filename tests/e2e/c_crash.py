"""c_crash: kill -9 in the middle of storing a large object (docs/store.md
"Visibility"). The next freshd on the same directory starts by itself (no
repair tool, no manual step), never serves the torn object (its chunks were
committed, its object record never was), and still serves every object
committed before the kill.

The 200 MiB object is sent by the origin at full speed up to 100 MiB, then
the origin stalls (stall_after), so the kill always lands mid-object with
half of it already handed to the store, and the test does not wait for a
slow transfer.
"""

import time

import harness as H
from harness import check, pattern, qs, unique

MIB = 1 << 20
BIG = 200 * MIB
STALL = 100 * MIB


def crash_env(env):
    # max_object is half the bound: 512m lets the store take a 200 MiB object.
    return env.new_freshd("crash", cache={"size": "512m"})


def test_kill9_mid_object(env):
    f = crash_env(env)
    mark = unique("small")
    small = ["/s/%d?%s" % (i, qs(size=10000 + i, m=mark, hdr="Cache-Control: max-age=3600"))
             for i in range(5)]
    with f.client() as c:
        for t in small:
            r = c.roundtrip("GET", t)
            check(r.status == 200, "filling %s: %r" % (t, r))
    for t in small:
        check(H.wait_cached(f.port, t) is not None, "%s not stored within 5 s" % t)

    big_mark = unique("big")
    big = "/big?" + qs(size=BIG, stall_after=STALL, m=big_mark,
                       hdr="Cache-Control: max-age=3600")
    cache_dir = f.cache_dir()
    base = H.data_mdb_bytes(cache_dir)
    got = 0
    t0 = time.monotonic()
    c = f.client(timeout=30)
    try:
        c.request("GET", big)
        r = c.read_head()
        check(r.status == 200 and r.length == BIG, "big object head: %r" % r)
        for piece in c.body_pieces(r):
            got += len(piece)
            if got >= STALL:
                break
        check(got == STALL, "received %d bytes of the big object, expected %d before the "
              "origin stalls" % (got, STALL))
        transfer = time.monotonic() - t0
        # Half the body was handed to the store; wait until a good part of it
        # has been committed (the data file grows as chunks commit).
        grown = H.wait_until(lambda: H.data_mdb_bytes(cache_dir) - base >= STALL // 2, 10)
        size_at_kill = H.data_mdb_bytes(cache_dir)
        H.info("100 MiB streamed in %.2f s; data.mdb %.1f MiB at the kill (%.1f MiB before "
               "the big object)" % (transfer, size_at_kill / MIB, base / MIB))
        check(grown, "data.mdb grew by only %.1f MiB while 100 MiB of the object streamed: "
              "the test could not get the object half-stored" %
              ((size_at_kill - base) / MIB))
        f.kill()
    finally:
        c.close()

    # The origin now answers the big URL with a small body: a request that
    # reaches it is recognisable by the body it gets back.
    env.origin.rule(big_mark, qs(size=1000, hdr="Cache-Control: max-age=3600"))
    t0 = time.monotonic()
    f.start()
    H.info("restart after kill -9: accepting after %.2f s" % (time.monotonic() - t0))

    before = len(env.origin.log_for(mark))
    with f.client() as c:
        for i, t in enumerate(small):
            r = c.roundtrip("GET", t)
            check(r.status == 200 and r.body == pattern(10000 + i),
                  "after the crash %s: %r" % (t, r))
            check("hit" in (r.cache_status() or {}),
                  "object committed before the kill is not a hit: Cache-Status %r" %
                  r.header("Cache-Status"))
        check(len(env.origin.log_for(mark)) == before,
              "origin saw %d new requests for objects committed before the kill" %
              (len(env.origin.log_for(mark)) - before))

        check(H.cached(f.port, big) is None,
              "only-if-cached found the torn 200 MiB object in the store")
        r = c.roundtrip("GET", big)
    check(r.status == 200 and r.body == pattern(1000),
          "the big URL after the crash: %r (expected the origin's new 1000-byte answer)" % r)
    check("hit" not in (r.cache_status() or {}),
          "the big URL was a hit after the crash: Cache-Status %r" % r.header("Cache-Status"))
    check(len(env.origin.log_for(big_mark)) == 2,
          "origin saw %d requests for the big URL, expected 2 (before and after the crash)" %
          len(env.origin.log_for(big_mark)))
    f.stop()


if __name__ == "__main__":
    H.run(globals(), lambda: H.Env("c_crash", start_freshd=False))
