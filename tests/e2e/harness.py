"""harness.py: what the freshd end-to-end tests share.

Each test file (b_*.py, c_*.py) starts its own scripted origin (origin.c) and its own
freshd on free loopback ports, with its own temporary directory under
$TMPDIR, so the files can run in parallel. The file defines test_* functions
taking the Env; harness.run() calls them in the order they are written,
prints "ok NAME" or "FAIL NAME: reason" for each, then exactly one line
"N passed, M failed", and exits 1 if any failed, 77 (automake's "skipped")
if $FRESHD or $ORIGIN is not an executable.

Design decisions:
- Only the standard library. The HTTP client here is a raw socket client on
  purpose: tests must see framing (chunked or sized, close-delimited,
  truncated) exactly as freshd sent it, which http.client would hide.
- Every process started is killed at the end (SIGTERM, then SIGKILL after
  5 s), from a finally block and atexit, and asks the kernel to kill it if
  the harness dies first (PR_SET_PDEATHSIG); the origin also exits when its
  stdin (a pipe from here) closes.
- freshd's stderr (error and access logs) goes to a file; its tail is printed
  after a failing test. Sanitizer reports found in it fail the run.
- Each test runs under an alarm (TEST_TIMEOUT seconds) so a hang is a
  failure with a reason, never a stuck `make check`.
"""

import atexit
import contextlib
import ctypes
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

FRESHD = os.environ.get("FRESHD", "")
ORIGIN = os.environ.get("ORIGIN", "")
PATTERN = b"abcdefghijklmnopqrstuvwxyz0123456789"
TEST_TIMEOUT = 90
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "AddressSanitizer:DEADLYSIGNAL")

_live = []          # processes to stop at exit
_tmpdirs = []       # directories to remove at exit


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    """Fails the current test with msg unless cond holds."""
    if not cond:
        raise TestFailure(msg)


def info(msg):
    """Prints a diagnostic line (not a result) for the log of the run."""
    print("# " + msg, flush=True)


def pattern(n, offset=0):
    """The origin's body bytes [offset, offset+n): byte i is PATTERN[i % 36]."""
    reps = (offset % 36 + n) // 36 + 2
    start = offset % 36
    return (PATTERN * reps)[start:start + n]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def qs(**params):
    """A query string for the origin's script; list values repeat the key."""
    pairs = []
    for k, v in params.items():
        for item in (v if isinstance(v, (list, tuple)) else [v]):
            pairs.append((k, str(item)))
    return urllib.parse.urlencode(pairs)


_uniq = [0]


def unique(prefix="u"):
    """A value unique in this run, to keep URLs apart (no cache hits, no collapsing)."""
    _uniq[0] += 1
    return "%s%d-%d" % (prefix, os.getpid(), _uniq[0])


# ---- processes ----

def asan_options(caller):
    """ASAN_OPTIONS for freshd: the caller's options (None: unset) with
    quarantine_size_mb=16 merged in, unless the caller sets that one."""
    if not caller:
        return "quarantine_size_mb=16"
    names = [o.split("=", 1)[0].strip()
             for o in caller.replace(",", ":").replace(" ", ":").split(":")]
    if "quarantine_size_mb" in names:
        return caller
    return caller.rstrip(":") + ":quarantine_size_mb=16"


def child_env():
    """The environment for freshd. Under AddressSanitizer, freed memory is
    held in a quarantine (256 MiB by default) that shows up as RSS and would
    swamp the memory-bound test; 16 MiB keeps use-after-free detection for
    recent frees. It is merged into the caller's ASAN_OPTIONS; a
    quarantine_size_mb set by the caller wins."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = asan_options(os.environ.get("ASAN_OPTIONS"))
    return env


def wait_until(cond, timeout, interval=0.02):
    """Polls cond() until it returns a true value (returned) or timeout
    seconds pass (returns the last false value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def _child_setup():
    # PR_SET_PDEATHSIG = 1: the child is killed if the harness dies.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    os.setpgrp()


def _stop(proc, grace=5.0):
    """SIGTERM, then SIGKILL after grace seconds; returns the exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _live:
        _live.remove(proc)
    return proc.returncode


def _stop_all():
    for proc in list(_live):
        _stop(proc)
    for d in list(_tmpdirs):
        shutil.rmtree(d, ignore_errors=True)
        _tmpdirs.remove(d)


atexit.register(_stop_all)


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=10.0):
    """Waits until something accepts on 127.0.0.1:port; False on timeout or if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def tail(path, n=25):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    return lines[-n:]


class Origin:
    """The scripted origin (origin.c) and its control endpoints."""

    def __init__(self, tmpdir, name="origin"):
        self.stderr_path = os.path.join(tmpdir, name + ".stderr")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [ORIGIN, "--port", "0"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=err, preexec_fn=_child_setup)
        _live.append(self.proc)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            _stop(self.proc)
            raise TestFailure("origin did not start: %r %s" %
                              (line, tail(self.stderr_path)))
        self.port = int(line.split()[1])

    def control(self, method, path):
        c = Client(self.port)
        try:
            c.request(method, path, headers=[("Connection", "close")])
            r = c.read_response(method)
        finally:
            c.close()
        check(r.status == 200, "origin control %s %s: %d" % (method, path, r.status))
        return json.loads(r.body)

    def stats(self):
        """{"connections", "requests", "open"} since the last reset."""
        return self.control("GET", "/__stats")

    def log(self):
        """Every request received since the last reset (see README.md)."""
        return self.control("GET", "/__log")

    def log_for(self, marker):
        """The logged requests whose target contains marker."""
        return [e for e in self.log() if e["target"] and marker in e["target"]]

    def reset(self):
        self.control("POST", "/__reset")

    def drop_idle(self):
        """Closes every idle keep-alive connection; returns how many."""
        return self.control("POST", "/__drop")["dropped"]

    def arm_drop_reused(self, n=1):
        """The next n requests on already used connections get closed unanswered."""
        self.control("POST", "/__arm?drop_reused=%d" % n)

    def rule(self, match, script=""):
        """Requests whose target contains match are scripted by script (a
        query string) instead of their own; script "" removes the rule."""
        self.control("POST", "/__rule?" + qs(match=match, script=script))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _stop(self.proc)


def render_config(listen, backend_server, cache_dir, workers=1, limits=None,
                  cache=None, log=None, backend=None, site=None):
    """freshd configuration text; each dict overrides or adds directives
    of its block (a value None removes the directive)."""
    def block(head, defaults, over):
        d = dict(defaults)
        d.update(over or {})
        body = " ".join("%s %s;" % (k, v) for k, v in d.items() if v is not None)
        return "%s { %s }\n" % (head, body) if body else ""

    text = "workers %d;\nlisten %s;\n" % (workers, listen)
    text += block("limits", {}, limits)
    text += block("cache", {"dir": cache_dir, "size": "256m"}, cache)
    text += block("log", {"access": "stderr", "error": "stderr", "level": "info"}, log)
    text += block("backend origin", {"server": backend_server}, backend)
    text += block("site default", {"hosts": "*", "path-prefix": "/",
                                   "backend": "origin"}, site)
    return text


class Freshd:
    """One freshd process, from a config file or from command-line flags."""

    def __init__(self, tmpdir, name, port, conf_text=None, args=None):
        self.name = name
        self.port = port
        self.conf = os.path.join(tmpdir, name + ".conf")
        self.stderr_path = os.path.join(tmpdir, name + ".stderr")
        self.argv = [FRESHD]
        if conf_text is not None:
            self.write_config(conf_text)
            self.argv += ["-c", self.conf]
        self.argv += list(args or [])
        self.proc = None
        self.start()

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self):
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, env=child_env(),
                                         preexec_fn=_child_setup)
        _live.append(self.proc)
        if not wait_port(self.port, self.proc):
            status = self.proc.poll()
            _stop(self.proc)
            raise TestFailure("%s did not accept on port %d within 10 s (exit %s):\n%s" %
                              (self.name, self.port, status,
                               "\n".join(tail(self.stderr_path))))

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, grace=5.0):
        return _stop(self.proc, grace) if self.proc is not None else None

    def kill(self):
        """SIGKILL (no cleanup at all in freshd) and reap; returns the status."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc in _live:
            _live.remove(self.proc)
        return self.proc.returncode

    def access_log(self, marker):
        """The access-log lines (in stderr) whose target contains marker, as
        lists of fields: time client method target status bytes total_ms
        upstream_ms cache_status."""
        out = []
        for line in self.stderr_text().splitlines():
            parts = line.split(" ")
            if len(parts) == 9 and marker in parts[3] and parts[4].isdigit():
                out.append(parts)
        return out

    def rss_kib(self):
        """VmRSS of the process in KiB (from /proc/PID/status); 0 once it is gone."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    @contextlib.contextmanager
    def rss_sampled(self, interval=0.05):
        """Samples rss_kib every interval while the with-block runs; yields
        the list of samples (the first taken before the block starts)."""
        samples = [self.rss_kib()]
        done = threading.Event()

        def sample():
            while not done.is_set():
                samples.append(self.rss_kib())
                time.sleep(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield samples
        finally:
            done.set()
            sampler.join()

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def client(self, timeout=10.0):
        return Client(self.port, timeout=timeout)

    def cache_dir(self):
        """The cache directory named in the config file (cache { dir ...; })."""
        with open(self.conf) as f:
            text = f.read()
        i = text.index("cache {")
        block = text[i:text.index("}", i)]
        return block.split("dir ", 1)[1].split(";", 1)[0].strip()


class Env:
    """A test file's world: a temp dir, one origin, a main freshd, extras."""

    def __init__(self, name, start_freshd=True, **config):
        base = os.environ.get("TMPDIR") or None
        self.tmp = tempfile.mkdtemp(prefix="freshd-e2e-%s-" % name, dir=base)
        _tmpdirs.append(self.tmp)
        self.freshds = []
        self.origin = Origin(self.tmp)
        self.freshd = self.new_freshd("freshd", **config) if start_freshd else None

    def config_text(self, name, port, backend_port=None, **config):
        return render_config("127.0.0.1:%d" % port,
                             "127.0.0.1:%d" % (backend_port or self.origin.port),
                             os.path.join(self.tmp, name + "-cache"), **config)

    def new_freshd(self, name, backend_port=None, **config):
        """Starts a freshd from a generated config (see render_config)."""
        port = free_port()
        text = self.config_text(name, port, backend_port, **config)
        f = Freshd(self.tmp, name, port, conf_text=text)
        self.freshds.append(f)
        return f

    def new_freshd_args(self, name, port, args, conf_text=None):
        """Starts a freshd with explicit flags (quick mode)."""
        f = Freshd(self.tmp, name, port, conf_text=conf_text, args=args)
        self.freshds.append(f)
        return f

    def client(self, timeout=10.0):
        return Client(self.freshd.port, timeout=timeout)

    def restart_main(self):
        if self.freshd.alive():
            self.freshd.stop()
        self.freshd.start()

    def close(self):
        for f in self.freshds:
            f.stop()
        self.origin.stop()
        if os.environ.get("E2E_KEEP"):
            info("kept " + self.tmp)
            _tmpdirs.remove(self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
            _tmpdirs.remove(self.tmp)


# ---- the raw HTTP/1.1 client ----

class Closed(Exception):
    """The peer closed the connection before a response started."""


class Response:
    def __init__(self):
        self.version = ""
        self.status = 0
        self.reason = ""
        self.headers = []        # [(name, value)] in order received
        self.body = b""
        self.framing = "none"    # none | length | chunked | close
        self.length = None       # Content-Length, if sized
        self.complete = False    # the framing says the body ended properly
        self.interim = []        # 1xx responses before this one
        self.trailers = []

    def header(self, name):
        """The first value of field name, or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def cache_status(self):
        """freshd's Cache-Status member (RFC 9211 §2) as {param: value}, with
        True for bare parameters and "_name" for the cache name; None if
        there is no Cache-Status field."""
        v = self.header("Cache-Status")
        if v is None:
            return None
        member = v.split(",")[-1]
        parts = [p.strip() for p in member.split(";")]
        out = {"_name": parts[0]}
        for p in parts[1:]:
            if "=" in p:
                k, val = p.split("=", 1)
                out[k] = val.strip('"')
            elif p:
                out[p] = True
        return out

    def header_list(self, name):
        """The comma-separated elements of every name field, lower-cased."""
        out = []
        for v in self.header_all(name):
            out += [x.strip().lower() for x in v.split(",") if x.strip()]
        return out

    def __repr__(self):
        return "<%s %d %s, %d body bytes, %s%s>" % (
            self.version, self.status, self.reason, len(self.body), self.framing,
            "" if self.complete else " INCOMPLETE")


def build_request(method, target, headers=None, body=None, version="HTTP/1.1",
                  host="freshd.test"):
    """Request bytes; a Host field is added unless headers has one or host is None.
    A bytes body gets a Content-Length unless headers already frame it."""
    headers = list(headers or [])
    names = [k.lower() for k, _ in headers]
    if host is not None and "host" not in names:
        headers.insert(0, ("Host", host))
    if body is not None and "content-length" not in names and \
            "transfer-encoding" not in names:
        headers.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, target, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
    return head.encode("latin-1") + (body or b"")


class Client:
    """One client connection to freshd (or the origin) on raw sockets."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, headers=None, body=None, version="HTTP/1.1",
                host="freshd.test"):
        self.send(build_request(method, target, headers, body, version, host))

    def _fill(self, n=262144):
        """Reads more bytes into buf; False at end of stream (EOF or reset)."""
        if self.eof:
            return False
        try:
            data = self.sock.recv(n)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _line(self, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                return self._take(i + 2)[:-2]
            check(len(self.buf) < limit, "line longer than %d bytes" % limit)
            if not self._fill():
                return None

    def read_head(self, method="GET"):
        """Reads one response head (skipping 1xx unless it is all there is:
        they go to .interim). Raises Closed if the connection ended first."""
        interim = []
        while True:
            while b"\r\n\r\n" not in self.buf:
                if not self._fill():
                    if not self.buf:
                        raise Closed("connection closed before a response")
                    raise TestFailure("connection closed inside a response head: %r"
                                      % bytes(self.buf[:200]))
            end = self.buf.find(b"\r\n\r\n")
            head = self._take(end + 4).decode("latin-1")
            lines = head.split("\r\n")[:-2]
            r = Response()
            parts = lines[0].split(" ", 2)
            check(len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit(),
                  "bad status line %r" % lines[0])
            r.version, r.status = parts[0], int(parts[1])
            r.reason = parts[2] if len(parts) > 2 else ""
            for line in lines[1:]:
                check(":" in line and line[0] not in " \t", "bad field line %r" % line)
                k, v = line.split(":", 1)
                r.headers.append((k, v.strip(" \t")))
            if 100 <= r.status < 200 and r.status != 101:
                interim.append(r)
                continue
            r.interim = interim
            self._frame(r, method)
            return r

    def read_interim(self):
        """Reads one 1xx response head only (e.g. 100 Continue)."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise Closed("connection closed before an interim response")
        end = self.buf.find(b"\r\n\r\n")
        head = self._take(end + 4).decode("latin-1")
        r = Response()
        parts = head.split("\r\n")[0].split(" ", 2)
        r.version, r.status = parts[0], int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        for line in head.split("\r\n")[1:-2]:
            k, v = line.split(":", 1)
            r.headers.append((k, v.strip()))
        r.complete = True
        return r

    def _frame(self, r, method):
        # RFC 9112 §6.3: how the client finds the end of the body.
        te = r.header_list("Transfer-Encoding")
        cl = r.header_all("Content-Length")
        if method == "HEAD" or r.status in (204, 304) or r.status < 200:
            r.framing = "none"
        elif te:
            check(te[-1] == "chunked", "response Transfer-Encoding %r" % te)
            r.framing = "chunked"
        elif cl:
            check(len(set(cl)) == 1 and cl[0].isdigit(), "bad Content-Length %r" % cl)
            r.framing, r.length = "length", int(cl[0])
        else:
            r.framing = "close"
        r.complete = r.framing == "none"
        r._left = r.length if r.framing == "length" else 0
        r._chunk_done = False

    def body_pieces(self, r, bufsize=262144):
        """Yields r's body as it arrives; sets r.complete when the framing
        says the body ended (False if the connection ended early)."""
        if r.framing == "length":
            while r._left > 0:
                if not self.buf and not self._fill(min(bufsize, r._left)):
                    return
                piece = self._take(min(len(self.buf), r._left))
                r._left -= len(piece)
                yield piece
            r.complete = True
        elif r.framing == "close":
            while True:
                if self.buf:
                    yield self._take(len(self.buf))
                if not self._fill(bufsize):
                    r.complete = True   # as complete as close-delimited can be
                    return
        elif r.framing == "chunked":
            while True:
                line = self._line()
                if line is None:
                    return
                size_s = line.split(b";")[0].strip()
                check(size_s and all(c in b"0123456789abcdefABCDEF" for c in size_s),
                      "bad chunk size line %r" % line)
                size = int(size_s, 16)
                if size == 0:
                    while True:
                        t = self._line()
                        if t is None:
                            return
                        if t == b"":
                            r.complete = True
                            return
                        r.trailers.append(t.decode("latin-1"))
                while size > 0:
                    if not self.buf and not self._fill(min(bufsize, size)):
                        return
                    piece = self._take(min(len(self.buf), size))
                    size -= len(piece)
                    yield piece
                while len(self.buf) < 2:
                    if not self._fill():
                        return
                check(self.buf[:2] == b"\r\n", "chunk data not followed by CRLF")
                del self.buf[:2]

    def read_response(self, method="GET"):
        """Reads a whole response (head and body); see Response."""
        r = self.read_head(method)
        r.body = b"".join(self.body_pieces(r))
        return r

    def roundtrip(self, method, target, headers=None, body=None, version="HTTP/1.1",
                  host="freshd.test"):
        self.request(method, target, headers, body, version, host)
        return self.read_response(method)

    def wait_closed(self, timeout=2.0):
        """Reads until the peer closes or timeout; returns (closed, bytes read)."""
        deadline = time.monotonic() + timeout
        data = bytes(self.buf)
        self.buf.clear()
        if self.eof:
            return True, data
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, data
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return False, data
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                return True, data
            data += chunk

    def readable_within(self, timeout):
        """True if bytes (or EOF) arrive within timeout seconds."""
        if self.buf or self.eof:
            return True
        ready, _, _ = select.select([self.sock], [], [], timeout)
        return bool(ready)


def get(port, target, headers=None, method="GET", version="HTTP/1.1"):
    """One request on a new connection; returns the Response."""
    with Client(port) as c:
        return c.roundtrip(method, target, headers, version=version)


def cached(port, target, headers=None):
    """The stored response for target, or None: a GET with only-if-cached
    (RFC 9111 §5.2.1.7), which freshd answers from the store or with 504 and
    never forwards. It counts as a use of the object (eviction order)."""
    r = get(port, target, list(headers or []) + [("Cache-Control", "only-if-cached")])
    return None if r.status == 504 else r


def wait_cached(port, target, headers=None, timeout=5.0):
    """Polls cached() until target is in the store (its write commits a few
    ms after the response ends); the response, or None after timeout."""
    return wait_until(lambda: cached(port, target, headers), timeout, 0.01)


def data_mdb_bytes(cache_dir):
    """Size of the store's LMDB data file, 0 when there is none yet."""
    try:
        return os.path.getsize(os.path.join(cache_dir, "data.mdb"))
    except OSError:
        return 0


def is_closed_after(c, timeout=2.0, probe=None):
    """True if the connection c is closed: sends probe (if any, ignoring
    errors) and checks nothing but EOF/RST follows within timeout.
    Returns (closed, extra bytes received)."""
    if probe is not None:
        try:
            c.send(probe)
        except OSError:
            pass
    return c.wait_closed(timeout)


def connection_close_ok(r, c, timeout=0.5):
    """RFC 9112 §9.6: if freshd closes after r, r must say Connection: close.
    Returns a failure reason, or None."""
    closed, extra = c.wait_closed(timeout)
    check(not extra, "bytes after the response: %r" % extra[:100])
    if closed and "close" not in r.header_list("Connection"):
        return "freshd closed the connection after %d without Connection: close" % r.status
    return None


# ---- the runner ----

class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout("test took longer than %d s" % TEST_TIMEOUT)


def _where(tb):
    """file:line of the innermost frame in a test file."""
    frames = traceback.extract_tb(tb)
    for fr in reversed(frames):
        if os.path.basename(fr.filename).startswith(("b_", "c_", "r_")):
            return "%s:%d" % (os.path.basename(fr.filename), fr.lineno)
    fr = frames[-1] if frames else None
    return "%s:%d" % (os.path.basename(fr.filename), fr.lineno) if fr else "?"


def _sanitizer_reports(env):
    out = []
    for f in env.freshds:
        text = f.stderr_text()
        if any(m in text for m in SANITIZER_MARKS):
            out.append(f)
    return out


def run(module_globals, setup):
    """Runs the test_* functions of a test file against setup()'s Env.
    argv[1:] may name the tests to run."""
    if not (os.path.isfile(FRESHD) and os.access(FRESHD, os.X_OK)) or \
            not (os.path.isfile(ORIGIN) and os.access(ORIGIN, os.X_OK)):
        print("skip: FRESHD=%r and ORIGIN=%r must be executables" % (FRESHD, ORIGIN))
        sys.exit(77)
    tests = [(n, f) for n, f in module_globals.items()
             if n.startswith("test_") and callable(f)]
    tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    if len(sys.argv) > 1:
        tests = [(n, f) for n, f in tests if n in sys.argv[1:]]
    signal.signal(signal.SIGALRM, _on_alarm)
    passed = failed = 0
    env = None
    try:
        try:
            env = setup()
        except Exception as e:      # noqa: BLE001 - reported, then counted
            print("FAIL setup: %s" % e, flush=True)
            print("%d passed, %d failed" % (0, len(tests) or 1), flush=True)
            sys.exit(1)
        for name, fn in tests:
            reason = None
            t0 = time.monotonic()
            signal.alarm(TEST_TIMEOUT)
            try:
                fn(env)
            except Exception as e:      # noqa: BLE001 - every failure is reported
                reason = "%s: %s%s" % (_where(e.__traceback__),
                                       "" if isinstance(e, AssertionError)
                                       else type(e).__name__ + ": ", e)
            finally:
                signal.alarm(0)
            if env.freshd is not None and not env.freshd.alive():
                reason = (reason + "; " if reason else "") + \
                    "freshd exited with status %s" % env.freshd.proc.returncode
            if reason is None:
                passed += 1
                print("ok %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
                continue
            failed += 1
            print("FAIL %s: %s" % (name, reason), flush=True)
            for f in env.freshds:
                lines = tail(f.stderr_path, 15)
                if lines:
                    print("# --- tail of %s stderr ---" % f.name)
                    for line in lines:
                        print("#   " + line)
            if env.freshd is not None and not env.freshd.alive():
                try:
                    env.restart_main()
                except TestFailure as e:
                    print("# could not restart freshd: %s" % e)
                    break
        for f in list(env.freshds):
            f.stop()
        bad = _sanitizer_reports(env)
        if bad:
            failed += 1
            print("FAIL sanitizers: reports in %s" % ", ".join(f.name for f in bad))
            for f in bad:
                text = f.stderr_text()
                i = min(text.find(m) for m in SANITIZER_MARKS if m in text)
                for line in text[i:].splitlines()[:30]:
                    print("#   " + line)
    finally:
        if env is not None:
            env.close()
        _stop_all()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
