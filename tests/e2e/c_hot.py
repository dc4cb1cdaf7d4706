"""c_hot: the workers' hot tables (src/hot.h): a plain GET or HEAD for a
small fresh stored response is answered from a ready copy of the response
instead of the store. What the client gets must not change: the same fields
and body as a hit from the store, Age and Cache-Status ttl moving with the
clock (RFC 9111 §4.2.3, RFC 9211 §2.2), the same Connection handling, and
never a copy that the store would no longer serve: after an invalidation
(RFC 9111 §4.4), a replacement or a 304 update (§4.3.3, §4.3.4), expiry
(§4.2), eviction, a reload, and on every worker. Requests that are not
plain (conditionals, Range, Authorization, request Cache-Control) are
answered as the store path answers them.

How a test knows the table answered: the store path writes Age where the
stored fields are (before Via), the table after the stored head (after
Via). served_hot() checks that order. It is the only way to see the table
from outside, and without it a test of the table could pass with the table
never used.

A response goes into the table on its first plain hit from the store after
a plain miss on the same worker (hot_admit), so each object here is fetched
(miss), waited for (harness.wait_cached: an only-if-cached request, which
the table never answers), hit once from the store, and only then hot.
"""

import email.utils
import signal
import time

import harness as H
from harness import check, pattern, qs, unique

PER_REQUEST = ("age", "cache-status")


def cacheable(mark, size=100, max_age=100, hdrs=(), **extra):
    return "/h/%s?%s" % (mark, qs(size=size, m=mark, **extra,
                                  hdr=["Cache-Control: max-age=%d" % max_age] + list(hdrs)))


def origin_count(origin, mark, method=None):
    return len([e for e in origin.log_for(mark)
                if method is None or e["method"] == method])


def names(r):
    return [k.lower() for k, _ in r.headers]


def served_hot(r):
    """True when r's layout is the hot table's: Age after Via."""
    n = names(r)
    return "age" in n and "via" in n and n.index("age") > n.index("via")


def fields_except(r, skip=PER_REQUEST):
    """r's fields without the per-request ones, sorted by name (order
    within one name kept): what must be equal between two answers."""
    out = [(k.lower(), v) for k, v in r.headers if k.lower() not in skip]
    return sorted(out, key=lambda kv: kv[0])


def int_field(r, name):
    v = r.header(name)
    check(v is not None and v.isdigit(), "%s is %r, not a non-negative integer" % (name, v))
    return int(v)


def ttl(r):
    cs = r.cache_status() or {}
    check("hit" in cs and "ttl" in cs, "Cache-Status %r, expected hit with a ttl" %
          r.header("Cache-Status"))
    return int(cs["ttl"])


def raw_length(r):
    """Bytes of r as sent (status line, fields as received, body)."""
    head = "%s %d %s\r\n" % (r.version, r.status, r.reason)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in r.headers) + "\r\n"
    return len(head.encode("latin-1")) + len(r.body)


def make_hot(port, target, body, headers=None):
    """Miss, wait until stored, one hit from the store (which fills the
    table), one hit from the table. Returns (store hit, hot hit)."""
    r = H.get(port, target, headers)
    check(r.status == 200 and r.body == body, "miss for %s: %r" % (target, r))
    check(H.wait_cached(port, target, headers) is not None,
          "%s not stored within 5 s (Cache-Status %r)" % (target, r.header("Cache-Status")))
    with H.Client(port) as c:
        store_hit = c.roundtrip("GET", target, headers)
        hot_hit = c.roundtrip("GET", target, headers)
    for what, x in (("first hit", store_hit), ("second hit", hot_hit)):
        check(x.status == 200 and x.body == body, "%s of %s: %r" % (what, target, x))
        check("hit" in (x.cache_status() or {}), "%s Cache-Status %r" %
              (what, x.header("Cache-Status")))
    check(not served_hot(store_hit), "the first hit already had the table's layout: %r" %
          names(store_hit))
    check(served_hot(hot_hit), "the second plain hit was not answered by the table "
          "(fields %r)" % names(hot_hit))
    return store_hit, hot_hit


# RFC 9111 §4.2.3, RFC 9211 §2.2: hits from the table carry the stored
# response and an Age and ttl computed for the time of each request.
def test_hot_hits_repeat_with_age_growing_and_ttl_shrinking(env):
    mark = unique("age")
    target = cacheable(mark, size=5000)
    store_hit, hot1 = make_hot(env.freshd.port, target, pattern(5000))
    with env.client() as c:
        hot2 = c.roundtrip("GET", target)
        t0 = time.time()
        time.sleep(2.0)
        hot3 = c.roundtrip("GET", target)
        elapsed = time.time() - t0
    for name, r in (("store hit", store_hit), ("hot hit", hot1), ("second hot hit", hot2),
                    ("hot hit 2 s later", hot3)):
        check(r.body == pattern(5000), "%s: body %r..." % (name, r.body[:40]))
        check(fields_except(r) == fields_except(store_hit),
              "%s fields differ from the store hit's:\n  %r\n  %r" %
              (name, fields_except(r), fields_except(store_hit)))
        check(len(r.header_all("Age")) == 1 and len(r.header_all("Cache-Status")) == 1,
              "%s: Age %r, Cache-Status %r" % (name, r.header_all("Age"),
                                                r.header_all("Cache-Status")))
        age, t = int_field(r, "Age"), ttl(r)
        check(age + t == 100, "%s: Age %d + ttl %d != max-age 100" % (name, age, t))
    check(served_hot(hot2) and served_hot(hot3), "later hits not from the table: %r, %r" %
          (names(hot2), names(hot3)))
    grown = int_field(hot3, "Age") - int_field(hot2, "Age")
    shrunk = ttl(hot2) - ttl(hot3)
    H.info("after %.2f s: Age grew by %d, ttl shrank by %d" % (elapsed, grown, shrunk))
    check(int(elapsed) <= grown <= int(elapsed) + 1,
          "Age grew by %d over %.2f s" % (grown, elapsed))
    check(shrunk == grown, "ttl shrank by %d while Age grew by %d" % (shrunk, grown))
    check(origin_count(env.origin, mark) == 1,
          "origin saw %d requests for one stored object" % origin_count(env.origin, mark))


# RFC 9111 §4.2.3: the age the response had upstream (its Age field)
# counts in the table's Age as in the store's.
def test_hot_age_counts_upstream_age(env):
    mark = unique("uage")
    target = cacheable(mark, size=10, hdrs=["Age: 50"])
    store_hit, hot = make_hot(env.freshd.port, target, pattern(10))
    for name, r in (("store hit", store_hit), ("hot hit", hot)):
        age, t = int_field(r, "Age"), ttl(r)
        check(50 <= age <= 53 and age + t == 100,
              "%s: Age %d, ttl %d; expected Age 50..53 (upstream 50) and Age + ttl == 100" %
              (name, age, t))
    check(fields_except(hot) == fields_except(store_hit),
          "fields from the table\n  %r\ndiffer from the store's\n  %r" %
          (fields_except(hot), fields_except(store_hit)))


# The access log says HIT for the table's answers, with the bytes sent.
def test_hot_hits_logged_as_hit_with_their_bytes(env):
    mark = unique("log")
    target = cacheable(mark, size=321)
    store_hit, hot = make_hot(env.freshd.port, target, pattern(321))
    # The miss, the only-if-cached probe that found it, the two hits.
    gets = H.wait_until(lambda: (lambda g: len(g) >= 4 and g)(
        [p for p in env.freshd.access_log(mark) if p[2] == "GET" and p[4] == "200"]), 2.0)
    check(gets and len(gets) == 4, "GET 200 lines %r" % env.freshd.access_log(mark))
    for p, r, what in ((gets[2], store_hit, "store hit"), (gets[3], hot, "hot hit")):
        check(p[8] == "HIT", "%s logged as %s" % (what, p[8]))
        check(int(p[5]) == raw_length(r), "%s logged %s bytes, %d were sent" %
              (what, p[5], raw_length(r)))


# RFC 9110 §9.3.2: HEAD gets the GET's fields (Content-Length included,
# §8.6) and no body; a pipelined request after it is read correctly.
def test_head_from_the_table(env):
    mark = unique("head")
    target = cacheable(mark, size=1234)
    store_hit, hot = make_hot(env.freshd.port, target, pattern(1234))
    with env.client() as c:
        c.send(H.build_request("HEAD", target) + H.build_request("GET", target) +
               H.build_request("HEAD", target))
        h1 = c.read_response("HEAD")
        g = c.read_response("GET")
        h2 = c.read_response("HEAD")
        closed, extra = c.wait_closed(0.3)
    for what, r in (("HEAD", h1), ("HEAD after GET", h2)):
        check(r.status == 200 and r.body == b"", "%s: %r" % (what, r))
        check(served_hot(r), "%s not answered by the table: %r" % (what, names(r)))
        check(r.header("Content-Length") == "1234",
              "%s Content-Length %r, the body is 1234" % (what, r.header("Content-Length")))
        check(fields_except(r) == fields_except(store_hit),
              "%s fields differ from the GET's:\n  %r\n  %r" %
              (what, fields_except(r), fields_except(store_hit)))
    check(g.status == 200 and g.body == pattern(1234) and g.complete,
          "GET pipelined after a HEAD: %r" % g)
    check(not closed and extra == b"", "after the pipelined responses: closed %s, "
          "extra bytes %r" % (closed, extra[:80]))
    check(origin_count(env.origin, mark) == 1, "origin saw %d requests" %
          origin_count(env.origin, mark))


# RFC 9110 §9.3.2: a HEAD gets the fields a GET would, Content-Length
# included (§8.6), whether the table or the store answers it. The origin
# sends this response chunked, so the stored fields have no Content-Length
# of their own.
def test_head_same_from_the_table_and_the_store(env):
    mark = unique("headch")
    target = cacheable(mark, size=2222, chunked=1)
    store_hit, _ = make_hot(env.freshd.port, target, pattern(2222))
    check(store_hit.header("Content-Length") == "2222",
          "GET from the store: Content-Length %r" % store_hit.header("Content-Length"))
    with env.client() as c:
        hot = c.roundtrip("HEAD", target)
        ref = c.roundtrip("HEAD", target, [("Cache-Control", "max-age=100")])
    check(served_hot(hot) and not served_hot(ref), "HEADs from the table %s and %s" %
          (served_hot(hot), served_hot(ref)))
    for name, r in (("HEAD from the table", hot), ("HEAD from the store", ref)):
        check(r.status == 200 and r.body == b"", "%s: %r" % (name, r))
        check(fields_except(r) == fields_except(store_hit),
              "%s: fields\n  %r\ndiffer from the GET's\n  %r" %
              (name, fields_except(r), fields_except(store_hit)))


# RFC 9112 §9.3.2: pipelined responses come in request order, also when an
# answer from the table waits behind a slow miss.
def test_pipelined_hot_answers_wait_their_turn(env):
    mark = unique("pipe")
    target = cacheable(mark, size=500)
    make_hot(env.freshd.port, target, pattern(500))
    slow = "/h/%s?%s" % (unique("slow"), qs(size=3000, delay=300))
    with env.client() as c:
        c.send(H.build_request("GET", slow) + H.build_request("GET", target) +
               H.build_request("HEAD", target) + H.build_request("GET", target))
        got = [c.read_response(m) for m in ("GET", "GET", "HEAD", "GET")]
    check(got[0].status == 200 and got[0].body == pattern(3000) and
          got[0].header("Cache-Status") is not None and "hit" not in got[0].cache_status(),
          "slow miss first: %r" % got[0])
    for i, want in ((1, pattern(500)), (2, b""), (3, pattern(500))):
        check(got[i].status == 200 and got[i].body == want and served_hot(got[i]),
              "pipelined #%d: %r, from the table: %s" % (i, got[i], served_hot(got[i])))


def one_on_new_connection(port, target, headers=None, version="HTTP/1.1"):
    """The response and whether freshd then closed the connection."""
    with H.Client(port) as c:
        r = c.roundtrip("GET", target, headers, version=version)
        closed, extra = c.wait_closed(0.5)
    check(extra == b"", "bytes after the response: %r" % extra[:80])
    return r, closed


# RFC 9112 §9.3, §9.6: the table keeps or closes the connection exactly as
# the store path does, and says so the same way (Connection: keep-alive for
# a persistent HTTP/1.0 connection, close before closing). A request with
# Cache-Control: max-age=100 is not plain: it goes through the store path.
def test_connection_handling_same_as_the_store_path(env):
    mark = unique("conn")
    target = cacheable(mark, size=700)
    make_hot(env.freshd.port, target, pattern(700))
    store_path = [("Cache-Control", "max-age=100")]
    cases = [
        ("HTTP/1.0", [], "HTTP/1.0"),
        ("HTTP/1.0 keep-alive", [("Connection", "keep-alive")], "HTTP/1.0"),
        ("HTTP/1.1", [], "HTTP/1.1"),
        ("HTTP/1.1 close", [("Connection", "close")], "HTTP/1.1"),
    ]
    for name, headers, version in cases:
        hot, hot_closed = one_on_new_connection(env.freshd.port, target, headers, version)
        ref, ref_closed = one_on_new_connection(env.freshd.port, target,
                                                headers + store_path, version)
        check(served_hot(hot), "%s: not answered by the table: %r" % (name, names(hot)))
        check(not served_hot(ref), "%s: the store-path reference came from the table" % name)
        check(hot.status == 200 and hot.body == pattern(700) and hot.complete,
              "%s: %r" % (name, hot))
        check(fields_except(hot) == fields_except(ref),
              "%s: fields from the table\n  %r\ndiffer from the store path's\n  %r" %
              (name, fields_except(hot), fields_except(ref)))
        check(hot_closed == ref_closed,
              "%s: the table's answer %s the connection, the store path's %s it" %
              (name, "closed" if hot_closed else "kept", "closed" if ref_closed else "kept"))
        if hot_closed:
            check("close" in hot.header_list("Connection"),
                  "%s: closed without Connection: close (%r)" % (name, hot.headers))


# RFC 9111 §4.4: a non-error response to an unsafe method invalidates the
# URI; the next GET goes to the origin, whatever the table held.
def test_invalidation_by_post_ends_the_hot_copy(env):
    mark = unique("inv")
    target = cacheable(mark, size=100)
    make_hot(env.freshd.port, target, pattern(100))
    env.origin.rule(mark, qs(size=77, hdr="Cache-Control: max-age=100"))
    try:
        with env.client() as c:
            r = c.roundtrip("POST", target, body=b"x")
            check(r.status == 200, "POST: %r" % r)
            r = c.roundtrip("GET", target)
    finally:
        env.origin.rule(mark)
    check(r.status == 200 and r.body == pattern(77),
          "GET after the POST got %d bytes (Cache-Status %r), expected the origin's new 77" %
          (len(r.body), r.header("Cache-Status")))
    check("hit" not in (r.cache_status() or {}), "GET after POST was a hit: %r" %
          r.header("Cache-Status"))
    got = [e["method"] for e in env.origin.log_for(mark)]
    check(got == ["GET", "POST", "GET"], "origin saw %r, expected GET, POST, GET" % got)


# RFC 9111 §4.2: once stale, the copy is not used; the request goes to the
# origin (revalidation or refetch).
def test_expiry_ends_the_hot_copy(env):
    mark = unique("exp")
    target = cacheable(mark, size=100, max_age=2)
    t0 = time.time()
    _, hot = make_hot(env.freshd.port, target, pattern(100))
    check(int_field(hot, "Age") <= 1, "hot hit Age %r" % hot.header("Age"))
    time.sleep(max(0.0, t0 + 3.2 - time.time()))
    r = H.get(env.freshd.port, target)
    check(r.status == 200 and r.body == pattern(100), "after expiry: %r" % r)
    check("hit" not in (r.cache_status() or {}),
          "3 s after a max-age=2 response: Cache-Status %r, Age %r" %
          (r.header("Cache-Status"), r.header("Age")))
    check(origin_count(env.origin, mark) == 2,
          "origin saw %d requests, expected 2 (the miss, then the expired one)" %
          origin_count(env.origin, mark))


def wait_stored_body(port, target, want, timeout=5.0):
    """Polls the store (only-if-cached) until it holds body want."""
    return H.wait_until(lambda: (lambda r: r is not None and r.body == want)(
        H.cached(port, target)), timeout, 0.02)


# RFC 9111 §4.3.3, §5.2.1.4: a request with no-cache makes freshd go to the
# origin; a new 200 replaces the stored response. The next plain GET must get
# the new one, not the table's copy of the old (store_key_version).
def test_replacement_by_a_new_200_ends_the_hot_copy(env):
    mark = unique("repl")
    target = cacheable(mark, size=100)
    make_hot(env.freshd.port, target, pattern(100))
    env.origin.rule(mark, qs(size=200, hdr="Cache-Control: max-age=100"))
    try:
        r = H.get(env.freshd.port, target, [("Cache-Control", "no-cache")])
        check(r.status == 200 and r.body == pattern(200), "no-cache request: %r" % r)
        check(wait_stored_body(env.freshd.port, target, pattern(200)),
              "the new 200 was not stored within 5 s")
        with env.client() as c:
            r1 = c.roundtrip("GET", target)
            r2 = c.roundtrip("GET", target)
            r3 = c.roundtrip("GET", target)
    finally:
        env.origin.rule(mark)
    for name, r in (("first", r1), ("second", r2), ("third", r3)):
        check(r.status == 200 and r.body == pattern(200),
              "%s plain GET after the replacement: %d bytes (%s), expected the new 200" %
              (name, len(r.body), "from the table" if served_hot(r) else "from the store"))
        check("hit" in (r.cache_status() or {}), "%s: Cache-Status %r" %
              (name, r.header("Cache-Status")))
    check(served_hot(r3), "the new object does not become hot: %r" % names(r3))
    check(origin_count(env.origin, mark) == 2, "origin saw %d requests, expected 2" %
          origin_count(env.origin, mark))


# RFC 9111 §4.3.4: a 304 to a revalidation updates the stored fields; the
# next plain GET carries the new fields and the new freshness.
def test_304_update_ends_the_hot_copy(env):
    mark = unique("upd")
    target = cacheable(mark, size=100, etag="v1", hdrs=["X-Version: 1"])
    make_hot(env.freshd.port, target, pattern(100))
    env.origin.rule(mark, qs(size=100, etag="v1",
                             hdr=["Cache-Control: max-age=500", "X-Version: 2"]))
    try:
        r = H.get(env.freshd.port, target, [("Cache-Control", "no-cache")])
        check(r.status == 200 and r.body == pattern(100), "no-cache request: %r" % r)
        log = env.origin.log_for(mark)
        inm = [v for k, v in log[-1]["headers"] if k.lower() == "if-none-match"]
        check(inm == ['"v1"'], "the revalidation carried If-None-Match %r" % inm)
        check(H.wait_until(lambda: (lambda x: x is not None and
                                    x.header("X-Version") == "2")(
            H.cached(env.freshd.port, target)), 5.0, 0.02),
            "the 304's fields were not stored within 5 s")
        with env.client() as c:
            r1 = c.roundtrip("GET", target)
            r2 = c.roundtrip("GET", target)
    finally:
        env.origin.rule(mark)
    for name, r in (("first", r1), ("second", r2)):
        check(r.status == 200 and r.body == pattern(100), "%s: %r" % (name, r))
        check(r.header("X-Version") == "2" and r.header("Cache-Control") == "max-age=500",
              "%s plain GET after the 304 (%s): X-Version %r, Cache-Control %r" %
              (name, "from the table" if served_hot(r) else "from the store",
               r.header("X-Version"), r.header("Cache-Control")))
        age, t = int_field(r, "Age"), ttl(r)
        check(age + t == 500, "%s: Age %d + ttl %d != the new max-age 500" % (name, age, t))


# Every worker has a table; an invalidation or a replacement must end the
# copies in all of them. 16 connections (SO_REUSEPORT spreads them over both workers; all on
# one has probability 2^-15), each warmed until the table answers it.
def test_invalidation_reaches_every_workers_table(env):
    f = env.new_freshd("w2", workers=2)
    mark = unique("w2")
    target = cacheable(mark, size=100)
    r = H.get(f.port, target)
    check(r.status == 200 and r.body == pattern(100), "miss: %r" % r)
    check(H.wait_cached(f.port, target) is not None, "not stored within 5 s")
    conns = [f.client() for _ in range(16)]
    try:
        # A worker that did not see the miss admits the key at its second
        # hit (hot_admit's doorkeeper), so the third GET is from its table.
        for i, c in enumerate(conns):
            for _ in range(3):
                r = c.roundtrip("GET", target)
                check(r.status == 200 and r.body == pattern(100), "warming #%d: %r" % (i, r))
            check(served_hot(r), "connection #%d: the third GET was not answered by the "
                  "table: %r" % (i, names(r)))
        env.origin.rule(mark, qs(size=300, hdr="Cache-Control: max-age=100"))
        with f.client() as c:
            r = c.roundtrip("POST", target, body=b"x")
            check(r.status == 200, "POST: %r" % r)
        stale = []
        for i, c in enumerate(conns):
            for _ in range(2):
                r = c.roundtrip("GET", target)
                if r.status != 200 or r.body != pattern(300):
                    stale.append((i, len(r.body), r.header("Cache-Status"), served_hot(r)))
        check(not stale, "after the POST, (connection, body bytes, Cache-Status, from the "
              "table) not the new 300-byte body: %r" % stale)
        # Every table holds the 300-byte object again; a replacement made on
        # one worker (a no-cache request refetching a 400-byte one) must reach
        # the other's table too.
        check(wait_stored_body(f.port, target, pattern(300)),
              "the 300-byte object was not stored within 5 s")
        for i, c in enumerate(conns):
            for _ in range(2):
                r = c.roundtrip("GET", target)
            check(served_hot(r) and r.body == pattern(300),
                  "connection #%d: the 300-byte object is not hot: %r" % (i, r))
        env.origin.rule(mark, qs(size=400, hdr="Cache-Control: max-age=100"))
        r = H.get(f.port, target, [("Cache-Control", "no-cache")])
        check(r.status == 200 and r.body == pattern(400), "no-cache request: %r" % r)
        check(wait_stored_body(f.port, target, pattern(400)),
              "the 400-byte object was not stored within 5 s")
        stale = []
        for i, c in enumerate(conns):
            r = c.roundtrip("GET", target)
            if r.status != 200 or r.body != pattern(400):
                stale.append((i, len(r.body), r.header("Cache-Status"), served_hot(r)))
        check(not stale, "after the replacement, (connection, body bytes, Cache-Status, "
              "from the table) not the new 400-byte body: %r" % stale)
    finally:
        env.origin.rule(mark)
        for c in conns:
            c.close()
        f.stop()
    check(origin_count(env.origin, mark, "GET") >= 2,
          "origin saw %d GETs" % origin_count(env.origin, mark, "GET"))


# Requests that are not plain are answered as the store path answers them:
# RFC 9110 §14.2 Range (206), §13.1.5 If-Range, §13.1.2 If-None-Match and
# §13.1.3 If-Modified-Since (304); RFC 9111 §3.5 Authorization (from the
# store); §5.2.1.3 min-fresh beyond the ttl, §5.2.1.4 no-cache and §5.4
# Pragma (to the origin).
def test_requests_that_are_not_plain_bypass_the_table(env):
    mark = unique("np")
    lastmod = int(time.time()) - 3600
    target = cacheable(mark, size=1000, etag="r1", lastmod=lastmod)
    make_hot(env.freshd.port, target, pattern(1000))
    lm = email.utils.formatdate(lastmod, usegmt=True)
    before = origin_count(env.origin, mark)
    with env.client() as c:
        r = c.roundtrip("GET", target, [("Range", "bytes=10-19")])
        check(r.status == 206 and r.body == pattern(10, 10) and
              r.header("Content-Range") == "bytes 10-19/1000",
              "Range: %r Content-Range %r" % (r, r.header("Content-Range")))
        r = c.roundtrip("GET", target, [("range", "bytes=-5")])
        check(r.status == 206 and r.body == pattern(5, 995), "range (lower case): %r" % r)
        r = c.roundtrip("GET", target, [("Range", "bytes=0-9"), ("If-Range", '"r1"')])
        check(r.status == 206 and r.body == pattern(10), "If-Range matching: %r" % r)
        r = c.roundtrip("GET", target, [("Range", "bytes=0-9"), ("If-Range", '"r0"')])
        check(r.status == 200 and r.body == pattern(1000), "If-Range not matching: %r" % r)
        r = c.roundtrip("GET", target, [("If-None-Match", '"r1"')])
        check(r.status == 304 and r.body == b"" and r.header("ETag") == '"r1"',
              "If-None-Match: %r" % r)
        r = c.roundtrip("HEAD", target, [("if-none-match", '"r1"')])
        check(r.status == 304, "HEAD with if-none-match: %r" % r)
        r = c.roundtrip("GET", target, [("If-Modified-Since", lm)])
        check(r.status == 304 and r.body == b"", "If-Modified-Since: %r" % r)
        check(origin_count(env.origin, mark) == before,
              "origin saw %d requests for ranges and conditionals answered from the store" %
              (origin_count(env.origin, mark) - before))
        # RFC 9111 §3.5 restricts reusing responses to requests with
        # Authorization, not answering them with what others stored: the
        # policy serves this one from the store, and the table leaves it to it.
        for name, headers in (("Authorization", [("Authorization", "Basic dTpw")]),
                              ("authorization", [("authorization", "Bearer t")])):
            r = c.roundtrip("GET", target, headers)
            check(r.status == 200 and r.body == pattern(1000) and not served_hot(r),
                  "%s: %r, from the table: %s" % (name, r, served_hot(r)))
        check(origin_count(env.origin, mark) == before,
              "origin saw %d requests for requests answered from the store" %
              (origin_count(env.origin, mark) - before))
        for name, headers in (("Cache-Control: no-cache", [("Cache-Control", "no-cache")]),
                              ("Pragma: no-cache", [("Pragma", "no-cache")]),
                              ("Cache-Control: min-fresh=1000",
                               [("Cache-Control", "min-fresh=1000")])):
            n = origin_count(env.origin, mark)
            r = c.roundtrip("GET", target, headers)
            check(r.status == 200 and r.body == pattern(1000), "%s: %r" % (name, r))
            check(origin_count(env.origin, mark) == n + 1,
                  "%s: the origin saw %d requests, expected 1 (Cache-Status %r)" %
                  (name, origin_count(env.origin, mark) - n, r.header("Cache-Status")))


# RFC 9111 §4.1: a response with Vary is never answered from the table,
# which does not look at the selecting fields.
def test_vary_response_never_from_the_table(env):
    mark = unique("vary")
    target = "/h/%s?%s" % (mark, qs(echo=1, m=mark,
                                    hdr=["Cache-Control: max-age=100", "Vary: X-Lang"]))
    en = [("X-Lang", "en")]
    r = H.get(env.freshd.port, target, en)
    check(r.status == 200, "miss: %r" % r)
    check(H.wait_cached(env.freshd.port, target, en) is not None, "not stored within 5 s")
    with env.client() as c:
        for _ in range(3):
            r = c.roundtrip("GET", target, en)
            check("hit" in (r.cache_status() or {}) and not served_hot(r),
                  "en: Cache-Status %r, from the table %s" %
                  (r.header("Cache-Status"), served_hot(r)))
        r = c.roundtrip("GET", target, [("X-Lang", "fr")])
    check(b'"fr"' in r.body and b'"en"' not in r.body,
          "a request with X-Lang: fr got the response made for %r" % r.body[:300])
    check(origin_count(env.origin, mark) == 2,
          "origin saw %d requests, expected 2 (en, fr)" % origin_count(env.origin, mark))


# Bodies up to HOT_MAX_BODY (64 KiB) are kept, larger ones served from the
# store; both are intact.
def test_body_size_limit_of_the_table(env):
    for size, hot in ((65536, True), (65537, False)):
        mark = unique("size")
        target = cacheable(mark, size=size)
        r = H.get(env.freshd.port, target)
        check(r.status == 200 and r.body == pattern(size), "miss of %d: %r" % (size, r))
        check(H.wait_cached(env.freshd.port, target) is not None, "not stored")
        with env.client() as c:
            got = [c.roundtrip("GET", target) for _ in range(3)]
        for i, x in enumerate(got):
            check(x.status == 200 and x.body == pattern(size) and x.complete,
                  "%d bytes, hit #%d: %r" % (size, i, x))
        check(served_hot(got[2]) == hot, "%d bytes: third hit from the table: %s" %
              (size, served_hot(got[2])))


# RFC 9111 §5.2.2.4: a stored response with no-cache must be revalidated
# every time: never from the table.
def test_response_no_cache_never_from_the_table(env):
    mark = unique("rnc")
    target = "/h/%s?%s" % (mark, qs(size=100, m=mark, etag="n1",
                                    hdr="Cache-Control: no-cache, max-age=100"))
    r = H.get(env.freshd.port, target)
    check(r.status == 200, "miss: %r" % r)
    time.sleep(0.2)
    with env.client() as c:
        for _ in range(3):
            r = c.roundtrip("GET", target)
            check(r.status == 200 and r.body == pattern(100) and not served_hot(r),
                  "%r from the table: %s" % (r, served_hot(r)))
    check(origin_count(env.origin, mark) == 4,
          "origin saw %d requests, expected 4 (every request revalidated)" %
          origin_count(env.origin, mark))


# An evicted object is no longer served from the table (store_touch): a
# 1 MiB store, a hot 40 KB object, then 40 other 40 KB objects, each used
# once more after it is stored so that the eviction hand passes over all.
def test_eviction_ends_the_hot_copy(env):
    f = env.new_freshd("small", cache={"size": "1m"})
    try:
        mark = unique("evict")
        target = cacheable(mark, size=40000)
        make_hot(f.port, target, pattern(40000))
        for i in range(40):
            m = unique("fill")
            t = cacheable(m, size=40000)
            r = H.get(f.port, t)
            check(r.status == 200, "fill #%d: %r" % (i, r))
            H.wait_cached(f.port, t)
        check(H.wait_until(lambda: H.cached(f.port, target) is None, 3.0, 0.05),
              "the first object was not evicted by 40 others in a 1 MiB store")
        before = origin_count(env.origin, mark)
        r = H.get(f.port, target)
        check(r.status == 200 and r.body == pattern(40000), "after eviction: %r" % r)
        check("hit" not in (r.cache_status() or {}),
              "an evicted object was a hit (%s): Cache-Status %r" %
              ("from the table" if served_hot(r) else "from the store",
               r.header("Cache-Status")))
        check(origin_count(env.origin, mark) == before + 1,
              "origin saw %d requests after the eviction, expected 1" %
              (origin_count(env.origin, mark) - before))
    finally:
        f.stop()


# A reload may change what the answer says (here the Via / Cache-Status
# name): copies made under the old configuration are not used.
def test_reload_ends_the_hot_copies(env):
    f = env.new_freshd("reload")
    try:
        mark = unique("reload")
        target = cacheable(mark, size=100)
        _, hot = make_hot(f.port, target, pattern(100))
        check(hot.header("Via") == "1.1 freshd", "Via %r" % hot.header("Via"))
        f.write_config("via hotname;\n" + env.config_text("reload", f.port))
        f.signal(signal.SIGHUP)
        probe = "/h/%s?%s" % (mark, qs(size=1, probe=1))
        check(H.wait_until(lambda: H.get(f.port, probe).header("Via") == "1.1 hotname",
                           5.0, 0.05), "the reload did not take effect within 5 s")
        with f.client() as c:
            got = [c.roundtrip("GET", target) for _ in range(2)]
        for i, r in enumerate(got):
            check(r.status == 200 and r.body == pattern(100), "after reload #%d: %r" % (i, r))
            check(r.header_all("Via") == ["1.1 hotname"] and
                  (r.cache_status() or {}).get("_name") == "hotname",
                  "after reload #%d (%s): Via %r, Cache-Status %r" %
                  (i, "from the table" if served_hot(r) else "from the store",
                   r.header_all("Via"), r.header("Cache-Status")))
    finally:
        f.stop()


# RFC 9211 §2.7: with cache-status-key on, the table's answers carry the key
# like the store's.
def test_cache_status_key_from_the_table(env):
    f = env.new_freshd("csk", site={"cache-status-key": "on"})
    try:
        mark = unique("csk")
        target = cacheable(mark, size=100)
        store_hit, hot = make_hot(f.port, target, pattern(100))
        check("key" in (store_hit.cache_status() or {}),
              "store hit Cache-Status %r has no key" % store_hit.header("Cache-Status"))
        check(hot.cache_status().get("key") == store_hit.cache_status().get("key"),
              "Cache-Status from the table %r, from the store %r" %
              (hot.header("Cache-Status"), store_hit.header("Cache-Status")))
    finally:
        f.stop()


# hot-memory 0 keeps no copies: every hit comes from the store, and is the
# same hit.
def test_hot_memory_zero_keeps_no_copies(env):
    f = env.new_freshd("nohot", cache={"hot-memory": "0"})
    try:
        mark = unique("nohot")
        target = cacheable(mark, size=700)
        r = H.get(f.port, target)
        check(r.status == 200 and r.body == pattern(700), "miss: %r" % r)
        check(H.wait_cached(f.port, target) is not None, "not stored within 5 s")
        with f.client() as c:
            hits = [c.roundtrip("GET", target) for _ in range(5)]
        for i, h in enumerate(hits):
            check(h.status == 200 and h.body == pattern(700), "hit %d: %r" % (i, h))
            check(h.cache_status().get("hit") is not None, "hit %d Cache-Status %r" %
                  (i, h.header("Cache-Status")))
            check(not served_hot(h), "hit %d answered by a table of 0 bytes: %r" %
                  (i, names(h)))
    finally:
        f.stop()


if __name__ == "__main__":
    H.run(globals(), lambda: H.Env("c_hot"))
