"""Hostile and well-behaved clients at once, on each backend, then a graceful stop.

For a few seconds: wrk at 16 connections; two keep-alive clients checking every /json answer and
its latency; connections cut at random points of partial requests, half of them with a reset;
malformed and oversized requests; 1 MiB chunked uploads echoed back while their response is read
slowly; a connection of blocking /sync/sleep requests; clients that give up on /async/delay.
Then SIGTERM. Each backend runs in its default topology and in one other (epoll with its I/O
thread, io_uring with inline dispatch). Every good answer must be right, the server must exit
with 0, and it must log no error (a sanitizer build's reports land in the same log). This is the
test that found a phantom pending operation in the epoll backend (shutdown waited 2 s and
logged an error).
"""

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

DURATION = 6.0
JSON = b'{"message":"Hello, World!"}'
MAX_LATENCY = 5.0  # generous: a sanitizer build on a busy 2-core machine


def read_response(sock, rest=b""):
    status, headers, body, rest = harness.read_response(sock, rest)
    return status, body, rest


class HostileMix(unittest.TestCase):
    def run_mix(self, backend, *extra):
        server = harness.Server("--io", backend, *extra).start()
        stop_at = time.monotonic() + DURATION
        errors = []
        counts = {}
        lock = threading.Lock()

        def count(kind):
            with lock:
                counts[kind] = counts.get(kind, 0) + 1

        def connect(timeout=10.0):
            return harness.connect(server, timeout)

        def checker():
            with connect() as s:
                rest = b""
                while time.monotonic() < stop_at:
                    started = time.monotonic()
                    s.sendall(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
                    status, body, rest = read_response(s, rest)
                    took = time.monotonic() - started
                    if status != 200 or body != JSON or took > MAX_LATENCY:
                        errors.append(("checker", status, body[:60], took))
                    count("checker")
                    time.sleep(0.002)

        partial = [
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 50000,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n"
            + b"b" * 3000,
            b"GET /async/delay?ms=30 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /sync/sleep?ms=5 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n" * 20,
        ]

        def cutter(seed):
            rng = random.Random(seed)
            while time.monotonic() < stop_at:
                raw = rng.choice(partial)
                s = connect()
                try:
                    s.sendall(raw[:rng.randint(1, len(raw))])
                    if rng.random() < 0.5:  # close with a reset
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
                s.close()
                count("cut")

        bad = [
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n"
            b"\r\n0\r\n\r\n",
            b"GET /\x00 HTTP/1.1\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"v" * 40000 + b"\r\n\r\n",
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;"
            + b"e" * 30000 + b"\r\nabc\r\n0\r\n\r\n",
        ]

        def hostile(seed):
            rng = random.Random(seed)
            while time.monotonic() < stop_at:
                raw = rng.choice(bad) if rng.random() < 0.8 else rng.randbytes(300)
                s = connect()
                try:
                    s.sendall(raw)
                    s.shutdown(socket.SHUT_WR)
                    head = harness.recv_until_closed(s)
                    if head and not re.match(rb"HTTP/1\.1 (4\d\d|5\d\d) ", head):
                        errors.append(("hostile", raw[:40], head[:80]))
                except OSError:
                    pass
                s.close()
                count("hostile")

        def uploader():
            data = random.Random(7).randbytes(1 << 20)
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 65536]), data[i:i + 65536])
                              for i in range(0, len(data), 65536))
            request = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       b"Content-Type: application/octet-stream\r\n\r\n" + chunks + b"0\r\n\r\n")
            while time.monotonic() < stop_at:
                with connect() as s:
                    writer = threading.Thread(target=s.sendall, args=(request,))
                    writer.start()
                    time.sleep(0.02)  # the response waits in the server: back-pressure
                    status, body, _ = read_response(s)
                    writer.join(timeout=30)
                    if status != 200 or body != data:
                        errors.append(("upload", status, len(body)))
                count("upload")

        def blocker():
            with connect() as s:
                rest = b""
                while time.monotonic() < stop_at:
                    s.sendall(b"GET /sync/sleep?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n")
                    status, _, rest = read_response(s, rest)
                    if status != 200:
                        errors.append(("sleep", status))
                    count("sleep")

        def canceller():
            while time.monotonic() < stop_at:
                with connect() as s:
                    s.sendall(b"GET /async/delay?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n")
                    time.sleep(0.01)
                count("cancel")

        def guarded(fn, *args):
            def body():
                try:
                    fn(*args)
                except Exception as e:  # noqa: BLE001 - reported as a failure below
                    errors.append((fn.__name__, repr(e)))
            return threading.Thread(target=body)

        wrk = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{int(DURATION)}s", "--latency",
                                server.url + "/plaintext"], stdout=subprocess.PIPE, text=True)
        threads = [guarded(checker), guarded(checker), guarded(cutter, 1), guarded(cutter, 2),
                   guarded(hostile, 3), guarded(uploader), guarded(blocker), guarded(canceller)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DURATION + 60)
        wrk_out = wrk.communicate(timeout=60)[0]
        code = server.stop()
        log = server.log()

        self.assertFalse(any(t.is_alive() for t in threads), "a client did not finish")
        self.assertEqual(errors, [], f"{backend}: wrong answers or client failures")
        for kind in ("checker", "cut", "hostile", "upload", "sleep", "cancel"):
            self.assertGreater(counts.get(kind, 0), 0, f"{backend}: no {kind} round ran")
        self.assertRegex(wrk_out, r"\d+ requests in")
        self.assertNotIn("Non-2xx", wrk_out)
        self.assertEqual(code, 0, f"{backend}: exit code {code}; log:\n{log[-3000:]}")
        flagged = [line for line in log.splitlines()
                   if re.search(r" (error|critical) \[|Sanitizer|runtime error", line)]
        self.assertEqual(flagged, [], f"{backend}: the server logged errors")

    def test_io_uring(self):
        self.run_mix("io_uring")

    def test_epoll(self):
        self.run_mix("epoll")

    def test_epoll_with_its_io_thread(self):
        self.run_mix("epoll", "--workers-drive-io", "false")

    def test_io_uring_inline(self):
        self.run_mix("io_uring", "--dispatch", "inline")


if __name__ == "__main__":
    unittest.main()
