"""Application-wide settings every app built on the builder understands: --compression and
--forwarded-headers (with --known-proxies/--known-networks), through the real harrier-server."""

import gzip
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TEXT = ("harrier compresses what is worth compressing. " * 2000).encode()


def request(server, path, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    res = conn.getresponse()
    body = res.read()
    conn.close()
    return res, body


def wait_for_log(server, needle, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in server.log():
            return True
        time.sleep(0.02)
    return False


class Compression(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="harrier-settings-")
        with open(os.path.join(cls.root, "big.txt"), "wb") as f:
            f.write(TEXT)
        cls.server = harness.Server("--content-root", cls.root, "--compression", "true").start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.root, ignore_errors=True)
        assert code == 0, cls.server.log()

    def test_a_client_accepting_gzip_gets_gzip_that_decodes_to_the_file(self):
        res, body = request(self.server, "/static/big.txt", {"Accept-Encoding": "gzip"})
        self.assertEqual(res.status, 200)
        self.assertEqual(res.getheader("Content-Encoding"), "gzip")
        self.assertEqual(res.getheader("Vary"), "Accept-Encoding")
        self.assertLess(len(body), len(TEXT) // 10)
        self.assertEqual(gzip.decompress(body), TEXT)

    def test_a_client_without_accept_encoding_gets_the_identity_bytes(self):
        res, body = request(self.server, "/static/big.txt")
        self.assertIsNone(res.getheader("Content-Encoding"))
        self.assertEqual(body, TEXT)

    def test_curl_compressed_round_trips(self):
        out = subprocess.run(["curl", "-sS", "--compressed", "--max-time", "10",
                              f"{self.server.url}/static/big.txt"],
                             capture_output=True, check=True, timeout=20)
        self.assertEqual(out.stdout, TEXT)


class ForwardedHeaders(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server("--forwarded-headers", "true", "--request-log", "true").start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, cls.server.log()

    def test_the_client_behind_a_loopback_proxy_is_the_one_logged(self):
        res, _ = request(self.server, "/plaintext?from=proxy",
                         {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        self.assertEqual(res.status, 200)
        self.assertTrue(wait_for_log(self.server, "203.0.113.7 GET /plaintext?from=proxy"),
                        self.server.log())

    def test_without_the_header_the_peer_is_logged(self):
        request(self.server, "/plaintext?from=direct")
        self.assertTrue(wait_for_log(self.server, "127.0.0.1 GET /plaintext?from=direct"),
                        self.server.log())


class ForwardedRfc7239(unittest.TestCase):
    def test_forwarded_is_read_only_when_asked_for(self):
        for rfc7239, logged in (("true", "203.0.113.8"), ("false", "127.0.0.1")):
            with self.subTest(rfc7239=rfc7239):
                server = harness.Server("--forwarded-headers", "true", "--forwarded-rfc7239",
                                        rfc7239, "--request-log", "true").start()
                try:
                    request(server, "/plaintext?from=rfc7239",
                            {"Forwarded": 'for="203.0.113.8:4711";proto=https'})
                    self.assertTrue(wait_for_log(server, f"{logged} GET /plaintext?from=rfc7239"),
                                    server.log())
                finally:
                    self.assertEqual(server.stop(), 0)


class ForwardedHeadersOff(unittest.TestCase):
    def test_by_default_a_client_cannot_spoof_its_address(self):
        server = harness.Server("--request-log", "true").start()
        try:
            request(server, "/plaintext?from=spoof", {"X-Forwarded-For": "203.0.113.9"})
            self.assertTrue(wait_for_log(server, "127.0.0.1 GET /plaintext?from=spoof"),
                            server.log())
            self.assertNotIn("203.0.113.9", server.log())
        finally:
            self.assertEqual(server.stop(), 0)

    def test_a_bad_network_fails_at_start_naming_the_setting(self):
        proc = subprocess.run([harness.SERVER, "--urls", "http://127.0.0.1:0",
                               "--forwarded-headers", "true", "--known-networks", "10.0.0.0/99"],
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.returncode, 2, proc.stderr)  # a clear exit, not an abort (134)
        self.assertIn("known_networks", proc.stdout + proc.stderr)


class StartupErrors(unittest.TestCase):
    def run_server(self, *args):
        return subprocess.run([harness.SERVER, *args], capture_output=True, text=True, timeout=20)

    def test_a_bad_url_is_one_clear_line_and_exit_code_2(self):
        # These passed the option checks and then escaped as an exception (abort, exit 134).
        for url in ("garbage", "", "ftp://127.0.0.1:0", "https://127.0.0.1:0", "http://127.0.0.1",
                    "http://[::1]", "http://127.0.0.1:99999", "http://256.1.1.1:0",
                    "http://unix:"):
            with self.subTest(url=url):
                proc = self.run_server("--urls", url)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("URL" if url else "urls", proc.stderr)
                self.assertNotIn("terminate called", proc.stderr)

    def test_min_threads_above_max_threads_is_exit_code_2(self):
        proc = self.run_server("--urls", "http://127.0.0.1:0", "--min-threads", "8",
                               "--max-threads", "2")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("min_threads (8) is above max_threads (2)", proc.stderr)

    def test_a_max_below_the_processor_count_lowers_the_default_minimum(self):
        # The default minimum is the processor count (2 on the CI machine); --max-threads 1
        # used to refuse to start ("max_threads (1) must be >= min_threads (2)").
        server = harness.Server("--max-threads", "1").start()
        try:
            self.assertEqual(request(server, "/plaintext")[0].status, 200)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_a_trace_file_that_cannot_be_written_is_refused_at_start(self):
        proc = self.run_server("--urls", "http://127.0.0.1:0", "--trace",
                               "/nonexistent/dir/t.json")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("/nonexistent/dir", proc.stderr)

    def test_a_missing_default_content_root_is_said(self):
        # Started from a directory without examples/wwwroot: /static/ is off, and stderr says so.
        server = harness.Server()
        server.cwd = tempfile.mkdtemp()
        try:
            server.start()
            server.wait_for_log("no examples/wwwroot directory here", timeout=10)
        finally:
            self.assertEqual(server.stop(), 0)
            shutil.rmtree(server.cwd, ignore_errors=True)

    def test_the_url_scheme_is_case_insensitive(self):
        server = harness.Server("--urls=HTTP://127.0.0.1:0").start()
        try:
            self.assertEqual(request(server, "/plaintext")[0].status, 200)
        finally:
            self.assertEqual(server.stop(), 0)


class BodyLimit(unittest.TestCase):
    def test_echo_takes_a_body_above_the_default_limit_once_it_is_raised(self):
        # /echo had a 30,000,000-byte limit of its own, so raising the server's did nothing.
        body = b"x" * 30_000_100
        for limit in ("0", "40000000"):
            with self.subTest(limit=limit):
                server = harness.Server("--limits:max-request-body-size", limit).start()
                try:
                    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
                    conn.request("POST", "/echo", body=body)
                    res = conn.getresponse()
                    data = res.read()
                    conn.close()
                    self.assertEqual(res.status, 200)
                    self.assertEqual(len(data), len(body))
                finally:
                    self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
