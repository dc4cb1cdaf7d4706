"""c_persist: the store survives a restart (DESIGN.md "The store"): objects
stored before a SIGTERM are served as hits by the next freshd on the same
cache directory, and the origin sees no new request for them.
"""

import time

import harness as H
from harness import check, pattern, qs, unique

# Sizes span one chunk, several chunks and an empty body.
SIZES = [0, 1, 100, 4096, 65536, 65537, 300000, 1 << 20]


def test_objects_survive_sigterm_restart(env):
    mark = unique("persist")
    targets = []
    for i in range(20):
        size = SIZES[i % len(SIZES)]
        targets.append(("/p/%d?%s" % (i, qs(size=size, m=mark, i=i, etag="e%d" % i,
                                            hdr="Cache-Control: max-age=3600")), size))
    with env.client() as c:
        for t, size in targets:
            r = c.roundtrip("GET", t)
            check(r.status == 200 and r.body == pattern(size), "filling %s: %r" % (t, r))
    for t, _ in targets:
        check(H.wait_cached(env.freshd.port, t) is not None, "%s not stored within 5 s" % t)
    before = len(env.origin.log_for(mark))
    check(before == len(targets), "origin saw %d requests while filling %d objects" %
          (before, len(targets)))

    t0 = time.monotonic()
    status = env.freshd.stop()
    check(status == 0, "freshd exited with %r after SIGTERM" % status)
    env.freshd.start()
    H.info("SIGTERM and restart on the same cache directory: %.2f s" %
           (time.monotonic() - t0))

    with env.client() as c:
        for t, size in targets:
            r = c.roundtrip("GET", t)
            check(r.status == 200 and r.body == pattern(size),
                  "after restart %s: %r" % (t, r))
            cs = r.cache_status()
            check(cs is not None and "hit" in cs,
                  "after restart %s: Cache-Status %r, expected a hit" %
                  (t, r.header("Cache-Status")))
            want = '"e%s"' % t.split("/p/")[1].split("?")[0]
            check(r.header("ETag") == want and r.header("Age") is not None,
                  "after restart %s: ETag %r (expected %s), Age %r" %
                  (t, r.header("ETag"), want, r.header("Age")))
    after = len(env.origin.log_for(mark))
    check(after == before, "origin saw %d new requests after the restart" % (after - before))


# store_close drains the write queue (docs/store.md "Threads"): a response
# that ended just before SIGTERM is committed, not lost.
def test_sigterm_right_after_fill_keeps_objects(env):
    mark = unique("drain")
    targets = ["/d/%d?%s" % (i, qs(size=200000, m=mark, hdr="Cache-Control: max-age=3600"))
               for i in range(5)]
    with env.client() as c:
        for t in targets:
            r = c.roundtrip("GET", t)
            check(r.status == 200 and r.body == pattern(200000), "filling %s: %r" % (t, r))
    status = env.freshd.stop()
    check(status == 0, "freshd exited with %r after SIGTERM" % status)
    env.freshd.start()
    with env.client() as c:
        hits = [t for t in targets if "hit" in (c.roundtrip("GET", t).cache_status() or {})]
    check(len(hits) == len(targets), "%d of %d objects completed just before SIGTERM were "
          "hits after the restart" % (len(hits), len(targets)))
    check(len(env.origin.log_for(mark)) == len(targets),
          "origin saw %d requests for %d objects" % (len(env.origin.log_for(mark)),
                                                     len(targets)))


if __name__ == "__main__":
    H.run(globals(), lambda: H.Env("c_persist"))
