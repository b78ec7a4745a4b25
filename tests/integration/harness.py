"""Starts the real harrier-server for integration tests and talks to it over loopback.

Every wait is bounded: a server that does not print its `listening on` line within
START_TIMEOUT, or does not exit within STOP_TIMEOUT of SIGTERM, fails the test instead of hanging.
"""

import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import unittest

SERVER = os.path.abspath(os.environ.get("HARRIER_SERVER", "build/dev/examples/harrier-server"))
START_TIMEOUT = 20.0
STOP_TIMEOUT = 40.0
LISTENING = re.compile(r"listening on (http://\S+)")


class Server:
    """A harrier-server process on port 0; `url`, `host`, `port` are known once it is ready."""

    def __init__(self, *args, env=None, preexec_fn=None):
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.preexec_fn = preexec_fn  # run in the child before exec (e.g. a seccomp filter)
        self.cwd = None  # the server's working directory (None: the test's)
        self.proc = None
        self.urls = []
        self.lines = []  # everything the server logged (stdout and stderr merged)
        self._lock = threading.Lock()
        self._reader = None

    def start(self):
        argv = [SERVER]
        if not any(a.startswith("--urls") for a in self.args):
            argv += ["--urls", "http://127.0.0.1:0"]
        argv += self.args
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=self.cwd, preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + START_TIMEOUT
        expected = max(1, next((a.split("=", 1)[-1] for a in self.args if a.startswith("--urls=")),
                               "x").count(",") + 1)
        # Raw reads with our own line splitting: a buffered reader could hold a complete line
        # that select() no longer reports as readable.
        fd = self.proc.stdout.fileno()
        pending = b""
        while len(self.urls) < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise AssertionError(f"harrier-server not ready in {START_TIMEOUT} s; log:\n"
                                     + "".join(self.lines) + pending.decode(errors="replace"))
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"harrier-server exited with {self.proc.wait()} before it "
                                     "was ready; log:\n" + "".join(self.lines)
                                     + pending.decode(errors="replace"))
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line = raw.decode(errors="replace") + "\n"
                self.lines.append(line)
                m = LISTENING.search(line)
                if m:
                    self.urls.append(m.group(1))
        if pending:
            self.lines.append(pending.decode(errors="replace"))
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        m = re.match(r"http://\[?([^\]/]+?)\]?:(\d+)$", self.urls[0])
        if m:
            self.host, self.port = m.group(1), int(m.group(2))
        self.url = self.urls[0]
        return self

    def _drain(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            with self._lock:
                self.lines.append(chunk.decode(errors="replace"))

    def log(self):
        with self._lock:
            return "".join(self.lines)

    def wait_for_log(self, pattern, timeout=10.0):
        """Waits (bounded) until a log line matches pattern; returns the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            m = rx.search(self.log())
            if m:
                return m
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r} within {timeout} s; log:\n"
                             + self.log())

    def stop(self, sig=signal.SIGTERM):
        """Sends sig and returns the exit code (bounded wait)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(STOP_TIMEOUT, f"of {sig}")

    def wait_exit(self, timeout, after="being asked"):
        """Waits (bounded) for the process to exit and returns its code. The whole log is in
        log() by then: what the process wrote last is read before this returns."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"harrier-server did not exit within {timeout} s {after}")
        if self._reader:
            self._reader.join(timeout=5)
        if self.proc.stdout and not (self._reader and self._reader.is_alive()):
            self.proc.stdout.close()
        return code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc and self.proc.stdout and not (self._reader and self._reader.is_alive()):
            self.proc.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


def scrape_until(fetch, ready, timeout=10.0):
    """Calls fetch() (bounded, every 10 ms) until ready(result) holds, and returns the last
    result either way (the caller's assertions then say what is missing). For /metrics right
    after a request: the server records a request's duration once its response has gone out,
    so a client can read the response before the scrape shows it."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if ready(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.01)


def wait_for_active_requests(server, count, timeout=10.0):
    """Polls /metrics (bounded) until at least `count` requests are in flight, not counting the
    poll itself: the event that says a request reached its handler."""
    import http.client

    def scrape():
        conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        m = re.search(r"^http_server_active_requests (\S+)$", text, re.M)
        return float(m.group(1)) - 1 if m else 0.0

    if scrape_until(scrape, lambda active: active >= count, timeout) < count:
        raise AssertionError(f"fewer than {count} requests in flight after {timeout} s")


def connect(server, timeout=10.0):
    s = socket.create_connection((server.host, server.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_until_closed(sock, limit=1 << 20):
    """Reads until the peer closes (bounded by the socket timeout and `limit` bytes)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock, buffered=b""):
    """Reads one HTTP/1.1 response (Content-Length or chunked). Returns (status, headers, body,
    rest) where rest holds bytes after the response (pipelining)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a full response head; got {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    if "content-length" in headers:
        length = int(headers["content-length"][0])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed inside the body")
            rest += chunk
        return status, headers, rest[:length], rest[length:]
    if headers.get("transfer-encoding", [""])[0].lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += sock.recv(65536)
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                rest += sock.recv(65536)
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                return status, headers, body, rest
    return status, headers, b"", rest


def metric(server, name, **labels):
    """The value of one series in the server's /metrics (0 if the series is absent)."""
    with connect(server) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, body, _ = read_response(s)
    if status != 200:
        raise AssertionError(f"/metrics answered {status}")
    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    series = f"{name}{{{selector}}}" if labels else name
    for line in body.decode().splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


class ServerTestCase(unittest.TestCase):
    """A test case with one server for the whole class (start arguments in SERVER_ARGS)."""

    SERVER_ARGS = ()
    SERVER_ENV = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*cls.SERVER_ARGS, env=cls.SERVER_ENV).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"harrier-server exited with {code} on SIGTERM; log:\n{cls.server.log()}"
