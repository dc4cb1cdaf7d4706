#!/usr/bin/env python3
"""HTTP/1.1 clients for the rows of scripts/bench that wrk cannot measure.

usage:
  client.py single HOST PORT PATH
      one request on a new connection; prints {"status", "ms"}
  client.py storm HOST PORT PATH N
      opens N connections first, then sends one GET for PATH on each at once
      and reads every response; prints {"ok", "errors", "statuses",
      "ttlb_ms" (first send to the last byte of the last response),
      "median_ms", "bytes"}
  client.py idle HOST PORT PATH N HOLD PID...
      opens N keep-alive connections, sends one GET on each and reads its
      response, then keeps them all open and idle for HOLD seconds; prints
      the summed RssAnon (anonymous resident memory, so not the pages of a
      mapped cache file) of the PIDs (the proxy's processes) before the
      first connection, once every response is in, and after HOLD; how
      many connections were answered ("ok"), and how many of those were
      still open at the end ("open_at_end"; a connection that the proxy
      closed reads as EOF)
  client.py seq HOST PORT PATH N
      N requests one after the other on one keep-alive connection; prints
      {"ok", "errors", "seconds"}
  client.py haproxy-cache SOCKET
      `show cache` on HAProxy's stats socket; prints {"objects", "bytes"}

Output is one JSON object on standard output; scripts/bench reads it. The
parser is the small subset of RFC 9112 that these responses need: a status
line, header fields, and a body framed by Content-Length, chunked transfer
coding or the end of the connection.
"""

import json
import os
import selectors
import socket
import sys
import time

BUF = bytearray(1 << 18)
VIEW = memoryview(BUF)


def request_bytes(host, port, path):
	return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
		"User-Agent: freshd-bench\r\n\r\n").encode()


class Response:
	"""Incremental parser of one response; feed() bytes until done."""

	def __init__(self):
		self.head = bytearray()
		self.status = 0
		self.length = None	# bytes of body still expected (sized body)
		self.chunked = False
		self.until_eof = False
		self.chunk_left = 0	# bytes left in the current chunk
		self.chunk_state = "size"	# size, data, data-crlf, trailer
		self.line = bytearray()
		self.body_bytes = 0
		self.done = False
		self.close = False

	def parse_head(self):
		lines = bytes(self.head).split(b"\r\n")
		parts = lines[0].split(b" ", 2)
		self.status = int(parts[1])
		for line in lines[1:]:
			name, _, value = line.partition(b":")
			name = name.strip().lower()
			value = value.strip()
			if name == b"content-length":
				self.length = int(value)
			elif name == b"transfer-encoding" and b"chunked" in value.lower():
				self.chunked = True
			elif name == b"connection" and b"close" in value.lower():
				self.close = True
		if self.chunked:
			self.length = None
		elif self.length is None:
			self.until_eof = self.status >= 200 and self.status not in (204, 304)
		if not self.chunked and not self.until_eof and not self.length:
			self.done = True

	def feed(self, data):
		"""Consumes bytes of data (a memoryview); returns the unused rest."""
		if not self.status:
			self.head += data
			end = self.head.find(b"\r\n\r\n")
			if end < 0:
				return memoryview(b"")
			rest = bytes(self.head[end + 4:])
			del self.head[end:]
			self.parse_head()
			data = memoryview(rest)
		if self.done:
			return data
		if self.until_eof:
			self.body_bytes += len(data)
			return memoryview(b"")
		if not self.chunked:
			take = min(self.length, len(data))
			self.length -= take
			self.body_bytes += take
			if self.length == 0:
				self.done = True
			return data[take:]
		return self.feed_chunked(data)

	def feed_chunked(self, data):
		i = 0
		n = len(data)
		while i < n and not self.done:
			if self.chunk_state == "data":
				take = min(self.chunk_left, n - i)
				self.chunk_left -= take
				self.body_bytes += take
				i += take
				if self.chunk_left == 0:
					self.chunk_state = "data-crlf"
				continue
			end = bytes(data[i:]).find(b"\n")
			if end < 0:
				self.line += data[i:]
				return memoryview(b"")
			self.line += data[i:i + end]
			i += end + 1
			line = bytes(self.line).strip()
			self.line = bytearray()
			if self.chunk_state == "size":
				size = int(line.split(b";")[0], 16)
				if size == 0:
					self.chunk_state = "trailer"
				else:
					self.chunk_left = size
					self.chunk_state = "data"
			elif self.chunk_state == "data-crlf":
				self.chunk_state = "size"
			elif self.chunk_state == "trailer" and not line:
				self.done = True
		return data[i:]


def connect(host, port, blocking):
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
	if blocking:
		s.connect((host, port))
	else:
		s.setblocking(False)
		s.connect_ex((host, port))
	return s


def read_response(s):
	"""Reads one response from blocking socket s; returns it or None at EOF."""
	resp = Response()
	while not resp.done:
		n = s.recv_into(BUF)
		if n == 0:
			if resp.until_eof:
				resp.done = True
				break
			return None
		resp.feed(VIEW[:n])
	return resp


def cmd_single(host, port, path):
	t0 = time.monotonic()
	s = connect(host, port, True)
	s.sendall(request_bytes(host, port, path))
	resp = read_response(s)
	ms = (time.monotonic() - t0) * 1000
	s.close()
	return {"status": resp.status if resp else 0, "ms": round(ms, 2)}


def open_many(host, port, n, sel, batch=500):
	"""Opens n non-blocking connections, at most batch connecting at once;
	returns the connected sockets and how many connects failed."""
	conns = []
	failed = 0
	pending = {}
	started = 0
	while started < n or pending:
		while started < n and len(pending) < batch:
			s = connect(host, port, False)
			pending[s.fileno()] = s
			sel.register(s, selectors.EVENT_WRITE)
			started += 1
		for key, _ in sel.select(timeout=10):
			s = pending.pop(key.fd)
			sel.unregister(s)
			if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
				s.close()
				failed += 1
			else:
				conns.append(s)
	return conns, failed


def run_all(conns, req, sel, timeout, stall=None):
	"""Sends req on every socket of conns and reads one response on each,
	for at most timeout seconds, or until no response has completed for
	stall seconds. Returns (t0, completion times, responses in the order of
	conns, errors): a connection that closes or fails before its response
	is complete, or is still waiting at the end, counts as an error."""
	resps = {}
	done_at = []
	errors = 0
	t0 = time.monotonic()
	for s in conns:
		s.send(req)
		resps[s.fileno()] = (s, Response())
		sel.register(s, selectors.EVENT_READ)
	left = len(conns)
	deadline = t0 + timeout
	progress = t0
	while left and time.monotonic() < deadline:
		if stall is not None and time.monotonic() - progress > stall:
			break
		for key, _ in sel.select(timeout=1):
			s, resp = resps[key.fd]
			try:
				n = s.recv_into(BUF)
			except OSError:
				n = -1
			if n > 0:
				resp.feed(VIEW[:n])
			elif resp.until_eof and n == 0:
				resp.done = True
			if resp.done or n <= 0:
				sel.unregister(s)
				left -= 1
				if resp.done:
					progress = time.monotonic()
					done_at.append(progress)
				else:
					errors += 1
	errors += left
	return t0, done_at, [r for _, r in resps.values()], errors


def cmd_storm(host, port, path, n):
	sel = selectors.DefaultSelector()
	conns, failed = open_many(host, port, n, sel)
	t0, done_at, resps, errors = run_all(conns, request_bytes(host, port, path), sel, 120)
	statuses = {}
	for r in resps:
		statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
	ok = sum(1 for r in resps if r.done and r.status == 200)
	times = sorted((t - t0) * 1000 for t in done_at)
	for s in conns:
		s.close()
	return {
		"ok": ok,
		"errors": errors + failed,
		"statuses": statuses,
		"ttlb_ms": round(times[-1], 1) if times else None,
		"median_ms": round(times[len(times) // 2], 1) if times else None,
		"bytes": sum(r.body_bytes for r in resps),
	}


def rss_kib(pids):
	total = 0
	for pid in pids:
		try:
			with open(f"/proc/{pid}/status") as f:
				for line in f:
					if line.startswith("RssAnon:"):
						total += int(line.split()[1])
		except OSError:
			pass
	return total


def cmd_idle(host, port, path, n, hold, pids):
	before = rss_kib(pids)
	sel = selectors.DefaultSelector()
	conns, failed = open_many(host, port, n, sel)
	# A proxy that cannot take every connection (a maxconn below N) leaves
	# the rest waiting: give up on them once nothing moves for 10 s.
	_, done_at, resps, errors = run_all(conns, request_bytes(host, port, path), sel, 120, 10)
	ok = sum(1 for r in resps if r.done and r.status == 200)
	loaded = rss_kib(pids)
	time.sleep(hold)
	after = rss_kib(pids)
	# A connection the proxy closed while idle is readable (EOF or reset);
	# the sockets are still non-blocking.
	open_at_end = 0
	for s, r in zip(conns, resps):
		try:
			alive = s.recv(1) != b""
		except BlockingIOError:
			alive = True
		except OSError:
			alive = False
		open_at_end += alive and r.done and r.status == 200
		s.close()
	return {
		"ok": ok,
		"errors": errors + failed,
		"open_at_end": open_at_end,
		"rss_before_kib": before,
		"rss_loaded_kib": loaded,
		"rss_after_kib": after,
	}


def cmd_seq(host, port, path, n):
	s = connect(host, port, True)
	req = request_bytes(host, port, path)
	ok = errors = 0
	t0 = time.monotonic()
	for _ in range(n):
		s.sendall(req)
		resp = read_response(s)
		if resp is None:
			errors += 1
			s.close()
			s = connect(host, port, True)
			continue
		if resp.status == 200:
			ok += 1
		else:
			errors += 1
		if resp.close:
			s.close()
			s = connect(host, port, True)
	s.close()
	return {"ok": ok, "errors": errors, "seconds": round(time.monotonic() - t0, 3)}


def cmd_haproxy_cache(path):
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.connect(path)
	s.sendall(b"show cache\n")
	out = bytearray()
	while True:
		data = s.recv(1 << 16)
		if not data:
			break
		out += data
	s.close()
	objects = size = 0
	for line in out.decode(errors="replace").splitlines():
		if " hash:" in line:
			objects += 1
			for field in line.split():
				if field.startswith("size:"):
					size += int(field[5:])
	return {"objects": objects, "bytes": size}


def main(argv):
	if len(argv) < 2:
		sys.exit(__doc__)
	cmd = argv[1]
	try:
		if cmd == "single" and len(argv) == 5:
			out = cmd_single(argv[2], int(argv[3]), argv[4])
		elif cmd == "storm" and len(argv) == 6:
			out = cmd_storm(argv[2], int(argv[3]), argv[4], int(argv[5]))
		elif cmd == "idle" and len(argv) >= 8:
			out = cmd_idle(argv[2], int(argv[3]), argv[4], int(argv[5]),
				float(argv[6]), [int(p) for p in argv[7:]])
		elif cmd == "seq" and len(argv) == 6:
			out = cmd_seq(argv[2], int(argv[3]), argv[4], int(argv[5]))
		elif cmd == "haproxy-cache" and len(argv) == 3:
			out = cmd_haproxy_cache(argv[2])
		else:
			sys.exit(__doc__)
	except (OSError, ValueError) as e:
		out = {"error": f"{type(e).__name__}: {e}"}
	json.dump(out, sys.stdout)
	sys.stdout.write("\n")
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
