"""c_vary: Vary (RFC 9111 §4.1). Each variant of a URL is stored and served
only to requests whose selecting fields match it; Accept-Encoding values
that accept the same codings select the same variant; `Vary: *` is never
served from the cache; concurrent misses for different variants never get
each other's response.

The origin echoes the request it received (echo=1), so a response tells
which request it was made for.
"""

import json
import threading

import harness as H
from harness import check, qs, unique

VARY = "Vary: Accept-Encoding, X-Lang"


def echoed(r, name):
    """The values of request field name in the origin's echo carried by r."""
    e = json.loads(r.body)
    return [v for k, v in e["headers"] if k.lower() == name.lower()]


def test_variants_stored_and_selected(env):
    mark = unique("vary")
    target = "/v?" + qs(echo=1, m=mark, hdr=["Cache-Control: max-age=300", VARY])
    variants = [
        ("gzip", "en"), ("br", "en"), ("gzip, br", "en"), ("gzip", "fr"), (None, "en"),
    ]

    def headers(ae, lang):
        h = [("X-Lang", lang)]
        if ae is not None:
            h.append(("Accept-Encoding", ae))
        return h

    first = {}
    with env.client() as c:
        for ae, lang in variants:
            r = c.roundtrip("GET", target, headers(ae, lang))
            check(r.status == 200, "%s/%s: %r" % (ae, lang, r))
            check("hit" not in (r.cache_status() or {}),
                  "first request for variant %s/%s was a hit (Cache-Status %r): another "
                  "variant was served" % (ae, lang, r.header("Cache-Status")))
            check(echoed(r, "X-Lang") == [lang], "origin got X-Lang %r" % echoed(r, "X-Lang"))
            first[(ae, lang)] = r.body
            check(H.wait_cached(env.freshd.port, target, headers(ae, lang)) is not None,
                  "variant %s/%s not stored" % (ae, lang))
    check(len(env.origin.log_for(mark)) == len(variants),
          "origin saw %d requests for %d variants" %
          (len(env.origin.log_for(mark)), len(variants)))

    with env.client() as c:
        for ae, lang in variants:
            r = c.roundtrip("GET", target, headers(ae, lang))
            check("hit" in (r.cache_status() or {}) and r.body == first[(ae, lang)],
                  "variant %s/%s: Cache-Status %r, body from a request with "
                  "Accept-Encoding %r X-Lang %r" % (ae, lang, r.header("Cache-Status"),
                                                   echoed(r, "Accept-Encoding"),
                                                   echoed(r, "X-Lang")))
            check(r.header("Vary") is not None, "hit without the Vary field")
        # cache_key.c: Accept-Encoding is keyed on the codings it accepts,
        # so the order and spacing of the list do not matter.
        r = c.roundtrip("GET", target, headers("br,gzip", "en"))
        check("hit" in (r.cache_status() or {}) and r.body == first[("gzip, br", "en")],
              "'br,gzip' did not get the 'gzip, br' variant: Cache-Status %r, body for "
              "Accept-Encoding %r" % (r.header("Cache-Status"), echoed(r, "Accept-Encoding")))
    check(len(env.origin.log_for(mark)) == len(variants),
          "stored variants went to the origin again (%d requests)" %
          len(env.origin.log_for(mark)))

    # A combination never seen is a miss, answered for that request.
    with env.client() as c:
        r = c.roundtrip("GET", target, headers("gzip", "de"))
    check("hit" not in (r.cache_status() or {}) and echoed(r, "X-Lang") == ["de"],
          "new variant gzip/de: Cache-Status %r, X-Lang echoed %r" %
          (r.header("Cache-Status"), echoed(r, "X-Lang")))
    check(len(env.origin.log_for(mark)) == len(variants) + 1, "the new variant was not fetched")


# RFC 9111 §4.1: "A stored response with a Vary header field value
# containing a member "*" always fails to match".
def test_vary_star_never_served(env):
    mark = unique("star")
    target = "/v?" + qs(size=10, m=mark, hdr=["Cache-Control: max-age=300", "Vary: *"])
    with env.client() as c:
        for i in range(3):
            r = c.roundtrip("GET", target)
            check(r.status == 200 and "hit" not in (r.cache_status() or {}),
                  "Vary: * request %d: Cache-Status %r" % (i, r.header("Cache-Status")))
    check(H.cached(env.freshd.port, target) is None,
          "only-if-cached got a stored Vary: * response")
    check(len(env.origin.log_for(mark)) == 3,
          "origin saw %d of 3 requests for a Vary: * response" % len(env.origin.log_for(mark)))


# Concurrent misses for different variants of one cold URL: waiters of
# another variant than the fetched one are released and fetch their own.
def test_concurrent_variants_not_mixed(env):
    mark = unique("vcon")
    target = "/v?" + qs(echo=1, delay=300, m=mark, hdr=["Cache-Control: max-age=300", VARY])
    langs = ["en", "fr", "en", "fr", "en", "fr"]
    out = [None] * len(langs)
    barrier = threading.Barrier(len(langs))

    def one(i):
        try:
            with env.client() as c:
                barrier.wait(5)
                out[i] = c.roundtrip("GET", target, [("X-Lang", langs[i]),
                                                     ("Accept-Encoding", "gzip")])
        except Exception as e:      # noqa: BLE001 - reported below
            out[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(langs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    for i, r in enumerate(out):
        check(isinstance(r, H.Response) and r.status == 200, "client %d: %r" % (i, r))
        check(echoed(r, "X-Lang") == [langs[i]],
              "client %d (X-Lang %s) got the response made for X-Lang %r" %
              (i, langs[i], echoed(r, "X-Lang")))
    n = len(env.origin.log_for(mark))
    H.info("6 concurrent misses for 2 variants: %d origin requests" % n)
    check(2 <= n <= 4, "origin saw %d requests for 6 concurrent requests of 2 variants "
          "(expected 2 to 4: one per variant, released waiters each on their own)" % n)


# RFC 9111 §4.1 (normalising by the field's semantics) and RFC 9110
# §12.5.4: a variant stored with Vary: Accept-Language and Content-Language:
# de serves a later request whose most preferred language is de, however it
# lists the others; a request that prefers another language, or none above
# the rest, goes to the origin.
def test_variant_selected_by_content_language(env):
    mark = unique("lang")
    target = "/v?" + qs(echo=1, m=mark, hdr=["Cache-Control: max-age=300",
                                             "Vary: Accept-Language",
                                             "Content-Language: de"])
    r = H.get(env.freshd.port, target, [("Accept-Language", "en, de")])
    check(r.status == 200, "fill: %r" % r)
    check(H.wait_cached(env.freshd.port, target, [("Accept-Language", "en, de")])
          is not None, "the de variant was not stored")
    stored = r.body
    for al, hit in [("fr;q=0.5, de;q=1.0", True), ("de", True), ("de-AT;q=0.1, de", True),
                    ("en;q=0.9, de;q=0.8", False), ("de, fr", False), ("*", False)]:
        before = len(env.origin.log_for(mark))
        r = H.get(env.freshd.port, target, [("Accept-Language", al)])
        check(r.status == 200, "%s: %r" % (al, r))
        got_hit = "hit" in (r.cache_status() or {})
        check(got_hit == hit, "Accept-Language %r: Cache-Status %r, expected %s" %
              (al, r.header("Cache-Status"), "a hit" if hit else "a miss"))
        if hit:
            check(r.body == stored and len(env.origin.log_for(mark)) == before,
                  "Accept-Language %r: not the stored de variant" % al)
        else:
            check(echoed(r, "Accept-Language") == [al],
                  "Accept-Language %r: origin got %r" % (al, echoed(r, "Accept-Language")))


if __name__ == "__main__":
    H.run(globals(), lambda: H.Env("c_vary"))
