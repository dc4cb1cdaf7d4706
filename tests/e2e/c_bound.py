"""c_bound: the store keeps to its configured size (docs/store.md "Size
bound and eviction"). With `cache { size 16m; }`, ten times that much is
written through freshd by four concurrent clients: every client gets every
response whole, LMDB's data file never grows past the bound plus the
documented map slack, old objects are evicted, and the newest are hits.

The slack asserted is the store's own default: bound/8 + 4 × batch_bytes +
2 MiB, with batch_bytes = bound/16, i.e. 16 + 2 + 4 + 2 = 24 MiB for a
16 MiB bound (the LMDB map size; the data file cannot outgrow it, and a
store that sized its map from anything bigger would fail here).
"""

import threading
import time

import harness as H
from harness import check, pattern, qs, unique

MIB = 1 << 20
BOUND = 16 * MIB
LIMIT = BOUND + BOUND // 8 + 4 * (BOUND // 16) + 2 * MIB
OBJECTS = 160
CLIENTS = 4


def target(mark, i):
    return "/o/%d?%s" % (i, qs(size=MIB, m=mark, hdr="Cache-Control: max-age=3600"))


def test_bound_holds_under_10x_writes(env):
    mark = unique("bound")
    cache_dir = env.freshd.cache_dir()
    want = H.sha256(pattern(MIB))
    errors = []
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], H.data_mdb_bytes(cache_dir))
            time.sleep(0.01)

    def client(k):
        try:
            with env.client(timeout=30) as c:
                for i in range(k, OBJECTS, CLIENTS):
                    r = c.roundtrip("GET", target(mark, i))
                    if r.status != 200 or not r.complete or H.sha256(r.body) != want:
                        errors.append("object %d: %r" % (i, r))
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append("client %d: %s: %s" % (k, type(e).__name__, e))

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(80)
    elapsed = time.monotonic() - t0
    # The newest objects: written last, one at a time, each given the time
    # to commit (a burst can outrun the writer, and the store then skips
    # objects rather than block: docs/store.md "Threads").
    newest = [target(mark, OBJECTS + i) for i in range(3)]
    stored = []
    with env.client() as c:
        for t in newest:
            r = c.roundtrip("GET", t)
            if r.status != 200 or H.sha256(r.body) != want:
                errors.append("%s: %r" % (t, r))
            stored.append(H.wait_cached(env.freshd.port, t, timeout=3) is not None)
    time.sleep(0.2)
    stop.set()
    sampler.join()
    final = H.data_mdb_bytes(cache_dir)
    H.info("%d x 1 MiB by %d clients in %.2f s; data.mdb peak %.1f MiB, final %.1f MiB "
           "(bound %d MiB, limit asserted %d MiB)" %
           (OBJECTS + 3, CLIENTS, elapsed, peak[0] / MIB, final / MIB, BOUND // MIB,
            LIMIT // MIB))
    check(not any(t.is_alive() for t in threads), "clients still running after 80 s")
    check(not errors, "%d client errors, e.g. %s" % (len(errors), errors[:3]))
    check(max(peak[0], final) <= LIMIT,
          "data.mdb reached %d bytes, above the bound plus slack (%d)" %
          (max(peak[0], final), LIMIT))

    check(all(stored), "newest objects stored: %r" % stored)
    before = len(env.origin.log_for(mark))
    with env.client() as c:
        for t in newest:
            r = c.roundtrip("GET", t)
            check(r.status == 200 and "hit" in (r.cache_status() or {}),
                  "newest object %s: %r, Cache-Status %r" % (t, r, r.header("Cache-Status")))
    check(len(env.origin.log_for(mark)) == before,
          "the newest objects went to the origin again")
    tail = [target(mark, i) for i in range(OBJECTS - 12, OBJECTS)]
    H.info("of the burst's last 12 objects, %d are stored" %
           sum(1 for t in tail if H.cached(env.freshd.port, t) is not None))
    oldest = [target(mark, i) for i in range(40)]
    kept = sum(1 for t in oldest if H.cached(env.freshd.port, t) is not None)
    H.info("of the 40 oldest objects, %d still stored" % kept)
    check(kept * MIB <= BOUND, "%d of the oldest 1 MiB objects still stored in a %d MiB "
          "store" % (kept, BOUND // MIB))


if __name__ == "__main__":
    H.run(globals(), lambda: H.Env("c_bound", cache={"size": "16m"}))
