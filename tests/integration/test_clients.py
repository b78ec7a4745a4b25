"""Real clients against the real server: curl uploads, wrk, h2load and a bombardier-shaped
fasthttp client in bounded load runs, and the HTTP clients of Go's and Node's standard
libraries (keep-alive, Content-Length and chunked uploads, Expect: 100-continue, HEAD), and
Python's http.client uploading to a route that does not read the body."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

FASTHTTP_SOURCE = "/usr/share/gocode/src/github.com/valyala/fasthttp"  # Debian's package


class Clients(harness.ServerTestCase):
    def build_go(self, gopath, name, *more_gopath):
        """Builds clients/<name>.go (GOPATH mode, offline: Debian's Go sources in
        /usr/share/gocode) into gopath; returns the binary's path."""
        binary = os.path.join(gopath, name)
        env = dict(os.environ, GO111MODULE="off", GOPATH=":".join([gopath, *more_gopath]),
                   GOFLAGS="")
        env.setdefault("GOCACHE", os.path.join(tempfile.gettempdir(),
                                               f"harrier-go-cache-{os.getuid()}"))
        built = subprocess.run(["go", "build", "-o", binary,
                                os.path.join(os.path.dirname(__file__), "clients", f"{name}.go")],
                               env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(built.returncode, 0, built.stderr)
        return binary

    def curl(self, *args):
        out = subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_curl_uploads_with_content_length(self):
        payload = os.urandom(300_000)
        path = f"/tmp/harrier-upload-{os.getpid()}"
        with open(path, "wb") as f:
            f.write(payload)
        try:
            got = self.curl("--data-binary", f"@{path}", "-H", "Content-Type: application/x-bin",
                            f"{self.server.url}/echo")
        finally:
            os.remove(path)
        self.assertEqual(got, payload)

    def test_curl_uploads_chunked(self):
        payload = os.urandom(200_000)
        path = f"/tmp/harrier-upload-chunked-{os.getpid()}"
        with open(path, "wb") as f:
            f.write(payload)
        try:
            got = self.curl("--data-binary", f"@{path}", "-H", "Transfer-Encoding: chunked",
                            "-H", "Content-Type: application/x-bin", f"{self.server.url}/echo")
        finally:
            os.remove(path)
        self.assertEqual(got, payload)

    def test_curl_with_expect_100_continue(self):
        payload = b"x" * 2_000_000  # curl sends Expect: 100-continue for large bodies
        got = subprocess.run(["curl", "-sS", "--max-time", "20", "--data-binary", "@-",
                              "-H", "Expect: 100-continue", f"{self.server.url}/echo"],
                             input=payload, capture_output=True, timeout=30)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(got.stdout, payload)

    def test_curl_with_raw_utf8_in_the_url(self):
        # curl sends a URL's non-ASCII bytes as they are, unencoded; nginx, Go and Node serve them.
        got = self.curl("-w", "%{http_code}", f"{self.server.url}/plaintext?q=caf\u00e9")
        self.assertEqual(got, b"Hello, World!200")

    @unittest.skipIf(shutil.which("wrk") is None, "wrk is not installed")
    def test_wrk_two_seconds_without_errors(self):
        for path in ("/plaintext", "/json"):
            with self.subTest(path=path):
                out = subprocess.run(["wrk", "-t2", "-c64", "-d2s", "--timeout", "5s",
                                      f"{self.server.url}{path}"],
                                     capture_output=True, text=True, timeout=60).stdout
                self.assertNotIn("Socket errors", out, out)
                self.assertNotIn("Non-2xx", out, out)
                requests = int(re.search(r"(\d+) requests in", out).group(1))
                self.assertGreater(requests, 1000, out)

    @unittest.skipIf(shutil.which("h2load") is None, "h2load is not installed")
    def test_h2load_h1_without_errors(self):
        out = subprocess.run(["h2load", "--h1", "-n", "20000", "-c", "32", "-m", "4",
                              f"{self.server.url}/plaintext"],
                             capture_output=True, text=True, timeout=60).stdout
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m.group(4)), 20000, out)
        self.assertEqual(int(m.group(5)), 0, out)
        self.assertEqual(int(m.group(6)), 0, out)
        self.assertIn("status codes: 20000 2xx", out)

    @unittest.skipIf(shutil.which("go") is None or not os.path.isdir(FASTHTTP_SOURCE),
                     "go or Debian's golang-github-valyala-fasthttp-dev is not installed")
    def test_fasthttp_client_as_bombardier_uses_it(self):
        # bombardier is not in Debian; clients/fasthttp_load.go drives the server as it does.
        with tempfile.TemporaryDirectory() as gopath:
            binary = self.build_go(gopath, "fasthttp_load", "/usr/share/gocode")
            addr = self.server.url.removeprefix("http://")
            payload = "".join(chr(ord("a") + i % 26) for i in range(65_536))
            runs = {
                "plaintext": ["-path", "/plaintext", "-n", "20000", "-expect", "Hello, World!"],
                "json": ["-path", "/json", "-n", "5000"],
                "head": ["-path", "/plaintext", "-method", "HEAD", "-n", "2000"],
                "upload": ["-path", "/echo", "-method", "POST", "-body", payload, "-c", "32",
                           "-n", "1000", "-expect", payload],
                "chunked upload": ["-path", "/echo", "-method", "POST", "-body", payload,
                                   "-stream", "-c", "32", "-n", "1000", "-expect", payload],
            }
            for name, args in runs.items():
                with self.subTest(run=name):
                    out = subprocess.run([binary, "-addr", addr, *args], capture_output=True,
                                         text=True, timeout=120)
                    self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_python_uploading_with_connection_close_to_a_route_that_ignores_the_body(self):
        # Python's http.client writes the whole body before it reads. /plaintext answers 405
        # without reading it, and Connection: close ends the connection after the response:
        # the server must read and drop the rest (a lingering close) rather than close with it
        # unread, whose reset ended every such upload with a broken pipe and no response.
        import http.client
        body = bytes(range(256)) * (16 * 1024)  # 4 MiB
        for io in ("io_uring", "epoll"):
            with self.subTest(io=io), harness.Server("--io", io) as server:
                for _ in range(4):
                    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
                    try:
                        conn.request("POST", "/plaintext", body=body,
                                     headers={"Connection": "close"})
                        response = conn.getresponse()
                        self.assertEqual(response.status, 405)
                        response.read()
                    finally:
                        conn.close()

    @unittest.skipIf(shutil.which("go") is None, "go is not installed")
    def test_go_net_http_client(self):
        with tempfile.TemporaryDirectory() as gopath:
            binary = self.build_go(gopath, "nethttp_client")
            out = subprocess.run([binary, "-url", self.server.url], capture_output=True,
                                 text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    @unittest.skipIf(shutil.which("node") is None, "node (Debian's nodejs) is not installed")
    def test_node_http_client(self):
        out = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "clients",
                                                   "node_client.js"), str(self.server.port)],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
