"""Static files from --content-root over real TCP: large files go out with sendfile.

The middleware's rules (types, validators, ranges, traversal) are unit-tested in
tests/middleware; this suite checks the bytes that reach a real client on both backends,
including the zero-copy path that only a TCP transport takes, and a client that reads slowly
(so that sendfile finds the socket buffer full and has to wait for it).
"""

import hashlib
import http.client
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

LARGE_SIZE = 5 * 1024 * 1024 + 123  # far beyond the socket buffers, and not a round number


def make_root():
    root = tempfile.mkdtemp(prefix="harrier-static-")
    large = bytes((i * 7 + i // 4096) % 251 for i in range(LARGE_SIZE))
    with open(os.path.join(root, "large.bin"), "wb") as f:
        f.write(large)
    with open(os.path.join(root, "small.txt"), "wb") as f:
        f.write(b"small file\n")
    return root, large


class StaticFilesBase:
    IO = "auto"

    @classmethod
    def setUpClass(cls):
        cls.root, cls.large = make_root()
        cls.server = harness.Server("--content-root", cls.root, "--io", cls.IO).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.root, ignore_errors=True)
        assert code == 0, f"harrier-server exited with {code}; log:\n{cls.server.log()}"

    def get(self, path, headers=None, method="GET"):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=20)
        conn.request(method, path, headers=headers or {})
        res = conn.getresponse()
        body = res.read()
        conn.close()
        return res, body

    def test_dot_segments_are_resolved_and_never_climb_out_of_the_root(self):
        # RFC 3986 5.2.4: /static/sub/../small.txt is /static/small.txt.
        res, body = self.get("/static/sub/./../small.txt")
        self.assertEqual(res.status, 200)
        self.assertEqual(body, b"small file\n")
        for path in ("/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd"):
            with self.subTest(path=path):
                res, _ = self.get(path)
                self.assertEqual(res.status, 404)

    def test_served_files_are_counted_under_one_route_template_not_an_empty_one(self):
        for _ in range(2):
            res, _ = self.get("/static/small.txt")
            self.assertEqual(res.status, 200)
        def static_count_lines(metrics):
            return [l for l in metrics.decode().splitlines()
                    if l.startswith("http_server_request_duration_seconds_count{")
                    and 'method="GET",route="/static/{**path}",status="200"' in l]

        def counted_twice(res_body):
            lines = static_count_lines(res_body[1])
            return len(lines) == 1 and float(lines[0].split()[-1]) >= 2

        _, metrics = harness.scrape_until(lambda: self.get("/metrics"), counted_twice)
        lines = static_count_lines(metrics)
        self.assertEqual(len(lines), 1, metrics.decode())
        self.assertGreaterEqual(float(lines[0].split()[-1]), 2)

    def test_a_large_file_arrives_whole_with_its_length(self):
        res, body = self.get("/static/large.bin")
        self.assertEqual(res.status, 200)
        self.assertEqual(int(res.getheader("Content-Length")), LARGE_SIZE)
        self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(self.large).digest())

    def test_a_range_of_a_large_file_is_exactly_those_bytes(self):
        first, last = 1_000_001, 4_500_000
        res, body = self.get("/static/large.bin", {"Range": f"bytes={first}-{last}"})
        self.assertEqual(res.status, 206)
        self.assertEqual(res.getheader("Content-Range"), f"bytes {first}-{last}/{LARGE_SIZE}")
        self.assertEqual(body, self.large[first:last + 1])

    def test_head_of_a_large_file_has_the_length_and_no_body(self):
        res, body = self.get("/static/large.bin", method="HEAD")
        self.assertEqual(res.status, 200)
        self.assertEqual(int(res.getheader("Content-Length")), LARGE_SIZE)
        self.assertEqual(body, b"")

    def test_head_ignores_range(self):
        # RFC 9110 14.2: Range is defined for GET only; on HEAD it MUST be ignored.
        res, body = self.get("/static/large.bin", {"Range": "bytes=0-4"}, method="HEAD")
        self.assertEqual(res.status, 200)
        self.assertIsNone(res.getheader("Content-Range"))
        self.assertEqual(int(res.getheader("Content-Length")), LARGE_SIZE)
        self.assertEqual(body, b"")

    def test_a_slow_reader_gets_every_byte_and_the_connection_stays_usable(self):
        # A small receive buffer and pauses: the server's sendfile keeps finding the socket full.
        with socket.create_connection((self.server.host, self.server.port), timeout=20) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
            request = b"GET /static/large.bin HTTP/1.1\r\nHost: x\r\n\r\n"
            s.sendall(request + b"GET /static/small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            reads = 0
            deadline = time.monotonic() + 60
            expected_tail = b"small file\n"
            while not data.endswith(expected_tail):
                self.assertLess(time.monotonic(), deadline, "the response did not complete")
                chunk = s.recv(65536)
                self.assertTrue(chunk, "the server closed the connection early")
                data += chunk
                reads += 1
                if reads % 50 == 0:
                    time.sleep(0.01)
            head, _, rest = data.partition(b"\r\n\r\n")
            self.assertIn(b"200 OK", head)
            self.assertEqual(rest[:LARGE_SIZE], self.large)
            self.assertIn(b"Content-Length: 11", rest[LARGE_SIZE:])

    def test_a_client_leaving_mid_file_harms_no_other_request(self):
        for _ in range(5):
            s = socket.create_connection((self.server.host, self.server.port), timeout=10)
            s.sendall(b"GET /static/large.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(1000)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # reset while the server is inside sendfile
        res, body = self.get("/static/large.bin")
        self.assertEqual(res.status, 200)
        self.assertEqual(len(body), LARGE_SIZE)
        self.assertEqual(self.get("/static/small.txt")[1], b"small file\n")


class StaticFilesIoUring(StaticFilesBase, unittest.TestCase):
    IO = "auto"  # io_uring where the kernel allows it


class StaticFilesEpoll(StaticFilesBase, unittest.TestCase):
    IO = "epoll"


if __name__ == "__main__":
    unittest.main()
