"""Diagnostics of the real server: /metrics (promtool), /counters, traces, starvation warnings."""

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def get(server, path, timeout=30):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    conn.request("GET", path)
    res = conn.getresponse()
    body = res.read()
    conn.close()
    return res, body


def load(server, path, requests, connections=8):
    """Sends `requests` requests over `connections` keep-alive connections; bounded by count."""
    def worker(n):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        for _ in range(n):
            conn.request("GET", path)
            conn.getresponse().read()
        conn.close()
    threads = [threading.Thread(target=worker, args=(requests // connections,))
               for _ in range(connections)]
    for t in threads:
        t.start()
    return threads


class Metrics(harness.ServerTestCase):
    def test_metrics_are_prometheus_text_that_promtool_accepts(self):
        get(self.server, "/plaintext")
        res, body = harness.scrape_until(lambda: get(self.server, "/metrics"),
                                         lambda r: b'route="/plaintext"' in r[1])
        self.assertEqual(res.status, 200)
        self.assertTrue(res.getheader("Content-Type").startswith("text/plain; version=0.0.4"))
        text = body.decode()
        for name in ("http_server_request_duration_seconds_bucket", "http_server_active_requests",
                     "harrier_active_connections", "harrier_connections_total",
                     "harrier_connections_refused_total", "harrier_accept_failures_total",
                     "harrier_http_rejected_requests_total",
                     "harrier_thread_pool_threads", "harrier_thread_pool_queue_length",
                     "harrier_thread_pool_completed_items_total",
                     "harrier_thread_pool_adjustments_total", "harrier_thread_pool_blocked_threads",
                     "harrier_io_completions_total", "harrier_io_batched_waits_total",
                     "harrier_io_pending_operations",
                     "harrier_io_backend_info", "harrier_heartbeat_lag_seconds",
                     "process_cpu_seconds_total", "process_resident_memory_bytes"):
            self.assertIn(name, text)
        self.assertIn('route="/plaintext"', text)
        if shutil.which("promtool") is None:
            self.skipTest("promtool is not installed (Debian package prometheus)")
        out = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_counters_is_a_json_snapshot_with_a_timestamp(self):
        res, body = get(self.server, "/counters")
        self.assertEqual(res.status, 200)
        snapshot = json.loads(body)
        self.assertIn("timestamp", snapshot)
        self.assertEqual(snapshot["metrics"]["harrier_thread_pool_threads"]["type"], "gauge")

    def test_trace_endpoint_records_requests_for_the_asked_window(self):
        threads = load(self.server, "/plaintext", 400, connections=4)
        res, body = get(self.server, "/trace?seconds=1")
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(res.status, 200)
        events = json.loads(body)["traceEvents"]
        self.assertTrue(any(e["name"] == "request" and e["ph"] == "X" for e in events))
        res, _ = get(self.server, "/trace?seconds=0")
        self.assertEqual(res.status, 400)


class TraceFile(unittest.TestCase):
    def test_trace_flag_writes_adjustments_and_request_spans_at_shutdown(self):
        path = os.path.join(tempfile.mkdtemp(), "trace.json")
        server = harness.Server("--trace", path, "--min-threads", "1").start()
        for t in load(server, "/sync/sleep?ms=30", 64):
            t.join(timeout=60)
        self.assertEqual(server.stop(), 0)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
        names = {e["name"] for e in events}
        for name in ("request", "adjustment", "accept", "headers_parsed", "response_written",
                     "io_batch", "worker_start"):
            self.assertIn(name, names)
        adjustment = next(e for e in events if e["name"] == "adjustment")
        self.assertIn("reason", adjustment["args"])


class Starvation(unittest.TestCase):
    def test_the_heartbeat_warns_when_blocking_calls_starve_a_small_pool(self):
        server = harness.Server("--min-threads", "1", "--max-threads", "1").start()
        try:
            threads = load(server, "/sync/sleep?ms=400", 16, connections=8)
            server.wait_for_log(r"Heartbeat took longer than expected.*thread-pool starvation",
                                timeout=20)
            for t in threads:
                t.join(timeout=60)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_the_blocking_detector_names_the_request_and_the_stack_of_a_blocked_worker(self):
        # A 1 s block with a 300 ms threshold: reported while it blocks (scanned from the 1 s
        # heartbeat, it went unreported).
        server = harness.Server("--blocking-warning-ms", "300").start()
        try:
            threads = load(server, "/sync/sleep?ms=1000", 1, connections=1)
            m = server.wait_for_log(r"has been running for at least \d+ ms \(GET /sync/sleep\?ms=1000\)",
                                    timeout=20)
            self.assertIsNotNone(m)
            server.wait_for_log(r"nanosleep", timeout=5)  # the blocked thread's stack
            for t in threads:
                t.join(timeout=30)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_under_inline_dispatch_a_blocked_io_thread_is_warned_about_and_named(self):
        # Handlers run on the I/O thread: the pool is idle, so a probe posted there and a detector
        # watching only the pool saw nothing while every connection stalled.
        server = harness.Server("--dispatch", "inline", "--blocking-warning-ms", "300").start()
        try:
            threads = load(server, "/sync/sleep?ms=1000", 4, connections=2)
            server.wait_for_log(r"Work item on I/O thread harrier-io-0 has been running for at "
                                r"least \d+ ms \(GET /sync/sleep\?ms=1000\): a blocked I/O "
                                r"thread stalls every connection it serves", timeout=20)
            server.wait_for_log(r"Heartbeat took longer than expected \(\d+ ms waiting for an I/O "
                                r"thread\); this may be I/O thread starvation", timeout=20)
            for t in threads:
                t.join(timeout=60)
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
