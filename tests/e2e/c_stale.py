"""c_stale: what freshd does once a stored response is stale (RFC 9111
§4.2.4, §4.3, RFC 5861): revalidation with ETag and Last-Modified (a 304
freshens the stored response), stale-while-revalidate (served at once, one
background refresh), stale-if-error (a stale response instead of a 500 or an
unreachable origin, which by default needs no directive), must-revalidate and
s-maxage forbidding both, and a HEAD's 200 freshening or dropping the stored
GET response (RFC 9111 §4.3.5).

Responses live max-age=1; freshness is counted in whole seconds, so 1.2 s
after the response it is stale for sure. The origin's later behaviour for a
URL (slower, failing) is set with an origin rule (harness.Origin.rule), since
the URL, the cache key, must stay the same.

Only-if-cached probes (harness.wait_cached) are not used here: a max-age=1
response may turn stale between two probes, and then they never succeed.
"""

import email.utils
import time

import harness as H
from harness import check, pattern, qs, unique

STALE_WAIT = 1.2


def isolated(env, name):
    """An origin of its own and a freshd in front of it (to take it down)."""
    o = H.Origin(env.tmp, name + "-origin")
    f = env.new_freshd(name, backend_port=o.port)
    return o, f


def timed_get(port, target, headers=None):
    t0 = time.monotonic()
    r = H.get(port, target, headers)
    return r, time.monotonic() - t0


def cs_of(r):
    return r.cache_status() or {}


def swr_setup(env, mark):
    """Stores a max-age=1, stale-while-revalidate=30 response, makes the
    origin slow (2 s) with a new version v2, and waits until it is stale."""
    target = "/swr?" + qs(size=1000, etag="v1", m=mark,
                          hdr="Cache-Control: max-age=1, stale-while-revalidate=30")
    r = H.get(env.freshd.port, target)
    check(r.status == 200 and r.header("ETag") == '"v1"', "miss: %r" % r)
    env.origin.rule(mark, qs(size=1000, etag="v2", delay=2000,
                             hdr="Cache-Control: max-age=60, stale-while-revalidate=30"))
    time.sleep(STALE_WAIT)
    return target


def check_stale_fast(r, lat, what):
    check(r.status == 200 and r.body == pattern(1000) and r.header("ETag") == '"v1"',
          "%s: %r ETag %r, expected the stored v1" % (what, r, r.header("ETag")))
    cs = cs_of(r)
    check("hit" in cs and int(cs.get("ttl", "1")) <= 0,
          "%s: Cache-Status %r, expected hit with ttl <= 0" % (what, r.header("Cache-Status")))
    check(lat < 0.5, "%s took %.0f ms (expected < 500 ms)" % (what, lat * 1000))


# RFC 5861 §3: within stale-while-revalidate, the stale response is served
# at once, a background request refreshes it, and the next request after
# the refresh gets the new response, fresh, from the store.
def test_stale_while_revalidate(env):
    mark = unique("swr")
    target = swr_setup(env, mark)
    r, lat = timed_get(env.freshd.port, target)
    H.info("stale-while-revalidate: stale response in %.1f ms (origin delay 2000 ms)" %
           (lat * 1000))
    check_stale_fast(r, lat, "stale request")
    log = H.wait_until(lambda: len(env.origin.log_for(mark)) >= 2 and
                       env.origin.log_for(mark), 1.0)
    check(log, "no background request reached the origin within 1 s")
    check(len(log) == 2 and log[1]["method"] == "GET",
          "origin log after one stale request: %r" % [e["method"] for e in log])
    inm = [v for k, v in log[1]["headers"] if k.lower() == "if-none-match"]
    check(inm == ['"v1"'], "background revalidation sent If-None-Match %r, expected "
          "the stored ETag (RFC 9111 §4.3.1)" % inm)
    done = H.wait_until(lambda: env.origin.log_for(mark)[1]["done_ms"] > 0, 4.0)
    check(done, "the origin never finished the background response")
    # The store commits the new object a little later (longer on a loaded
    # machine); until then the old one is served stale and no new refresh
    # starts (the origin count below checks that).
    H.wait_until(lambda: H.get(env.freshd.port, target).header("ETag") == '"v2"', 5.0)
    r = H.get(env.freshd.port, target)
    cs = cs_of(r)
    check(r.status == 200 and r.header("ETag") == '"v2"',
          "after the refresh: %r ETag %r, expected the new v2" % (r, r.header("ETag")))
    check("hit" in cs and int(cs.get("ttl", "0")) > 50,
          "after the refresh: Cache-Status %r, expected a fresh hit" % r.header("Cache-Status"))
    check(len(env.origin.log_for(mark)) == 2,
          "origin saw %d requests after the refresh (expected 2)" %
          len(env.origin.log_for(mark)))


# RFC 5861 §3 ("a background request"): more stale requests while the
# refresh runs are served stale too, and start no other origin request.
def test_one_background_refresh(env):
    mark = unique("swrone")
    target = swr_setup(env, mark)
    lats = []
    for i in range(5):
        r, lat = timed_get(env.freshd.port, target)
        check_stale_fast(r, lat, "stale request %d" % (i + 1))
        lats.append(lat)
        time.sleep(0.1)
    time.sleep(0.2)
    log = env.origin.log_for(mark)
    H.info("5 stale requests during one refresh: max %.1f ms, origin requests %d "
           "(1 fill + background)" % (max(lats) * 1000, len(log)))
    check(len(log) == 2, "5 stale requests within 0.7 s started %d background requests to "
          "the origin (expected 1): targets %s" %
          (len(log) - 1, ["conn %d at +%.0f ms" % (e["conn"], e["t_ms"] - log[1]["t_ms"])
                          for e in log[1:]]))


def revalidate(env, mark, target, validator_field, validator_value, rule):
    r = H.get(env.freshd.port, target)
    check(r.status == 200, "miss: %r" % r)
    env.origin.rule(mark, rule)
    time.sleep(STALE_WAIT)
    r = H.get(env.freshd.port, target)
    check(r.status == 200 and r.body == pattern(1000),
          "revalidated response: %r (expected the stored 1000-byte body)" % r)
    cs = cs_of(r)
    check(cs.get("fwd") == "stale" and cs.get("fwd-status") == "304",
          "revalidation Cache-Status %r, expected fwd=stale; fwd-status=304" %
          r.header("Cache-Status"))
    check(r.header("X-Revalidated") == "yes",
          "the 304's fields were not merged into the response (X-Revalidated %r, "
          "RFC 9111 §4.3.4)" % r.header("X-Revalidated"))
    log = env.origin.log_for(mark)
    check(len(log) == 2, "origin saw %d requests (expected 2)" % len(log))
    sent = [v for k, v in log[1]["headers"] if k.lower() == validator_field.lower()]
    check(sent == [validator_value], "revalidation sent %s %r, expected %r" %
          (validator_field, sent, validator_value))
    time.sleep(0.2)     # the freshened headers are written asynchronously
    r = H.get(env.freshd.port, target)
    cs = cs_of(r)
    check("hit" in cs and int(cs.get("ttl", "0")) > 50 and
          r.header("X-Revalidated") == "yes" and r.body == pattern(1000),
          "after the 304: Cache-Status %r, X-Revalidated %r: expected a fresh hit with "
          "the merged fields" % (r.header("Cache-Status"), r.header("X-Revalidated")))
    check(len(env.origin.log_for(mark)) == 2, "the freshened response went to the origin")


# RFC 9111 §4.3.1, §4.3.4: a stale response with an ETag is revalidated
# with If-None-Match; the origin's 304 freshens it.
def test_revalidate_etag_304(env):
    mark = unique("rvetag")
    target = "/rv?" + qs(size=1000, etag="v1", m=mark, hdr="Cache-Control: max-age=1")
    revalidate(env, mark, target, "If-None-Match", '"v1"',
               qs(size=1000, etag="v1", hdr=["Cache-Control: max-age=60",
                                             "X-Revalidated: yes"]))


# The same with Last-Modified and If-Modified-Since.
def test_revalidate_last_modified_304(env):
    mark = unique("rvlm")
    lastmod = int(time.time()) - 86400
    target = "/rv?" + qs(size=1000, lastmod=lastmod, m=mark, hdr="Cache-Control: max-age=1")
    revalidate(env, mark, target, "If-Modified-Since",
               email.utils.formatdate(lastmod, usegmt=True),
               qs(size=1000, lastmod=lastmod, hdr=["Cache-Control: max-age=60",
                                                   "X-Revalidated: yes"]))


# RFC 5861 §4: within stale-if-error, an origin's 500 is replaced by the
# stale response.
def test_stale_if_error_on_500(env):
    mark = unique("sie500")
    target = "/sie?" + qs(size=1000, m=mark, hdr="Cache-Control: max-age=1, stale-if-error=60")
    r = H.get(env.freshd.port, target)
    check(r.status == 200, "miss: %r" % r)
    env.origin.rule(mark, qs(status=500, size=10))
    time.sleep(STALE_WAIT)
    r = H.get(env.freshd.port, target)
    check(r.status == 200 and r.body == pattern(1000),
          "origin answering 500: client got %r, expected the stale 200" % r)
    check("hit" in cs_of(r), "Cache-Status %r" % r.header("Cache-Status"))
    check(len(env.origin.log_for(mark)) == 2,
          "origin saw %d requests; the stale response must be tried first" %
          len(env.origin.log_for(mark)))


# RFC 5861 §4: the same when the origin cannot be reached at all.
def test_stale_if_error_origin_down(env):
    o, f = isolated(env, "down")
    try:
        mark = unique("siedown")
        target = "/sie?" + qs(size=1000, m=mark,
                              hdr="Cache-Control: max-age=1, stale-if-error=60")
        r = H.get(f.port, target)
        check(r.status == 200, "miss: %r" % r)
        o.stop()
        time.sleep(STALE_WAIT)
        r, lat = timed_get(f.port, target)
        H.info("stale-if-error with the origin down: %d in %.1f ms" % (r.status, lat * 1000))
        check(r.status == 200 and r.body == pattern(1000),
              "origin down: client got %r, expected the stale 200" % r)
        check("hit" in cs_of(r), "Cache-Status %r" % r.header("Cache-Status"))
    finally:
        o.stop()
        f.stop()


# RFC 9111 §4.2.4, §5.2.2.2: must-revalidate forbids serving stale, even
# with stale-if-error: the origin's 5xx, or 504 when it is unreachable.
def test_must_revalidate_never_stale(env):
    o, f = isolated(env, "mustrv")
    try:
        cc = "Cache-Control: max-age=1, stale-if-error=60, must-revalidate"
        m500, mdown = unique("mr500"), unique("mrdown")
        t500 = "/mr?" + qs(size=1000, m=m500, hdr=cc)
        tdown = "/mr?" + qs(size=1000, m=mdown, hdr=cc)
        check(H.get(env.freshd.port, t500).status == 200, "miss")
        check(H.get(f.port, tdown).status == 200, "miss")
        env.origin.rule(m500, qs(status=503, size=10))
        o.stop()
        time.sleep(STALE_WAIT)
        r = H.get(env.freshd.port, t500)
        check(r.status == 503 and r.body == pattern(10),
              "must-revalidate, origin answering 503: client got %r, expected the 503" % r)
        check(cs_of(r).get("fwd") == "stale",
              "Cache-Status %r: expected fwd=stale (a stored response was revalidated)" %
              r.header("Cache-Status"))
        r = H.get(f.port, tdown)
        check(r.status == 504,
              "must-revalidate, origin down: client got %r, expected 504" % r)
        check(r.body != pattern(1000), "the stale body was served")
    finally:
        o.stop()
        f.stop()


# RFC 9111 §4.2.4: a cache disconnected from the origin may serve stale;
# freshd does so for a day by default (stale-if-unreachable), but not with
# s-maxage (§5.2.2.10: proxy-revalidate for a shared cache), and not at all
# with stale-if-unreachable 0.
def test_stale_when_unreachable_by_default(env):
    o, f = isolated(env, "unreach")
    o0 = H.Origin(env.tmp, "unreach0-origin")
    f0 = env.new_freshd("unreach0", backend_port=o0.port,
                        cache={"stale-if-unreachable": "0"})
    try:
        plain = "/ur?" + qs(size=1000, m=unique("urplain"), hdr="Cache-Control: max-age=1")
        smax = "/ur?" + qs(size=1000, m=unique("ursmax"), hdr="Cache-Control: s-maxage=1")
        for port, target in ((f.port, plain), (f.port, smax), (f0.port, plain)):
            check(H.get(port, target).status == 200, "miss of %s" % target)
        o.stop()
        o0.stop()
        time.sleep(STALE_WAIT)
        r = H.get(f.port, plain)
        check(r.status == 200 and r.body == pattern(1000),
              "origin down, no directive: client got %r, expected the stale 200" % r)
        cs = cs_of(r)
        check("hit" in cs and cs.get("detail") == "stale-if-error" and
              int(cs.get("ttl", "1")) <= 0,
              "Cache-Status %r: expected a stale hit" % r.header("Cache-Status"))
        r = H.get(f.port, smax)
        check(r.status == 504 and r.body != pattern(1000),
              "origin down, s-maxage: client got %r, expected 504" % r)
        r = H.get(f0.port, plain)
        check(r.status == 504 and r.body != pattern(1000),
              "origin down, stale-if-unreachable 0: client got %r, expected 504" % r)
    finally:
        o.stop()
        o0.stop()
        f.stop()
        f0.stop()


def head_revalidation(env, mark, later):
    """Stores a max-age=1 GET of 1000 bytes without validators, sets the
    origin's next answer (later), waits until stale and sends a HEAD; returns
    the target and the HEAD's response."""
    target = "/hd?" + qs(size=1000, m=mark, hdr=["Cache-Control: max-age=1", "X-V: 1"])
    check(H.get(env.freshd.port, target).status == 200, "miss")
    env.origin.rule(mark, later)
    time.sleep(STALE_WAIT)
    r = H.get(env.freshd.port, target, method="HEAD")
    check(r.status == 200 and r.body == b"", "HEAD: %r" % r)
    methods = [e["method"] for e in env.origin.log_for(mark)]
    check(methods == ["GET", "HEAD"],
          "origin saw %r: the stale response's HEAD goes to the origin" % methods)
    return target, r


# RFC 9111 §4.3.5: a 200 to HEAD with the stored length (and no differing
# validator) freshens the stored GET response with its fields.
def test_head_200_freshens_stored_get(env):
    mark = unique("headfresh")
    target, r = head_revalidation(env, mark, qs(size=1000, hdr=[
        "Cache-Control: max-age=60", "X-V: 2"]))
    check(r.header("X-V") == "2" and r.header("Content-Length") == "1000",
          "HEAD response X-V %r, Content-Length %r: expected the freshened fields and "
          "the stored length" % (r.header("X-V"), r.header("Content-Length")))
    time.sleep(0.2)     # the freshened headers are written asynchronously
    r = H.get(env.freshd.port, target)
    cs = cs_of(r)
    check(r.status == 200 and r.body == pattern(1000) and r.header("X-V") == "2" and
          "hit" in cs and int(cs.get("ttl", "0")) > 50,
          "GET after the HEAD: %r X-V %r Cache-Status %r: expected a fresh hit with the "
          "HEAD's fields" % (r, r.header("X-V"), r.header("Cache-Status")))
    check(len(env.origin.log_for(mark)) == 2, "the freshened response went to the origin")


# RFC 9111 §4.3.5: a 200 to HEAD that describes another representation (a
# different length here) leaves the stored GET response unusable.
def test_head_200_changed_drops_stored_get(env):
    mark = unique("headchg")
    target, r = head_revalidation(env, mark, qs(size=2000, hdr=[
        "Cache-Control: max-age=60", "X-V: 2"]))
    check(r.header("Content-Length") == "2000",
          "HEAD response Content-Length %r: expected the origin's" %
          r.header("Content-Length"))
    r = H.get(env.freshd.port, target)
    check(r.status == 200 and r.body == pattern(2000) and r.header("X-V") == "2",
          "GET after a changed HEAD: %r X-V %r, expected the origin's new 2000 bytes" %
          (r, r.header("X-V")))
    methods = [e["method"] for e in env.origin.log_for(mark)]
    check(methods == ["GET", "HEAD", "GET"],
          "origin saw %r: the changed response must be fetched again" % methods)
    warned = [line for line in env.freshd.stderr_text().splitlines()
              if "could not invalidate" in line and mark in line]
    check(not warned, "the invalidation worked, yet freshd warned: %r" % warned)


# RFC 9111 §4.3.5: a stored error is out of date once the origin answers a
# HEAD with 200, whatever the validators say (here: none on either side).
def test_head_200_drops_stored_404(env):
    mark = unique("head404")
    target = "/h4?" + qs(status=404, size=20, m=mark, hdr="Cache-Control: max-age=1")
    check(H.get(env.freshd.port, target).status == 404, "miss")
    check(H.wait_cached(env.freshd.port, target) is not None, "the 404 was not stored")
    env.origin.rule(mark, qs(size=1000, chunked=1, hdr="Cache-Control: max-age=60"))
    time.sleep(STALE_WAIT)
    r = H.get(env.freshd.port, target, method="HEAD")
    check(r.status == 200, "HEAD: the origin answered 200, the client got %r" % r)
    r = H.get(env.freshd.port, target)
    check(r.status == 200 and r.body == pattern(1000),
          "GET after the HEAD's 200: %r, expected the origin's 200, not the stored 404" % r)


# RFC 9111 §3, §5.2.2.7: a revalidation answer that may not be stored (here
# private, to a client with a cookie) answers that client, but does not
# freshen the shared stored response: the next client's request goes to the
# origin again instead of being a hit on fields meant for another.
def test_private_revalidation_answer_is_not_shared(env):
    for method, etag in (("HEAD", None), ("GET", "p1")):
        mark = unique("rvpriv" + method.lower())
        first = {"size": 1000, "m": mark, "hdr": "Cache-Control: max-age=1"}
        later = {"size": 1000, "hdr": ["Cache-Control: private, max-age=60", "X-User: alice"]}
        if etag:
            first["etag"] = later["etag"] = etag
        target = "/rp?" + qs(**first)
        check(H.get(env.freshd.port, target).status == 200, "miss")
        check(H.wait_cached(env.freshd.port, target) is not None, "not stored")
        env.origin.rule(mark, qs(**later))
        time.sleep(STALE_WAIT)
        r = H.get(env.freshd.port, target, [("Cookie", "u=alice")], method=method)
        check(r.status == 200 and r.header("X-User") == "alice",
              "%s revalidation by alice: %r X-User %r" % (method, r, r.header("X-User")))
        check("stored" not in cs_of(r),
              "%s revalidation: Cache-Status %r says stored, but nothing was (RFC 9211 "
              "§2.6)" % (method, r.header("Cache-Status")))
        time.sleep(0.2)
        r = H.get(env.freshd.port, target)
        check("hit" not in cs_of(r),
              "after a private answer to %s, another client got a hit: Cache-Status %r "
              "X-User %r" % (method, r.header("Cache-Status"), r.header("X-User")))
        check(len(env.origin.log_for(mark)) == 3,
              "origin saw %d requests, expected 3 (miss, %s, the next client's)" %
              (len(env.origin.log_for(mark)), method))


if __name__ == "__main__":
    H.run(globals(), lambda: H.Env("c_stale"))
