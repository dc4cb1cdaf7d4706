"""b_smuggling: requests whose framing or header section is ambiguous are
refused with 400 (501 accepted for an unknown transfer coding), never
forwarded, and the connection is closed (RFC 9112 §2.2, §3.2, §5, §6.1,
§6.3, §7.1; RFC 9110 §7.2).

Each case is sent on its own connection with a request smuggled in its
body where that is meaningful; then a valid request follows on the same
connection: it must not be answered (the connection is closed), and the
origin must not have seen anything from the connection.
"""

import harness as H
from harness import check

SMUGGLED = b"GET /?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n"


def post(fields, body=b"", version="HTTP/1.1"):
    head = "POST /?victim=1 %s\r\n" % version
    return (head + "".join(f + "\r\n" for f in fields) + "\r\n").encode("latin-1") + body


def refused(env, raw, statuses=(400,), whole_head_only=True):
    """Sends raw, asserts a status in statuses, that the connection then
    closes without answering a following request, and that the origin saw
    nothing (or, for a head freshd may have forwarded before finding the
    body bad, no complete request and no smuggled one)."""
    env.origin.reset()
    with env.client() as c:
        c.send(raw)
        try:
            r = c.read_response()
        except H.Closed:
            raise H.TestFailure("connection closed without a response (want %s)" %
                                "/".join(map(str, statuses)))
        check(r.status in statuses, "answered %d, want %s" %
              (r.status, " or ".join(map(str, statuses))))
        closed, extra = H.is_closed_after(
            c, 2.0, H.build_request("GET", "/?after=1", host="x"))
        check(not extra, "a request after the bad one was answered: %r" % extra[:120])
        check(closed, "connection left open after a %d to a smuggling attempt" % r.status)
    log = env.origin.log()
    if whole_head_only:
        check(not log, "the origin received %r" % [(e["method"], e["target"]) for e in log])
    else:
        bad = [e for e in log if e["complete"] or "victim" not in (e["target"] or "")]
        check(not bad, "the origin received %r" %
              [(e["method"], e["target"], e["complete"]) for e in bad])


# RFC 9112 §6.3 (3): Transfer-Encoding and Content-Length together.
def test_te_and_cl(env):
    refused(env, post(["Host: a", "Content-Length: 4", "Transfer-Encoding: chunked"],
                      b"0\r\n\r\n" + SMUGGLED))


# RFC 9112 §6.3 (5): differing Content-Length values in a list.
def test_cl_list_differing(env):
    refused(env, post(["Host: a", "Content-Length: 5, 6"], b"hello" + SMUGGLED))


# RFC 9110 §8.6: Content-Length = 1*DIGIT; a sign is not a digit.
def test_cl_plus_sign(env):
    refused(env, post(["Host: a", "Content-Length: +5"], b"hello" + SMUGGLED))


# RFC 9110 §8.6: two Content-Length fields with different values.
def test_cl_two_fields(env):
    refused(env, post(["Host: a", "Content-Length: 5", "Content-Length: 44"],
                      b"hello" + SMUGGLED))


# RFC 9112 §6.3 (4): chunked not the final coding: 400 (501 for an
# unknown coding, RFC 9112 §6.1).
def test_te_gzip_alone(env):
    refused(env, post(["Host: a", "Transfer-Encoding: gzip"], b"abc\r\n" + SMUGGLED),
            (400, 501))


def test_te_chunked_then_gzip(env):
    refused(env, post(["Host: a", "Transfer-Encoding: chunked, gzip"],
                      b"0\r\n\r\n" + SMUGGLED), (400, 501))


# RFC 9112 §7: chunked applied twice (two field lines combine to
# "chunked, chunked").
def test_te_chunked_twice(env):
    refused(env, post(["Host: a", "Transfer-Encoding: chunked",
                       "Transfer-Encoding: chunked"], b"0\r\n\r\n" + SMUGGLED))


# RFC 9112 §5.2: obs-fold in a request is rejected with 400.
def test_obs_fold(env):
    refused(env, post(["Host: a", "X-Folded: a", " b", "Content-Length: 0"]))


def test_obs_fold_on_framing_field(env):
    refused(env, post(["Host: a", "Transfer-Encoding:", " chunked", "Content-Length: 3"],
                      b"0\r\n\r\n" + SMUGGLED))


# RFC 9112 §2.2: a bare CR in a field value.
def test_bare_cr_in_field(env):
    refused(env, post(["Host: a", "X-Bad: a\rb", "Content-Length: 0"]))


# RFC 9112 §5.1: whitespace between field name and colon: 400.
def test_space_before_colon(env):
    refused(env, post(["Host: a", "Transfer-Encoding : chunked", "Content-Length: 3"],
                      b"0\r\n\r\n" + SMUGGLED))


# RFC 9112 §3.2: an HTTP/1.1 request without Host: 400.
def test_missing_host_http11(env):
    refused(env, b"GET /?nohost=1 HTTP/1.1\r\nX-A: b\r\n\r\n")


# RFC 9112 §3.2: more than one Host field: 400.
def test_two_host_fields(env):
    refused(env, b"GET /?twohosts=1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")


# RFC 9112 §7.1: chunk-size = 1*HEXDIG. The head is valid, so freshd may
# have forwarded it before reading the bad chunk: the origin must not get a
# complete request.
def test_invalid_chunk_size(env):
    refused(env, post(["Host: a", "Transfer-Encoding: chunked"],
                      b"zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED), whole_head_only=False)


# RFC 9112 §7.1: a chunk size that overflows 64 bits.
def test_chunk_size_overflow(env):
    refused(env, post(["Host: a", "Transfer-Encoding: chunked"],
                      b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
            whole_head_only=False)


# RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means faulty
# framing.
def test_te_in_http10(env):
    refused(env, post(["Host: a", "Transfer-Encoding: chunked"],
                      b"0\r\n\r\n" + SMUGGLED, version="HTTP/1.0"))


def setup():
    return H.Env("b_smuggling")


if __name__ == "__main__":
    H.run(globals(), setup)
