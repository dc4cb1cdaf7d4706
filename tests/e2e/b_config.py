"""b_config: the command line and the configuration file as a user meets
them: `freshd -t` verdicts with FILE:LINE messages, quick mode, flags
overriding the file, SIGHUP reloads (a broken file keeps the running
configuration), SIGTERM exits cleanly.
"""

import os
import re
import signal
import socket
import subprocess
import time

import harness as H
from harness import check, pattern, qs, unique


def write(env, name, text):
    path = os.path.join(env.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def freshd_t(path):
    """Runs freshd -t -c path; returns (exit status, stderr)."""
    p = subprocess.run([H.FRESHD, "-t", "-c", path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def good_config(env, port=None, backend_port=None):
    return env.config_text("cfg", port or H.free_port(), backend_port)


def assert_bad_at(env, name, lines, bad_line, also=()):
    """lines (1-based line numbers) form a config whose line bad_line (or one
    of also) is wrong: freshd -t must fail with PATH:LINE: message."""
    path = write(env, name, "\n".join(lines) + "\n")
    status, err = freshd_t(path)
    check(status != 0, "freshd -t accepted %s:\n%s" % (name, "\n".join(lines)))
    found = re.findall(re.escape(path) + r":(\d+): \S", err)
    check(found, "no '%s:LINE: message' on stderr: %r" % (path, err[:300]))
    want = {bad_line, *also}
    check(int(found[0]) in want, "error reported at line %s, want line %s:\n%s" %
          (found[0], " or ".join(map(str, sorted(want))), err.strip()))


def test_check_good_config(env):
    path = write(env, "good.conf", good_config(env))
    status, err = freshd_t(path)
    check(status == 0, "freshd -t rejected a good config (exit %d): %s" % (status, err))


def test_check_full_example_config(env):
    """Every directive of the documented format, spelled out."""
    text = """workers 1;
listen 127.0.0.1:%d;
limits { request-line 8k; header-bytes 32k; header-fields 100; connections 10000; header-timeout 10s; idle-timeout 60s; send-timeout 60s; }
cache { dir %s; size 1g; }
log { access stderr; error stderr; level info; }
backend origin { server 127.0.0.1:8000; pool-idle 32; pool-max 0; idle-timeout 60s; connect-timeout 3s; first-byte-timeout 60s; read-timeout 60s; }
site default { hosts *; path-prefix /; backend origin; max-body 1g; host-header keep; x-forwarded-for on; x-forwarded-proto on; forwarded off; pass-proxy-authorization off; }
""" % (H.free_port(), os.path.join(env.tmp, "full-cache"))
    status, err = freshd_t(write(env, "full.conf", text))
    check(status == 0, "freshd -t rejected the documented format (exit %d): %s" %
          (status, err))


def test_check_unknown_directive(env):
    cache = os.path.join(env.tmp, "c")
    assert_bad_at(env, "unknown.conf", [
        "workers 1;",
        "listen 127.0.0.1:%d;" % H.free_port(),
        "cache { dir %s; size 64m; }" % cache,
        "frobnicate yes;",
        "backend origin { server 127.0.0.1:1; }",
        "site default { hosts *; backend origin; }",
    ], 4)


def test_check_bad_size(env):
    assert_bad_at(env, "badsize.conf", [
        "workers 1;",
        "listen 127.0.0.1:%d;" % H.free_port(),
        "cache {",
        "    dir %s;" % os.path.join(env.tmp, "c"),
        "    size 12q;",
        "}",
        "backend origin { server 127.0.0.1:1; }",
        "site default { hosts *; backend origin; }",
    ], 5)


def test_check_bad_duration(env):
    assert_bad_at(env, "baddur.conf", [
        "workers 1;",
        "listen 127.0.0.1:%d;" % H.free_port(),
        "backend origin {",
        "    server 127.0.0.1:1;",
        "    connect-timeout soon;",
        "}",
        "site default { hosts *; backend origin; }",
    ], 5)


# A site naming a backend that does not exist: the error points at the
# reference (or at the site block that holds it).
def test_check_undefined_backend(env):
    assert_bad_at(env, "nobackend.conf", [
        "workers 1;",
        "listen 127.0.0.1:%d;" % H.free_port(),
        "backend origin { server 127.0.0.1:1; }",
        "site default {",
        "    hosts *;",
        "    backend nope;",
        "}",
    ], 6, also=(4,))


def test_check_site_without_backend(env):
    path = write(env, "nosite-backend.conf",
                 "workers 1;\nlisten 127.0.0.1:%d;\nsite default { hosts *; }\n" %
                 H.free_port())
    status, err = freshd_t(path)
    check(status != 0, "a site without any backend was accepted")
    check(re.search(re.escape(path) + r":\d+: \S", err), "no FILE:LINE message: %r" % err)


def test_origin_must_be_http(env):
    port = H.free_port()
    p = subprocess.Popen([H.FRESHD, "--origin", "ftp://x", "--listen", "127.0.0.1:%d" % port,
                          "--cache-dir", os.path.join(env.tmp, "ftp-cache")],
                         cwd=env.tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=H._child_setup)
    try:
        out, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise H.TestFailure("freshd --origin ftp://x kept running (should refuse)")
    err = err.decode("utf-8", "replace")
    check(p.returncode != 0, "freshd --origin ftp://x exited 0")
    check("ftp://x" in err or "http://" in err,
          "the message does not say what is wrong with the origin: %r" % err)


def test_quick_mode(env):
    port = H.free_port()
    f = env.new_freshd_args("quick", port, [
        "--origin", "http://127.0.0.1:%d" % env.origin.port,
        "--listen", "127.0.0.1:%d" % port,
        "--cache-dir", os.path.join(env.tmp, "quick-cache"), "--workers", "1"])
    mark = unique("quick")
    try:
        r = H.get(port, "/q?" + qs(size=99, m=mark))
        check(r.status == 200 and r.body == pattern(99), "quick mode answered %r" % r)
        check(len(env.origin.log_for(mark)) == 1, "the request did not reach the origin")
    finally:
        f.stop()


# Flags override the file: --listen and --origin win over listen / server.
def test_flags_override_file(env):
    file_port, flag_port = H.free_port(), H.free_port()
    dead = H.free_port()
    text = env.config_text("ovr", file_port, backend_port=dead)
    f = env.new_freshd_args("ovr", flag_port, [
        "--listen", "127.0.0.1:%d" % flag_port,
        "--origin", "http://127.0.0.1:%d" % env.origin.port], conf_text=text)
    try:
        mark = unique("ovr")
        r = H.get(flag_port, "/o?" + qs(size=5, m=mark))
        check(r.status == 200 and r.body == pattern(5),
              "--origin did not override the file's backend: %r" % r)
        try:
            socket.create_connection(("127.0.0.1", file_port), timeout=1).close()
            raise H.TestFailure("freshd also listens on the file's port %d" % file_port)
        except ConnectionRefusedError:
            pass
    finally:
        f.stop()


def _served_by(port, origin, tries=30):
    """True once a new request on port reaches origin (within tries * 0.1 s)."""
    for _ in range(tries):
        mark = unique("hup")
        r = H.get(port, "/h?" + qs(size=1, m=mark))
        if r.status == 200 and origin.log_for(mark):
            return True
        time.sleep(0.1)
    return False


# SIGHUP reloads: a good new file takes effect (the backend moves to a
# second origin); a broken one is refused and the running config stays.
def test_sighup_reload(env):
    second = H.Origin(env.tmp, "origin2")
    f = env.new_freshd("hup")
    try:
        check(_served_by(f.port, env.origin, 1), "not served by the first origin")
        f.write_config(env.config_text("hup", f.port, backend_port=second.port))
        f.signal(signal.SIGHUP)
        check(_served_by(f.port, second), "after SIGHUP with a new backend, requests "
                                          "still do not reach it")
        f.write_config("workers 1;\nlisten 127.0.0.1:%d;\nthis is not a config\n" % f.port)
        f.signal(signal.SIGHUP)
        time.sleep(0.5)
        check(f.alive(), "freshd died on SIGHUP with a broken config")
        check(_served_by(f.port, second, 1),
              "after SIGHUP with a broken config, requests no longer reach the "
              "backend of the last good config")
    finally:
        f.stop()
        second.stop()


# SIGTERM: in-flight requests finish, then exit status 0.
def test_sigterm_drains_and_exits_0(env):
    f = env.new_freshd("term")
    with f.client() as c:
        c.request("GET", "/inflight?" + qs(size=1000, delay=500, u=unique()))
        time.sleep(0.2)
        f.signal(signal.SIGTERM)
        r = c.read_response()
        check(r.status == 200 and r.body == pattern(1000),
              "in-flight request during SIGTERM got %r" % r)
    t0 = time.monotonic()
    try:
        status = f.proc.wait(5)
    except subprocess.TimeoutExpired:
        raise H.TestFailure("freshd still running 5 s after SIGTERM with nothing in flight")
    check(status == 0, "freshd exited %d after SIGTERM (%.1fs)" %
          (status, time.monotonic() - t0))


def setup():
    return H.Env("b_config", start_freshd=False)


if __name__ == "__main__":
    H.run(globals(), setup)
