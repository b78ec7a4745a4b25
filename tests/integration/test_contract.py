"""The example server's contract (design.md): flags, routes, the listening line, SIGTERM."""

import http.client
import json
import os
import signal
import threading
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


class Routes(harness.ServerTestCase):
    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res, data

    def test_plaintext_says_hello_world_as_text(self):
        res, body = self.request("GET", "/plaintext")
        self.assertEqual(res.status, 200)
        self.assertEqual(body, b"Hello, World!")
        self.assertTrue(res.getheader("Content-Type").startswith("text/plain"))
        self.assertEqual(res.getheader("Server"), "harrier")
        self.assertRegex(res.getheader("Date"), r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")

    def test_json_returns_the_message_object(self):
        res, body = self.request("GET", "/json")
        self.assertEqual(res.status, 200)
        self.assertEqual(json.loads(body), {"message": "Hello, World!"})
        self.assertTrue(res.getheader("Content-Type").startswith("application/json"))

    def test_echo_returns_the_body_with_its_content_type(self):
        payload = bytes(range(256)) * 1000
        res, body = self.request("POST", "/echo", body=payload,
                                 headers={"Content-Type": "application/x-test"})
        self.assertEqual(res.status, 200)
        self.assertEqual(body, payload)
        self.assertEqual(res.getheader("Content-Type"), "application/x-test")

    def test_async_delay_waits_at_least_the_asked_time(self):
        start = time.monotonic()
        res, body = self.request("GET", "/async/delay?ms=50")
        self.assertEqual(res.status, 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.05)
        self.assertEqual(json.loads(body)["delayed_ms"], 50)

    def test_sync_routes_and_cpu_answer(self):
        for path, key in (("/sync/sleep?ms=10", "slept_ms"), ("/sync-over-async?ms=10", "waited_ms"),
                          ("/cpu?n=1000", "iterations")):
            with self.subTest(path=path):
                res, body = self.request("GET", path)
                self.assertEqual(res.status, 200)
                self.assertIn(key, json.loads(body))

    def test_a_bad_query_value_is_a_400_problem(self):
        res, body = self.request("GET", "/async/delay?ms=abc")
        self.assertEqual(res.status, 400)
        self.assertEqual(res.getheader("Content-Type"), "application/problem+json")
        problem = json.loads(body)
        self.assertEqual(problem["status"], 400)
        self.assertIn("ms", problem["detail"])
        self.assertIn("traceId", problem)
        res, _ = self.request("GET", "/async/delay?ms=999999999")
        self.assertEqual(res.status, 400)

    def test_a_query_value_that_is_not_utf8_or_well_escaped_is_a_400(self):
        # A value that decodes to invalid UTF-8 is quoted in the problem's detail (as U+FFFD): it
        # was a 500 and an error log line per request. A malformed escape is kept as it is (as
        # ASP.NET Core does), so it fails to parse: it read as absent, the default then served.
        for path in ("/async/delay?ms=%ff", "/cpu?n=%c3%28", "/sync/sleep?ms=%ed%a0%80",
                     "/async/delay?ms=%zz", "/async/delay?ms=%", "/cpu?n=%2"):
            with self.subTest(path=path):
                res, body = self.request("GET", path)
                self.assertEqual(res.status, 400)
                problem = json.loads(body)
                self.assertEqual(problem["status"], 400)
                if "%f" in path or "%c" in path or "%e" in path:
                    self.assertIn("\ufffd", problem["detail"])

    def test_healthz_is_healthy(self):
        res, body = self.request("GET", "/healthz")
        self.assertEqual(res.status, 200)
        self.assertEqual(body, b"Healthy")

    def test_an_absolute_form_target_is_routed_by_its_path(self):
        # RFC 9112 3.2.2: a server MUST accept the absolute-form (what clients send to proxies).
        port = self.server.port
        res, body = self.request("GET", f"http://127.0.0.1:{port}/plaintext")
        self.assertEqual(res.status, 200)
        self.assertEqual(body, b"Hello, World!")

    def test_an_unknown_path_is_404(self):
        res, _ = self.request("GET", "/no/such/path")
        self.assertEqual(res.status, 404)

    def test_a_wrong_method_is_405_with_allow(self):
        res, _ = self.request("POST", "/plaintext")
        self.assertEqual(res.status, 405)
        self.assertEqual(res.getheader("Allow"), "GET, HEAD, OPTIONS")  # OPTIONS is answered too
        res, _ = self.request("GET", "/echo")
        self.assertEqual(res.status, 405)
        self.assertEqual(res.getheader("Allow"), "POST, OPTIONS")

    def test_options_lists_the_allowed_methods(self):
        # RFC 9110 9.3.7: answered for routes without an OPTIONS endpoint, and for the server (*).
        res, body = self.request("OPTIONS", "/plaintext")
        self.assertEqual(res.status, 204)
        self.assertEqual(res.getheader("Allow"), "GET, HEAD, OPTIONS")
        self.assertEqual(body, b"")
        res, _ = self.request("OPTIONS", "*")
        self.assertEqual(res.status, 204)

    def test_empty_header_values_are_accepted(self):
        # RFC 9110 5.5: a field value may be empty; Python, curl and Node send such headers.
        res, body = self.request("POST", "/echo", body=b"hi",
                                 headers={"X-Empty": "", "Content-Type": "text/plain"})
        self.assertEqual(res.status, 200)
        self.assertEqual(body, b"hi")

    def test_an_upgrade_offer_is_ignored_and_the_connection_stays(self):
        # RFC 9110 7.8: a server MAY ignore Upgrade (curl --http2 offers h2c this way).
        s = harness.connect(self.server)
        try:
            s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                      b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
                      b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = harness.recv_until_closed(s)
        finally:
            s.close()
        self.assertEqual(data.count(b"HTTP/1.1 200 "), 2, data)

    def test_head_gets_the_get_headers_without_a_body(self):
        res, body = self.request("HEAD", "/plaintext")
        self.assertEqual(res.status, 200)
        self.assertEqual(body, b"")
        self.assertEqual(res.getheader("Content-Length"), "13")

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        for _ in range(50):
            conn.request("GET", "/plaintext")
            res = conn.getresponse()
            self.assertEqual(res.read(), b"Hello, World!")
        conn.close()

    def test_pipelined_requests_are_answered_in_order(self):
        s = harness.connect(self.server)
        paths = ["/plaintext", "/json", "/healthz", "/no/such"] * 4
        s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
        rest = b""
        for p in paths:
            status, _, body, rest = harness.read_response(s, rest)
            expected = {"/plaintext": b"Hello, World!", "/healthz": b"Healthy"}.get(p)
            if p == "/no/such":
                self.assertEqual(status, 404)
            elif expected is not None:
                self.assertEqual(body, expected)
            else:
                self.assertEqual(json.loads(body), {"message": "Hello, World!"})
        s.close()


class RequestTimeouts(harness.ServerTestCase):
    SERVER_ARGS = ("--request-timeout-ms", "200")

    def test_a_handler_past_the_request_timeout_is_cancelled_and_answered_503(self):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        start = time.monotonic()
        conn.request("GET", "/async/delay?ms=5000")
        res = conn.getresponse()
        body = json.loads(res.read())
        self.assertEqual(res.status, 503)
        self.assertIn("timed out", body["detail"])
        self.assertLess(time.monotonic() - start, 4.0)  # cancelled, not waited out
        conn.request("GET", "/async/delay?ms=10")  # same connection, within the timeout
        res = conn.getresponse()
        self.assertEqual(res.status, 200)
        res.read()
        conn.close()


class Lifecycle(unittest.TestCase):
    def test_sigterm_and_sigint_shut_down_gracefully_with_exit_code_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig):
                server = harness.Server().start()
                self.assertEqual(server.stop(sig), 0, server.log())

    def test_an_in_flight_request_finishes_during_shutdown_with_connection_close(self):
        server = harness.Server().start()
        s = harness.connect(server)
        s.sendall(b"GET /async/delay?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
        harness.wait_for_active_requests(server, 1)
        server.proc.send_signal(signal.SIGTERM)
        status, headers, body, _ = harness.read_response(s)
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("connection"), ["close"])
        self.assertEqual(server.stop(), 0)

    def test_a_blocking_request_neither_holds_new_connections_nor_misses_shutdown(self):
        # A connection's first request used to run inside the accept loop (epoll can complete
        # its receive at once): a handler that blocked held the loop, so no other connection was
        # served and SIGTERM's drain began only after the response, which lacked
        # Connection: close. Both backends, since only epoll showed it.
        for io in ("epoll", "io_uring"):
            with self.subTest(io=io):
                server = harness.Server("--io", io).start()
                s = harness.connect(server)
                s.sendall(b"GET /sync/sleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
                # Served while the first handler blocks: the scrape is a new connection.
                harness.wait_for_active_requests(server, 1, timeout=1.0)
                server.proc.send_signal(signal.SIGTERM)
                status, headers, _, _ = harness.read_response(s)
                self.assertEqual(status, 200)
                self.assertEqual(headers.get("connection"), ["close"])
                s.close()
                self.assertEqual(server.stop(), 0, server.log())

    def test_requests_already_sent_are_answered_when_shutdown_finds_the_pool_busy(self):
        # 12 requests on 12 connections against 2 threads that the first two block: the others
        # wait for a worker, the accept loop too. SIGTERM then closed the listener with them
        # accepted by the I/O side but not yet taken by the loop (reset), or took them and
        # closed them as idle; their requests were already sent, so they are in flight. The
        # loop that takes them runs on the same starved pool, so its 50 ms window could pass
        # while it waited for a worker: what is left is taken without waiting (try_accept).
        # It failed in CI with 1-4 of 12 closed unanswered: stop() returned while connections it
        # had taken at shutdown still ran, when every earlier one had finished just before they
        # were handed off, and the I/O stopped under them (server::connection_finished). Debug
        # level, and the log read after the server exited, so that a failure shows all of it.
        server = harness.Server("--max-threads", "2", "--log-level", "debug").start()
        count = 12
        results = []
        sent = threading.Semaphore(0)  # released once per request written to its socket

        def one():
            conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
            try:
                try:
                    conn.request("GET", "/sync/sleep?ms=500")
                finally:
                    sent.release()
                res = conn.getresponse()
                res.read()
                results.append((res.status, res.getheader("Connection")))
            except (OSError, http.client.HTTPException) as e:
                results.append((repr(e), None))
            finally:
                conn.close()

        clients = [threading.Thread(target=one) for _ in range(count)]
        for c in clients:
            c.start()
        # Every request is in the kernel before SIGTERM: a request not yet written when the
        # server shuts down may rightly find its connection closed (a fixed 0.3 s sleep was not
        # always enough for 12 client threads on a loaded CI machine: 4 of 12 failed once).
        for _ in range(count):
            self.assertTrue(sent.acquire(timeout=10), "a client did not send its request in 10 s")
        # For the scenario, not the result: by then the first two usually block both threads
        # (no event can say so: the starved pool cannot serve a /metrics scrape).
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        for c in clients:
            c.join(timeout=30)
        rc = server.stop()
        self.assertEqual(len(results), count)
        self.assertEqual([r[0] for r in results], [200] * count,
                         f"{results}\nserver log:\n{server.log()}")
        self.assertEqual(rc, 0)

    def deadlocked_server(self):
        # Sync over async on a pool capped at one thread: the only worker waits for a
        # continuation that only a worker could run. Nothing ends that request.
        server = harness.Server("--max-threads", "1", "--shutdown-timeout-ms", "500").start()
        s = harness.connect(server)
        s.sendall(b"GET /sync-over-async?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        server.wait_for_log("blocked|Heartbeat took longer|still running", timeout=15)
        return server, s

    def test_a_handler_blocked_for_good_does_not_keep_the_process_after_the_timeout(self):
        server, s = self.deadlocked_server()
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.wait_exit(30)
        elapsed = time.monotonic() - started
        s.close()
        self.assertEqual(code, 0, server.log())
        self.assertGreaterEqual(elapsed, 1.5)  # the timeout (0.5 s), then 1 s for the aborted
        self.assertLess(elapsed, 4.0)  # not 5 s more, as it was
        self.assertIn("blocks its thread for good", server.log())

    def test_the_shutdown_timeout_ends_a_blocked_request_for_its_client_at_once(self):
        # The handler blocks its worker for 10 s and ignores its token. At the timeout the abort
        # shuts the socket down, so the client learns of it then, not when the process exits.
        server = harness.Server("--shutdown-timeout-ms", "500", "--blocking-warning-ms", "100").start()
        s = harness.connect(server)
        s.sendall(b"GET /sync/sleep?ms=10000 HTTP/1.1\r\nHost: x\r\n\r\n")
        # The blocking detector names it: the handler runs, and blocks.
        server.wait_for_log(r"Work item on thread \S+ has been running .*GET /sync/sleep", timeout=15)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        s.settimeout(10)
        try:
            ended = s.recv(4096)
        except ConnectionResetError:
            ended = b""
        closed_after = time.monotonic() - started
        code = server.wait_exit(30)
        elapsed = time.monotonic() - started
        s.close()
        self.assertEqual(code, 0, server.log())
        self.assertEqual(ended, b"")
        self.assertLess(closed_after, 1.3, "the client waited for the process to exit")
        self.assertGreaterEqual(elapsed, 1.4)  # the handler still blocked: the guard ended it
        self.assertLess(elapsed, 4.0)

    def test_readiness_turns_unhealthy_during_the_shutdown_delay(self):
        server = harness.Server("--shutdown-delay-ms", "3000").start()
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for_log("shutdown requested", timeout=10)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("GET", "/healthz")
        res = conn.getresponse()
        self.assertEqual((res.status, res.read()), (503, b"Unhealthy"))
        conn.close()
        self.assertEqual(server.stop(), 0)

    def test_two_urls_each_get_a_listening_line_with_the_real_port(self):
        server = harness.Server("--urls=http://127.0.0.1:0,http://[::1]:0").start()
        try:
            self.assertEqual(len(server.urls), 2)
            for url in server.urls:
                self.assertNotRegex(url, r":0$")
        finally:
            self.assertEqual(server.stop(), 0)

    def test_localhost_listens_on_both_loopbacks_with_one_port(self):
        # As Kestrel binds localhost: a client that resolves it to ::1 first (wrk does, where
        # /etc/hosts lists ::1 for localhost) must reach the server too.
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        server = harness.Server("--urls=http://LocalHost:0").start()
        try:
            self.assertRegex(server.url, r"^http://127\.0\.0\.1:\d+$")
            v6 = server.wait_for_log(r"listening on (http://\[::1\]:\d+)").group(1)
            self.assertEqual(v6.rsplit(":", 1)[1], str(server.port))
            for host in ("127.0.0.1", "[::1]"):
                out = subprocess.run(["curl", "-s", f"http://{host}:{server.port}/plaintext"],
                                     capture_output=True, timeout=10)
                self.assertEqual(out.stdout, b"Hello, World!", host)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_a_star_url_listens_on_every_ipv4_and_ipv6_address(self):
        # As Kestrel binds http://*:PORT and http://+:PORT: one dual-stack socket on [::].
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        for star in ("*", "+"):
            server = harness.Server(f"--urls=http://{star}:0").start()
            try:
                self.assertRegex(server.url, r"^http://\[::\]:\d+$")
                for host in ("127.0.0.1", "[::1]"):
                    out = subprocess.run(["curl", "-s", f"http://{host}:{server.port}/plaintext"],
                                         capture_output=True, timeout=10)
                    self.assertEqual(out.stdout, b"Hello, World!", (star, host))
            finally:
                self.assertEqual(server.stop(), 0)

    def test_a_unix_socket_url_is_served(self):
        path = f"/tmp/harrier-test-{os.getpid()}.sock"
        server = harness.Server("--urls", f"http://unix:{path}").start()
        try:
            out = subprocess.run(["curl", "-s", "--unix-socket", path, "http://x/plaintext"],
                                 capture_output=True, timeout=10)
            self.assertEqual(out.stdout, b"Hello, World!")
        finally:
            self.assertEqual(server.stop(), 0)

    def test_urls_can_come_from_the_environment(self):
        server = harness.Server("--urls", "http://127.0.0.1:0")
        server.args = []  # no --urls flag: HARRIER_URLS decides
        server.env["HARRIER_URLS"] = "http://127.0.0.1:0"
        server.start()
        self.assertEqual(server.stop(), 0)

    def test_help_documents_every_flag(self):
        out = subprocess.run([harness.SERVER, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        for flag in ("--urls", "--io", "--dispatch", "--min-threads", "--max-threads", "--config",
                     "--log-level", "/sync/sleep", "/sync-over-async"):
            self.assertIn(flag, out.stdout)

    def test_a_bad_flag_value_fails_at_start_naming_it(self):
        out = subprocess.run([harness.SERVER, "--io", "kqueue"], capture_output=True, text=True,
                             timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("kqueue", out.stderr)
        self.assertIn("io", out.stderr)
        out = subprocess.run([harness.SERVER, "--no-such-flag", "1"], capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("no-such-flag", out.stderr)

    def test_a_port_in_use_fails_at_start_with_exit_code_1_and_the_reason(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            proc = subprocess.run([harness.SERVER, "--urls", f"http://127.0.0.1:{port}"],
                                  capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("cannot start", proc.stdout + proc.stderr)
        self.assertIn("Address already in use", proc.stdout + proc.stderr)

    def test_a_config_file_sets_the_same_keys_as_the_flags(self):
        path = f"/tmp/harrier-test-{os.getpid()}.json"
        with open(path, "w") as f:
            json.dump({"io": "epoll", "dispatch": "inline", "min_threads": 2}, f)
        try:
            server = harness.Server("--config", path).start()
            self.assertIn("io: epoll", server.log())
            self.assertIn("dispatch: inline", server.log())
            self.assertEqual(server.stop(), 0)
        finally:
            os.remove(path)

    def test_both_backends_and_both_dispatch_modes_serve(self):
        for io in ("io_uring", "epoll"):
            for dispatch in ("pool", "inline"):
                with self.subTest(io=io, dispatch=dispatch):
                    server = harness.Server("--io", io, "--dispatch", dispatch).start()
                    try:
                        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
                        conn.request("GET", "/plaintext")
                        self.assertEqual(conn.getresponse().read(), b"Hello, World!")
                        conn.close()
                        self.assertIn(f"io: {io}", server.log())
                    finally:
                        self.assertEqual(server.stop(), 0)

    def test_pool_workers_drive_epoll_unless_told_not_to(self):
        # The topology is in the listening line: workers harvest epoll's events themselves by
        # default; --workers-drive-io false (or io_uring) keeps the I/O thread harvesting.
        cases = [(("--io", "epoll"), "dispatch: pool, workers drive I/O)"),
                 (("--io", "epoll", "--workers-drive-io", "false"), "dispatch: pool)"),
                 (("--io", "epoll", "--io-threads", "2"), "dispatch: pool)")]
        for args, expected in cases:
            with self.subTest(args=args):
                server = harness.Server(*args).start()
                try:
                    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
                    for _ in range(3):
                        conn.request("GET", "/plaintext")
                        self.assertEqual(conn.getresponse().read(), b"Hello, World!")
                    conn.close()
                    self.assertIn(expected, server.log())
                finally:
                    self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
