"""c_basic: what the cache does with one stored response (RFC 9111, RFC
9110 §13-§14, RFC 9211): hits, Age and Cache-Status, 304 to conditional
clients, HEAD from a stored GET, byte ranges, invalidation by unsafe
methods, responses that must never be stored, and the cache status in the
access log.

Every test uses its own URLs (unique()), so tests do not see each other's
objects. A stored object becomes visible a few ms after its response ended
(the store's writer commits asynchronously); tests wait for it with
harness.wait_cached (an only-if-cached request, never forwarded).
"""

import email.utils
import time

import harness as H
from harness import check, pattern, qs, unique


def cacheable(mark, size=100, max_age=60, hdrs=(), **extra):
    """A target the origin answers with a fresh, storable response."""
    return "/c/%s?%s" % (mark, qs(size=size, m=mark, **extra,
                                  hdr=["Cache-Control: max-age=%d" % max_age] + list(hdrs)))


def store(env, target, headers=None):
    """GETs target (a miss), waits until it is stored; returns the miss."""
    r = H.get(env.freshd.port, target, headers)
    check(r.status == 200 and r.complete, "filling %s: %r" % (target, r))
    check(H.wait_cached(env.freshd.port, target, headers) is not None,
          "%s was not stored within 5 s of its response (Cache-Status %r)" %
          (target, r.header("Cache-Status")))
    return r


def origin_count(env, mark, method=None):
    return len([e for e in env.origin.log_for(mark)
                if method is None or e["method"] == method])


def int_field(r, name):
    v = r.header(name)
    check(v is not None and v.isdigit(), "%s is %r, not a non-negative integer" % (name, v))
    return int(v)


# RFC 9111 §4, §4.2.3, RFC 9211 §2: a miss is forwarded and stored, the
# next request is a hit served from the store, and both say so in
# Cache-Status; Age + ttl equals the freshness lifetime.
def test_hit_after_miss(env):
    mark = unique("hit")
    target = cacheable(mark, size=5000)
    r1 = H.get(env.freshd.port, target)
    check(r1.status == 200 and r1.body == pattern(5000), "miss: %r" % r1)
    cs = r1.cache_status()
    check(cs is not None and cs["_name"] == "freshd", "miss Cache-Status %r" %
          r1.header("Cache-Status"))
    check("hit" not in cs and cs.get("fwd") == "uri-miss" and cs.get("fwd-status") == "200"
          and "stored" in cs, "miss Cache-Status %r: expected fwd=uri-miss; "
          "fwd-status=200; stored" % r1.header("Cache-Status"))
    check(int_field(r1, "Age") == 0, "miss Age %r" % r1.header("Age"))
    check(H.wait_cached(env.freshd.port, target) is not None, "not stored within 5 s")
    before = origin_count(env, mark)
    r2 = H.get(env.freshd.port, target)
    check(r2.status == 200 and r2.body == pattern(5000), "hit: %r" % r2)
    cs = r2.cache_status()
    check("hit" in cs and "fwd" not in cs, "hit Cache-Status %r" % r2.header("Cache-Status"))
    age = int_field(r2, "Age")
    ttl = int(cs.get("ttl", "-999"))
    H.info("hit: Age %d, ttl %d" % (age, ttl))
    check(0 <= age <= 3 and age + ttl == 60,
          "hit Age %d and ttl %d: expected Age in [0, 3] and Age + ttl == max-age 60" %
          (age, ttl))
    # The stored response itself: the origin's connection/sequence fields are the first ones.
    check(r2.header("X-Origin-Seq") == r1.header("X-Origin-Seq") and
          r2.header("X-Origin-Conn") == r1.header("X-Origin-Conn"),
          "hit carries X-Origin-Conn/Seq %s/%s, the miss had %s/%s" %
          (r2.header("X-Origin-Conn"), r2.header("X-Origin-Seq"),
           r1.header("X-Origin-Conn"), r1.header("X-Origin-Seq")))
    check(origin_count(env, mark) == before == 1,
          "origin saw %d requests for a stored object (expected 1)" % origin_count(env, mark))


# RFC 9111 §4.2.3: Age counts the age the response already had (its Date
# in the past, an Age from upstream) plus the time spent in the cache.
def test_age_counts_date_and_upstream_age(env):
    mark = unique("age")
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    t_date = cacheable(mark + "d", max_age=300, nodate=1, hdrs=["Date: " + past])
    t_age = cacheable(mark + "a", max_age=300, hdrs=["Age: 100"])
    store(env, t_date)
    store(env, t_age)
    r = H.get(env.freshd.port, t_date)
    a = int_field(r, "Age")
    ttl = int(r.cache_status().get("ttl", "-999"))
    H.info("Date 30 s old: Age %d, ttl %d" % (a, ttl))
    check(30 <= a <= 34, "Date 30 s in the past: Age %d, expected 30..34" % a)
    check(a + ttl == 300, "Age %d + ttl %d != max-age 300" % (a, ttl))
    r = H.get(env.freshd.port, t_age)
    a = int_field(r, "Age")
    H.info("origin Age 100: Age %d" % a)
    check(100 <= a <= 104, "origin sent Age: 100; freshd's hit says Age %d, expected 100..104" % a)
    check("hit" in r.cache_status(), "Cache-Status %r" % r.header("Cache-Status"))


# RFC 9111 §4.3.2, RFC 9110 §13.1.1-§13.1.3, §13.2.2: a conditional request
# from a client is answered from the store, 304 when the validators match.
def test_conditional_client_304(env):
    mark = unique("cond")
    lastmod = int(time.time()) - 3600
    target = cacheable(mark, size=2000, etag="v1", lastmod=lastmod)
    store(env, target)
    lm = email.utils.formatdate(lastmod, usegmt=True)
    earlier = email.utils.formatdate(lastmod - 60, usegmt=True)
    cases = [
        ([("If-None-Match", '"v1"')], 304),
        ([("If-None-Match", '"x", W/"v1"')], 304),     # weak comparison, §8.8.3.2
        ([("If-None-Match", '*')], 304),
        ([("If-None-Match", '"v2"')], 200),
        ([("If-Modified-Since", lm)], 304),
        ([("If-Modified-Since", earlier)], 200),
        # §13.2.2: If-None-Match wins over If-Modified-Since.
        ([("If-None-Match", '"v2"'), ("If-Modified-Since", lm)], 200),
    ]
    with env.client() as c:
        for headers, want in cases:
            r = c.roundtrip("GET", target, headers)
            check(r.status == want, "%r: got %d, expected %d" % (headers, r.status, want))
            cs = r.cache_status()
            check(cs is not None and "hit" in cs,
                  "%r: Cache-Status %r, expected a hit" % (headers, r.header("Cache-Status")))
            if want == 304:
                check(r.body == b"" and r.header("ETag") == '"v1"',
                      "304 for %r: body %r, ETag %r" % (headers, r.body[:40], r.header("ETag")))
                check(r.header("Age") is not None, "304 without Age")
            else:
                check(r.body == pattern(2000), "200 for %r: %d body bytes" % (headers, len(r.body)))
    check(origin_count(env, mark) == 1,
          "origin saw %d requests; conditional requests must be answered from the store" %
          origin_count(env, mark))


# RFC 9110 §9.3.2: HEAD is answered from a stored GET (same fields, no
# body); a HEAD for an unknown key goes to the origin as HEAD, is not
# stored, and the next GET is a miss.
def test_head_from_stored_get(env):
    mark = unique("head")
    target = cacheable(mark, size=3000)
    store(env, target)
    with env.client() as c:
        r = c.roundtrip("HEAD", target)
    check(r.status == 200 and r.body == b"", "HEAD: %r" % r)
    check(r.header("Content-Length") == "3000",
          "HEAD Content-Length %r, the stored body is 3000" % r.header("Content-Length"))
    check("hit" in r.cache_status(), "HEAD Cache-Status %r" % r.header("Cache-Status"))
    check(origin_count(env, mark) == 1, "origin saw %d requests" % origin_count(env, mark))

    cold = unique("headcold")
    t2 = cacheable(cold, size=300)
    with env.client() as c:
        r = c.roundtrip("HEAD", t2)
        check(r.status == 200 and r.header("Content-Length") == "300", "cold HEAD: %r" % r)
        time.sleep(0.1)
        r = c.roundtrip("GET", t2)
    check(r.status == 200 and r.body == pattern(300), "GET after HEAD: %r" % r)
    check("hit" not in r.cache_status(), "GET after a HEAD miss was a hit: %r" %
          r.header("Cache-Status"))
    methods = [e["method"] for e in env.origin.log_for(cold)]
    check(methods == ["HEAD", "GET"], "origin saw %r, expected HEAD then GET" % methods)


# RFC 9110 §14.2, §14.4, §15.3.7, §15.5.17: ranges of a stored 200 are cut
# from the store (206 with Content-Range), an unsatisfiable one is 416, and
# If-Range must match the stored validator strongly.
def test_range_from_store(env):
    mark = unique("range")
    target = cacheable(mark, size=1000, etag="r1")
    store(env, target)
    cases = [("bytes=10-19", 10, 19), ("bytes=990-", 990, 999), ("bytes=-5", 995, 999),
             ("bytes=0-5000", 0, 999)]
    with env.client() as c:
        for spec, first, last in cases:
            r = c.roundtrip("GET", target, [("Range", spec)])
            n = last - first + 1
            check(r.status == 206, "%s: status %d" % (spec, r.status))
            check(r.header("Content-Range") == "bytes %d-%d/1000" % (first, last),
                  "%s: Content-Range %r" % (spec, r.header("Content-Range")))
            check(r.body == pattern(n, first), "%s: body %r" % (spec, r.body[:40]))
            check("hit" in r.cache_status(), "%s: Cache-Status %r" %
                  (spec, r.header("Cache-Status")))
        r = c.roundtrip("GET", target, [("Range", "bytes=5000-6000")])
        check(r.status == 416 and r.header("Content-Range") == "bytes */1000",
              "unsatisfiable range: %r Content-Range %r" % (r, r.header("Content-Range")))
        r = c.roundtrip("GET", target, [("Range", "bytes=0-9"), ("If-Range", '"r1"')])
        check(r.status == 206 and r.body == pattern(10), "If-Range matching: %r" % r)
        r = c.roundtrip("GET", target, [("Range", "bytes=0-9"), ("If-Range", '"other"')])
        check(r.status == 200 and r.body == pattern(1000), "If-Range not matching: %r" % r)
    check(origin_count(env, mark) == 1,
          "origin saw %d requests; ranges must come from the store" % origin_count(env, mark))


# range-offset-limit (1 MiB by default): on a miss, a Range that starts past
# it goes to the origin as it is and its answer is not stored (RFC 9111 §3.3
# lets a cache not store partial content); one that starts within it fetches
# the whole response, without the Range, and stores it.
def test_range_on_a_miss(env):
    far, near = unique("rangefar"), unique("rangenear")
    tfar = cacheable(far, size=3 * 1024 * 1024)
    tnear = cacheable(near, size=3 * 1024 * 1024)
    for spec in ("bytes=2097152-", "bytes=-100"):
        r = H.get(env.freshd.port, tfar, [("Range", spec)])
        check(r.status in (200, 206), "%s: %r" % (spec, r))
        cs = r.cache_status()
        check(cs.get("fwd") == "uri-miss" and cs.get("detail") == "range-offset" and
              "stored" not in cs,
              "%s: Cache-Status %r, expected a miss forwarded as it is" %
              (spec, r.header("Cache-Status")))
    sent = [dict((k.lower(), v) for k, v in e["headers"]).get("range")
            for e in env.origin.log_for(far)]
    check(sent == ["bytes=2097152-", "bytes=-100"],
          "origin saw Range %r, expected the clients' own" % sent)
    check(H.cached(env.freshd.port, tfar) is None, "a forwarded range was stored")
    r = H.get(env.freshd.port, tnear, [("Range", "bytes=1000-1999")])
    check(r.status == 206 and r.body == pattern(1000, 1000),
          "near range on a miss: %r" % r)
    sent = [dict((k.lower(), v) for k, v in e["headers"]).get("range")
            for e in env.origin.log_for(near)]
    check(sent == [None], "origin saw Range %r, expected the whole response asked for" % sent)
    check(H.wait_cached(env.freshd.port, tnear) is not None,
          "the whole response of a near range was not stored")


# RFC 9111 §4.4: a non-error response to an unsafe method invalidates the
# target URI, and same-origin Location / Content-Location.
def test_unsafe_methods_invalidate(env):
    for method in ("POST", "PUT", "DELETE"):
        mark = unique("inv" + method.lower())
        target = cacheable(mark)
        store(env, target)
        with env.client() as c:
            r = c.roundtrip(method, target, body=b"x" if method != "DELETE" else None)
            check(r.status == 200, "%s: %r" % (method, r))
            cs = r.cache_status()
            check(cs is not None and cs.get("fwd") == "method",
                  "%s Cache-Status %r, expected fwd=method" % (method, r.header("Cache-Status")))
            r = c.roundtrip("GET", target)
        check(r.status == 200 and "hit" not in r.cache_status(),
              "GET after %s: Cache-Status %r, expected a miss" %
              (method, r.header("Cache-Status")))
        got = [e["method"] for e in env.origin.log_for(mark)]
        check(got == ["GET", method, "GET"],
              "origin saw %r, expected GET, %s, GET" % (got, method))


def test_error_response_does_not_invalidate(env):
    mark = unique("inverr")
    target = cacheable(mark)
    store(env, target)
    with env.client() as c:
        r = c.roundtrip("POST", target, [("X-Origin-Script", "status=500")], body=b"x")
        check(r.status == 500, "POST answered %r" % r)
        time.sleep(0.1)
        r = c.roundtrip("GET", target)
    check("hit" in r.cache_status(),
          "a 500 to POST invalidated the stored GET (Cache-Status %r)" %
          r.header("Cache-Status"))


def test_location_and_content_location_invalidate(env):
    src = unique("invsrc")
    dst1, dst2, other = unique("invloc"), unique("invcloc"), unique("invother")
    t1, t2, t3 = cacheable(dst1), cacheable(dst2), cacheable(other)
    for t in (t1, t2, t3):
        store(env, t)
    post = "/c/%s?%s" % (src, qs(hdr=["Location: " + t1, "Content-Location: " + t2,
                                      "X-Unrelated: " + t3]))
    with env.client() as c:
        r = c.roundtrip("POST", post, body=b"x")
        check(r.status == 200, "POST: %r" % r)
        for t, mark, want_hit in ((t1, dst1, False), (t2, dst2, False), (t3, other, True)):
            r = c.roundtrip("GET", t)
            check(("hit" in r.cache_status()) == want_hit,
                  "%s after a POST naming %s: Cache-Status %r" %
                  (mark, "it" if not want_hit else "other URLs", r.header("Cache-Status")))


# RFC 9111 §3, §5.2.1.5, §5.2.2.5, §5.2.2.7: no-store (response or request)
# and private responses are never stored by a shared cache.
def test_never_stored(env):
    kinds = [("no-store", [("hdr", "Cache-Control: no-store, max-age=60")], []),
             ("private", [("hdr", "Cache-Control: private, max-age=60")], []),
             ("req-no-store", [("hdr", "Cache-Control: max-age=60")],
              [("Cache-Control", "no-store")])]
    for name, params, req_headers in kinds:
        mark = unique(name)
        target = "/c/%s?%s" % (mark, qs(size=50, m=mark, **dict(params)))
        with env.client() as c:
            for i in range(2):
                r = c.roundtrip("GET", target, req_headers)
                check(r.status == 200 and r.body == pattern(50), "%s #%d: %r" % (name, i, r))
                cs = r.cache_status()
                check(cs is not None and "hit" not in cs and "stored" not in cs,
                      "%s #%d: Cache-Status %r" % (name, i, r.header("Cache-Status")))
                time.sleep(0.05)
        check(H.cached(env.freshd.port, target) is None,
              "%s: an only-if-cached request found it stored" % name)
        check(origin_count(env, mark) == 2,
              "%s: origin saw %d requests for 2 GETs" % (name, origin_count(env, mark)))


# RFC 9211 §2: every response carries Cache-Status; responses through the
# cache also carry Age (RFC 9111 §5.1).
def test_cache_status_on_every_response(env):
    mark = unique("cs")
    target = cacheable(mark)
    with env.client() as c:
        responses = [("miss", c.roundtrip("GET", target))]
    H.wait_cached(env.freshd.port, target)
    with env.client() as c:
        responses += [
            ("hit", c.roundtrip("GET", target)),
            ("head hit", c.roundtrip("HEAD", target)),
            ("post", c.roundtrip("POST", "/c/%s?%s" % (mark, qs(echo=1)), body=b"a")),
            ("uncacheable", c.roundtrip("GET", "/c/%s?%s" % (mark, qs(size=1)))),
            ("404 from origin", c.roundtrip("GET", "/c/%s?%s" % (mark, qs(status=404,
                                                                          size=3)))),
            ("request no-cache", c.roundtrip("GET", target, [("Cache-Control", "no-cache")])),
        ]
    for name, r in responses:
        cs = r.cache_status()
        check(cs is not None and cs["_name"] == "freshd",
              "%s: Cache-Status %r" % (name, r.header("Cache-Status")))
        check(len(r.header_all("Cache-Status")) == 1,
              "%s: %d Cache-Status fields" % (name, len(r.header_all("Cache-Status"))))
        if name != "post":
            check(r.header("Age") is not None and r.header("Age").isdigit(),
                  "%s: Age %r" % (name, r.header("Age")))
    cs = dict(responses)["request no-cache"].cache_status()
    check("hit" not in cs and cs.get("fwd") == "request",
          "no-cache request: Cache-Status %r, expected fwd=request (RFC 9211 §2.2)" %
          dict(responses)["request no-cache"].header("Cache-Status"))


def post_script(target, hdrs, size=50):
    """An X-Origin-Script field: the origin answers the POST with hdrs."""
    return [("X-Origin-Script", qs(size=size, hdr=list(hdrs)))]


# RFC 9110 §9.3.3: a POST response with explicit freshness and a
# Content-Location equal to the POST's URI is the answer to a GET of that
# URI: freshd stores it, and the next GET is a hit the origin never sees.
def test_post_response_reused_for_get(env):
    mark = unique("post")
    target = "/post/%s?%s" % (mark, qs(m=mark, size=50))
    with env.client() as c:
        r = c.roundtrip("POST", target, post_script(target, [
            "Cache-Control: max-age=60", "Content-Location: " + target]), body=b"form=1")
        check(r.status == 200 and r.body == pattern(50), "POST: %r" % r)
        cs = r.cache_status()
        check(cs is not None and cs.get("fwd") == "method" and "stored" in cs,
              "POST Cache-Status %r, expected fwd=method; stored" % r.header("Cache-Status"))
    hit = H.wait_cached(env.freshd.port, target)
    check(hit is not None and hit.body == pattern(50),
          "the POST response was not stored for GETs of %s: %r" % (target, hit))
    r = H.get(env.freshd.port, target)
    check(r.status == 200 and r.body == pattern(50) and "hit" in r.cache_status(),
          "GET after the POST: %r, Cache-Status %r" % (r, r.header("Cache-Status")))
    got = [e["method"] for e in env.origin.log_for(mark)]
    check(got == ["POST"], "origin saw %r, expected the POST only" % got)


# The same rule's conditions: a Content-Location naming another URI, no
# explicit freshness (even with one heuristically usable validator), a
# status other than 200/203, no-store, or Vary: the response is not stored
# and the GET goes to the origin.
def test_post_response_not_reused(env):
    cases = [
        ("other location", 200, lambda t: ["Cache-Control: max-age=60",
                                           "Content-Location: /elsewhere"]),
        ("no freshness", 200, lambda t: ["Content-Location: " + t,
                                         "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT"]),
        ("201", 201, lambda t: ["Cache-Control: max-age=60", "Content-Location: " + t]),
        ("no-store", 200, lambda t: ["Cache-Control: max-age=60, no-store",
                                     "Content-Location: " + t]),
        ("vary", 200, lambda t: ["Cache-Control: max-age=60", "Content-Location: " + t,
                                 "Vary: Accept"]),
    ]
    for name, status, hdrs in cases:
        mark = unique("postno")
        target = "/post/%s?%s" % (mark, qs(m=mark, size=50))
        with env.client() as c:
            script = [("X-Origin-Script", qs(size=50, status=status, hdr=hdrs(target)))]
            r = c.roundtrip("POST", target, script, body=b"form=1")
            check(r.status == status, "%s: POST %r" % (name, r))
        time.sleep(0.2)
        r = H.get(env.freshd.port, target)
        check(r.status == 200 and "hit" not in r.cache_status(),
              "%s: GET after the POST was a hit: Cache-Status %r" %
              (name, r.header("Cache-Status")))
        got = [e["method"] for e in env.origin.log_for(mark)]
        check(got == ["POST", "GET"], "%s: origin saw %r, expected POST, GET" % (name, got))


# The access log's last field is the cache status of the request.
def test_access_log_cache_status(env):
    mark = unique("alog")
    target = cacheable(mark)
    H.get(env.freshd.port, target)
    # The store commits a moment after the response (longer under the
    # sanitizers); the polls that wait for it are logged too, and skipped.
    check(H.wait_cached(env.freshd.port, target) is not None, "not stored")
    polls = len(env.freshd.access_log(mark)) - 1
    H.get(env.freshd.port, target)
    with env.client() as c:
        c.roundtrip("POST", target, body=b"z")
    lines = H.wait_until(lambda: len(env.freshd.access_log(mark)) >= polls + 3 and
                         env.freshd.access_log(mark), 2.0)
    check(lines, "access log lines for %s: %r" % (mark, env.freshd.access_log(mark)))
    got = [(p[2], p[8]) for p in lines[:1] + lines[1 + polls:]]
    check(got == [("GET", "MISS"), ("GET", "HIT"), ("POST", "PASS")],
          "access log (method, cache status) %r, expected GET MISS, GET HIT, POST PASS" % got)


if __name__ == "__main__":
    H.run(globals(), lambda: H.Env("c_basic"))
