"""r_review: regression tests for bugs found in a code review, one test per
bug: a close-delimited body cut by a reset stored as complete, the config
freed under a background refresh by a reload, a request queued behind
pool-max waiting forever, the first-byte timeout cutting a slow upload, a
stored 204 served with Content-Length, a client's half-close truncating its
response, a 304 turning a stored 404 into a 200, responses without Date,
and a request body's read timeout left armed after its response.

Each test sets up the situation that went wrong and checks the outcome the
fix guarantees, so it fails on the code before the fix. The reload test (a
use-after-free) fails reliably only under AddressSanitizer: it checks its
own freshd's stderr for a sanitizer report, besides the harness's check of
every freshd at the end of the file.

The main freshd has first-byte-timeout 1s (the slow-upload test); tests
that need another backend or a process of their own start one and stop it.
"""

import email.utils
import signal
import socket
import threading
import time

import harness as H
from harness import check, pattern, qs, unique


def fields_of(r):
    return [k for k, _ in r.headers]


def date_ok(r, what, not_before, not_after):
    """Checks r has one valid HTTP-date within [not_before - 2, not_after + 2]."""
    dates = r.header_all("Date")
    check(len(dates) == 1, "%s: Date fields %r, want exactly one (fields %r)" %
          (what, dates, fields_of(r)))
    try:
        t = email.utils.parsedate_to_datetime(dates[0]).timestamp()
    except (TypeError, ValueError):
        t = None
    check(t is not None, "%s: Date %r is not an HTTP-date" % (what, dates[0]))
    check(not_before - 2 <= t <= not_after + 2,
          "%s: Date %r is %.0f s away from the time of the request" %
          (what, dates[0], t - not_after))


def etag_of(port, target):
    """The ETag of a GET of target, or None (also when freshd is gone)."""
    try:
        return H.get(port, target).header("ETag")
    except (H.Closed, OSError):
        return None


# RFC 9112 §8, RFC 9111 §3.3: a close-delimited body ended by a reset, not a
# clean close, is incomplete: the client must be able to tell (no last
# chunk) and it must not be stored as a complete response.
def test_reset_close_delimited_body_not_stored(env):
    target = "/rst?" + qs(size=200000, nolength=1, reset_after=1000, u=unique("rst"),
                          hdr="Cache-Control: max-age=600")
    with env.client() as c:
        c.request("GET", target)
        try:
            r = c.read_response()
        except H.Closed:
            r = None
    if r is not None:
        check(r.status == 200, "status %d for a body cut by a reset" % r.status)
        check(not r.complete,
              "origin reset its close-delimited body after 1000 of 200000 bytes, yet the "
              "client got a complete %s-framed body of %d bytes" % (r.framing, len(r.body)))
        check(r.framing != "close", "close-delimited to an HTTP/1.1 client: cannot be "
              "told from a complete body")
        check(r.body == pattern(len(r.body)), "the bytes that did arrive differ")
    stored = H.wait_cached(env.freshd.port, target, timeout=1.0)
    check(stored is None, "the truncated body was stored: only-if-cached got %r (%s)" %
          (stored, stored.header("Cache-Status") if stored else ""))


# A reload (SIGHUP) frees the old config once nothing holds it; a background
# refresh (RFC 5861 §3 stale-while-revalidate) whose client is gone must
# still hold it until its response is stored.
def test_reload_during_background_refresh(env):
    f = env.new_freshd("reload")
    mark = unique("hup")
    swr = "Cache-Control: max-age=1, stale-while-revalidate=60"
    target = "/hup?" + qs(size=100, etag="v1", m=mark, hdr=swr)
    r = H.get(f.port, target)
    check(r.status == 200 and r.body == pattern(100), "miss: %r" % r)
    env.origin.rule(mark, qs(size=200, etag="v2", delay=1500, hdr=swr))
    time.sleep(1.2)
    r = H.get(f.port, target, [("Connection", "close")])
    check(r.status == 200 and r.header("ETag") == '"v1"' and "hit" in (r.cache_status() or {}),
          "stale request: %r ETag %r Cache-Status %r, want the stored v1" %
          (r, r.header("ETag"), r.header("Cache-Status")))
    time.sleep(0.2)
    f.signal(signal.SIGHUP)
    done = H.wait_until(lambda: not f.alive() or
                        len([e for e in env.origin.log_for(mark) if e["done_ms"]]) >= 2, 5.0)
    check(done and f.alive(), "freshd exited (status %s) while the background refresh "
          "ran across a reload" % f.proc.poll())
    fresh = H.wait_until(lambda: etag_of(f.port, target) == '"v2"', 2.0, 0.05)
    check(fresh, "the refreshed v2 was not served after the background refresh "
          "(freshd alive: %s)" % f.alive())
    status = f.stop()
    text = f.stderr_text()
    found = [text.find(m) for m in H.SANITIZER_MARKS if m in text]
    check(not found, "sanitizer report after the reload: %s" % text[min(found or [0]):][:600])
    check(status == 0, "freshd exited with status %s after SIGTERM" % status)


# RFC 9110 §15.6.5: with pool-max 1 and a connect that hangs, the request
# queued behind it gets a 504 after connect-timeout, not silence forever.
def test_request_queued_behind_pool_max_times_out(env):
    blackhole = socket.socket()
    fillers = []
    clients = []
    f = None
    try:
        # A listener that never accepts, its backlog full: connects hang.
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(0)
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(blackhole.getsockname())
            except BlockingIOError:
                pass
            fillers.append(s)
        time.sleep(0.2)
        f = env.new_freshd("poolmax", backend_port=blackhole.getsockname()[1],
                           backend={"pool-max": 1, "connect-timeout": "1s"})
        t0 = time.monotonic()
        for name in ("a", "b"):
            c = H.Client(f.port, timeout=6)
            clients.append(c)
            c.request("GET", "/q%s?%s" % (name, qs(u=unique("pool"))))
            time.sleep(0.1)
        for name, c in zip(("first", "queued"), clients):
            try:
                r = c.read_response()
            except (TimeoutError, H.Closed) as e:
                r = e
            elapsed = time.monotonic() - t0
            check(isinstance(r, H.Response) and r.status == 504,
                  "%s request behind a hanging connect: %r after %.1f s, want 504" %
                  (name, r, elapsed))
            check(elapsed < 4.0, "%s request answered after %.1f s with connect-timeout 1s"
                  % (name, elapsed))
    finally:
        for s in clients + fillers + [blackhole]:
            s.close()
        if f is not None:
            f.stop()


# first-byte-timeout counts from the end of the request: a request body
# that takes longer than it to upload is not answered 504.
def test_slow_upload_not_cut_by_first_byte_timeout(env):
    mark = unique("up")
    with env.client() as c:
        c.send(b"POST /up?echo=1&m=" + mark.encode() +
               b" HTTP/1.1\r\nHost: freshd.test\r\nContent-Length: 30\r\n\r\n")
        t0 = time.monotonic()
        for _ in range(3):
            time.sleep(0.6)
            c.send(b"0123456789")
        r = c.read_response("POST")
        elapsed = time.monotonic() - t0
    check(r.status == 200, "a 30-byte upload taking 1.8 s (first-byte-timeout 1s) got %d "
          "after %.1f s, want 200" % (r.status, elapsed))
    log = env.origin.log_for(mark)
    check(len(log) == 1 and log[0]["complete"] and log[0]["body_length"] == 30,
          "origin got %r, want one complete 30-byte body" %
          [(e["complete"], e["body_length"]) for e in log])


# RFC 9110 §8.6, §15.3.5: a 204 has no content and never a Content-Length,
# also when it is served from the store.
def test_stored_204_has_no_content_length(env):
    target = "/nc?" + qs(status=204, u=unique("nc"), hdr="Cache-Control: max-age=600")
    r = H.get(env.freshd.port, target)
    check(r.status == 204 and r.header("Content-Length") is None,
          "miss: %r fields %r" % (r, r.headers))
    check(H.wait_cached(env.freshd.port, target) is not None, "the 204 was not stored")
    with env.client() as c:
        r = c.roundtrip("GET", target)
        check(r.status == 204 and "hit" in (r.cache_status() or {}),
              "second request: %r Cache-Status %r, want a stored 204" %
              (r, r.header("Cache-Status")))
        check(r.header("Content-Length") is None,
              "stored 204 served with Content-Length %r" % r.header("Content-Length"))
        after = c.roundtrip("GET", "/after?" + qs(size=7, u=unique()))
        check(after.status == 200 and after.body == pattern(7),
              "request after the stored 204 on the same connection: %r" % after)


def half_closed_get(port, target):
    """Sends GET target, shuts down the sending side at once, then reads
    until the end, slower than freshd can send (64 KiB every 5 ms), so that
    freshd still has response bytes queued when it sees the half-close;
    returns (status line, Content-Length values, body)."""
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.settimeout(5)
        s.sendall(H.build_request("GET", target))
        s.shutdown(socket.SHUT_WR)
        out = bytearray()
        while True:
            try:
                d = s.recv(65536)
            except TimeoutError:
                check(False, "no end of the response within 5 s (%d bytes so far)" % len(out))
            if not d:
                break
            out += d
            time.sleep(0.005)
    finally:
        s.close()
    head, _, body = bytes(out).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    cl = [ln.split(":", 1)[1].strip() for ln in lines[1:]
          if ln.lower().startswith("content-length:")]
    return lines[0], cl, body


# RFC 9112 §9.6: a client that half-closes after its request still gets the
# whole response (passed through, and from the store), then the close.
def test_half_close_after_request_gets_whole_response(env):
    size = 8000000
    mark = unique("hc")
    pass_target = "/hc?" + qs(size=size, m=mark, hdr="Cache-Control: no-store")
    hit_target = "/hc?" + qs(size=size, m=mark, hdr="Cache-Control: max-age=600")
    r = H.get(env.freshd.port, hit_target)
    check(r.status == 200 and len(r.body) == size, "filling the store: %r" % r)
    check(H.wait_cached(env.freshd.port, hit_target) is not None, "3 MB object not stored")
    for what, target in (("passed through", pass_target), ("from the store", hit_target)):
        status, cl, body = half_closed_get(env.freshd.port, target)
        check(status.split(" ")[1:2] == ["200"] and cl == [str(size)],
              "%s: %r Content-Length %r" % (what, status, cl))
        check(len(body) == size and body == pattern(size),
              "%s: half-closed client got %d of %d body bytes%s" %
              (what, len(body), size, "" if len(body) != size else " (differing)"))


def fresh_from_store(port, target):
    """The stored response for target if it is fresh (Cache-Status hit with
    ttl > 0), else None."""
    r = H.cached(port, target)
    cs = (r.cache_status() or {}) if r is not None else {}
    ttl = str(cs.get("ttl", ""))
    return r if "hit" in cs and ttl.isdigit() and int(ttl) > 0 else None


# RFC 9111 §4.3.4: a 304 updates the stored header fields; the stored
# status code (here 404) stays what it was.
def test_revalidated_404_keeps_its_status(env):
    mark = unique("nf")
    target = "/nf?" + qs(status=404, size=9, etag="e1", m=mark, hdr="Cache-Control: max-age=1")
    r = H.get(env.freshd.port, target)
    check(r.status == 404 and r.body == pattern(9), "miss: %r" % r)
    env.origin.rule(mark, qs(status=404, size=9, etag="e1", hdr="Cache-Control: max-age=60"))
    time.sleep(1.2)
    r = H.get(env.freshd.port, target)
    check(r.status == 404 and r.body == pattern(9),
          "revalidated: %r (Cache-Status %r), want the stored 404" %
          (r, r.header("Cache-Status")))
    log = env.origin.log_for(mark)
    check(len(log) == 2 and ["If-None-Match", '"e1"'] in log[1]["headers"],
          "origin saw %d requests, want the miss and one conditional GET: %r" %
          (len(log), [e["headers"] for e in log[1:]]))
    # The 304 made it fresh for 60 s: from now on it is served from the store.
    hit = H.wait_until(lambda: fresh_from_store(env.freshd.port, target), 2.0)
    check(hit is not None, "the 304 (max-age=60) did not freshen the stored response")
    check(hit.status == 404 and hit.body == pattern(9),
          "freshened stored response: %r, want the 404" % hit)


# RFC 9110 §6.6.1: a recipient with a clock adds Date to a response that
# has none, forwarded or stored.
def test_date_added_when_origin_sends_none(env):
    for cc in (None, "max-age=60"):
        params = dict(size=5, nodate=1, u=unique("nd"))
        if cc:
            params["hdr"] = "Cache-Control: " + cc
        target = "/nd?" + qs(**params)
        t0 = time.time()
        r = H.get(env.freshd.port, target)
        check(r.status == 200 and r.body == pattern(5), "%r" % r)
        date_ok(r, "forwarded (%s)" % (cc or "no Cache-Control"), t0, time.time())
        if cc:
            hit = H.wait_cached(env.freshd.port, target)
            check(hit is not None, "the max-age=60 response was not stored")
            date_ok(hit, "from the store", t0, time.time())


def tcp_state(local_port, remote_port):
    """The TCP state (hex, as in /proc/net/tcp) of the IPv4 socket with these ports."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == local_port and \
                    int(fields[2].split(":")[1], 16) == remote_port:
                return fields[3]
    return None


# idle-timeout must not close a keep-alive connection whose last response is
# still being sent: here its tail sits in freshd's output buffer while the
# client pauses reading for longer than idle-timeout.
def test_idle_timeout_waits_for_response_tail(env):
    f = env.new_freshd("idle1", limits={"idle-timeout": "1s"})
    size = 8000000
    mark = unique("tail")
    target = "/tail?" + qs(size=size, m=mark, hdr="Cache-Control: no-store")
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262144)
        s.settimeout(5)
        s.connect(("127.0.0.1", f.port))
        s.sendall(H.build_request("GET", target))
        out = bytearray()
        # Quickly through the first 3 MB, then slower than freshd can send
        # (so its output buffer stays full) until it logs the response done.
        while not f.access_log(mark):
            d = s.recv(65536 if len(out) < 3000000 else 16384)
            check(d, "connection ended after %d bytes, before the response was done" % len(out))
            out += d
            if len(out) >= 3000000:
                time.sleep(0.01)
        pending = len(out)
        time.sleep(1.5)
        state = tcp_state(f.port, s.getsockname()[1])
        while True:
            try:
                d = s.recv(262144)
            except TimeoutError:
                check(False, "no end of the response within 5 s (%d bytes so far)" % len(out))
            if not d:
                break
            out += d
    finally:
        s.close()
    head, _, body = bytes(out).partition(b"\r\n\r\n")
    H.info("response done after %d bytes read; got %d of %d body bytes" %
           (pending, len(body), size))
    check(state == "01", "freshd's end of the connection is in TCP state %s (01 = "
          "ESTABLISHED, 04 = FIN-WAIT-1) after 1.5 s > idle-timeout while %d bytes of its "
          "response were still undelivered" % (state, size + len(head) + 4 - pending))
    check(len(body) == size and body == pattern(size),
          "client paused 1.5 s (idle-timeout 1s) after freshd had queued the whole "
          "response: got %d of %d body bytes" % (len(body), size))
    f.stop()


# The first-byte timeout bounds the whole response head: an origin that
# sends its head one byte at a time (each byte restarting a read timeout)
# still gets the client a 504 at first-byte-timeout.
def test_dribbled_head_times_out(env):
    import threading

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    stop = threading.Event()

    def dribble():
        ls.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            c.settimeout(5)
            try:
                c.recv(65536)
                for b in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60:
                    if stop.is_set():
                        break
                    c.send(bytes([b]))
                    time.sleep(0.1)
            except OSError:
                pass
            c.close()

    t = threading.Thread(target=dribble, daemon=True)
    t.start()
    try:
        f = env.new_freshd("dribble", backend_port=ls.getsockname()[1],
                           backend={"first-byte-timeout": "1s"})
        t0 = time.monotonic()
        r = H.get(f.port, "/dribble?" + qs(m=unique("drib")))
        took = time.monotonic() - t0
        H.info("dribbled head: %d after %.2f s (first-byte-timeout 1s)" % (r.status, took))
        check(r.status == 504 and took < 2.5,
              "an origin dribbling its head gave %r after %.2f s; expected 504 after "
              "about 1 s" % (r, took))
        f.stop()
    finally:
        stop.set()
        t.join(2)
        ls.close()


# Review, session 2: hot-table hits finish within their callback, so a
# client pipelining requests without reading the answers made freshd queue
# responses without bound (1.66 GB in 8 s). The next request now waits while
# the queued output is above the high mark.
def test_pipelined_hits_without_reading_bounded_memory(env):
    target = "/pipe?" + qs(size=32000, m=unique("pipe"), hdr="Cache-Control: max-age=600")
    for _ in range(3):
        r = H.get(env.freshd.port, target)
        check(r.status == 200, "warming: %r" % r)
    one = H.build_request("GET", target)
    sent = 0
    with env.freshd.rss_sampled() as samples:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", env.freshd.port))
        s.setblocking(False)
        t0 = time.monotonic()
        burst = one * 1000
        while time.monotonic() - t0 < 3:
            try:
                sent += s.send(burst)
            except BlockingIOError:
                time.sleep(0.01)
        s.close()
    grew = max(samples) - samples[0]
    H.info("%d pipelined requests sent unread; freshd RSS grew %d KiB" %
           (sent // len(one), grew))
    check(grew < 16 * 1024, "freshd RSS grew by %d KiB while a client pipelined %d "
          "requests without reading" % (grew, sent // len(one)))


# A response that ends before its request body (the origin answered at
# once; the client sent 10 of 1000 bytes) hands the connection to the
# closing and lingering states, where only send-timeout and the linger
# period count. The request body's read timeout (idle-timeout, 1 s here)
# must not stay armed: it closed the socket at 1 s, cutting the output
# still queued, and the linger short (here: a client byte sent 1.5 s after
# the response gets a reset instead of being discarded).
def test_request_body_timeout_not_left_armed_after_response(env):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    held = []

    def origin():
        try:
            c, _ = ls.accept()
        except OSError:
            return
        held.append(c)
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                return
            data += d
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: no-store\r\n\r\nearly")

    t = threading.Thread(target=origin, daemon=True)
    t.start()
    f = env.new_freshd("early", backend_port=ls.getsockname()[1],
                       limits={"idle-timeout": "1s", "send-timeout": "30s"})
    s = socket.create_connection(("127.0.0.1", f.port))
    try:
        s.settimeout(5)
        s.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
                  b"a" * 10)
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        check(got.startswith(b"HTTP/1.1 200") and got.endswith(b"\r\n\r\nearly"),
              "response %r" % got[:200])
        time.sleep(1.5)
        # A closed socket answers the first bytes with a reset, which fails
        # the second send (a receive would only see the FIN, read before).
        try:
            s.sendall(b"b" * 10)
            time.sleep(0.2)
            s.sendall(b"c" * 10)
            reset = False
        except (ConnectionResetError, BrokenPipeError):
            reset = True
        check(not reset, "1.5 s after the response (linger 2 s), client bytes got a "
              "reset: the request body's read timeout closed the connection")
    finally:
        s.close()
        ls.close()
        for c in held:
            c.close()
        f.stop()


def setup():
    return H.Env("r_review", backend={"first-byte-timeout": "1s"})


if __name__ == "__main__":
    H.run(globals(), setup)
