"""harrier-counters (tools/counters/) against a running harrier-server and against a stand-in.

The stand-in (FakeCountersServer) serves GET /counters snapshots of the schema in
include/harrier/diagnostics/metric_exposition.hpp whose figures are known functions of time, so the
tool's arithmetic (rates over the server's timestamps, interval percentiles from histogram buckets,
CPU %) is checked exactly; it also serves chunked answers, a Unix socket, a 404 and non-JSON. The
real-server tests check that the tool reads harrier-server's own /counters under load. The browser
test of the dashboard (test_dashboard.py) reuses FakeCountersServer.

HARRIER_COUNTERS gives the tool, HARRIER_SERVER the server (harness.py); each test class is skipped
with a message when its binary is missing.
"""

import csv
import http.client
import io
import json
import math
import os
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness

COUNTERS = os.environ.get("HARRIER_COUNTERS", "build/dev/tools/counters/harrier-counters")
TOOL_TIMEOUT = 30.0  # bound on every tool run

# The stand-in's figures, as functions of t = seconds since it started.
REQUESTS_PER_SECOND = 200.0
COMPLETED_PER_SECOND = 1000.0
CPU_CORES_BUSY = 0.5  # CPU seconds per second: 50 %
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
# Every request lands in the (0.01, 0.025] bucket: p50 = 10 + 15 * 0.5 = 17.5 ms and
# p99 = 10 + 15 * 0.99 = 24.85 ms by linear interpolation inside the bucket.
EXPECTED_P50_MS = 17.5
EXPECTED_P99_MS = 24.85
REJECTIONS = {"missing_host": 4, "headers_too_large": 3}  # the dashboard shows their sum
ACCEPT_FAILURES = 6
ADJUSTMENT_EVERY_SECONDS = 0.4  # a "Starvation" adjustment every 0.4 s, "Warmup" once at start


def run_tool(*args, timeout=TOOL_TIMEOUT):
    return subprocess.run([COUNTERS, *args], capture_output=True, text=True, timeout=timeout)


def gauge(value, help_text="", labels=None):
    return {"type": "gauge", "help": help_text,
            "series": [{"labels": labels or {}, "value": value}]}


def counter(value, help_text="", labels=None):
    return dict(gauge(value, help_text, labels), type="counter")


class FakeCountersServer:
    """A stand-in for harrier-server's /counters (and /dashboard, when given a page), on loopback
    TCP port 0 or on a Unix socket."""

    def __init__(self, dashboard_page=None, unix_path=None, counters_status=200):
        self.start_time = None  # t = 0 at the first snapshot: the histogram then has no series
        self.dashboard_page = dashboard_page
        self.counters_status = counters_status  # anything but 200 answers /counters with it
        self.requests_served = 0
        self.paths = []  # every path asked for, in order
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def address_string(self):
                return "stand-in"

            def do_GET(self):
                fake.requests_served += 1
                path = self.path.split("?")[0]
                fake.paths.append(path)
                if path == "/counters" and fake.counters_status != 200:
                    body = b"unavailable"
                    self.send_response(fake.counters_status)
                elif path in ("/counters", "/chunked/counters"):
                    body = json.dumps(fake.snapshot()).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    if path.startswith("/chunked"):
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for i in range(0, len(body), 100):
                            piece = body[i:i + 100]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.write(b"0\r\n\r\n")
                        return
                elif path == "/not-json/counters":
                    body = b"<html>hello</html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                elif path == "/dashboard" and fake.dashboard_page is not None:
                    body = fake.dashboard_page
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                else:
                    body = b"not found"
                    self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        if unix_path:
            class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
                daemon_threads = True

                def get_request(self):
                    conn, _ = super().get_request()
                    return conn, ("unix", 0)

            self.httpd = UnixHTTPServer(unix_path, Handler)
            self.url = f"http://unix:{unix_path}"
        else:
            self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.httpd.daemon_threads = True
            self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def snapshot(self):
        now = time.time()
        if self.start_time is None:
            self.start_time = now
        t = now - self.start_time
        requests = int(REQUESTS_PER_SECOND * t)
        buckets = [0] * (len(BUCKETS) + 1)
        buckets[2] = requests
        adjustments = {"Warmup": 1, "Starvation": int(t / ADJUSTMENT_EVERY_SECONDS)}
        threads = 4 + adjustments["Starvation"]
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)
        return {
            "timestamp": iso,
            "timestamp_unix_seconds": now,
            "metrics": {
                "http_server_request_duration_seconds": {
                    "type": "histogram", "help": "Duration of HTTP server requests, in seconds.",
                    "bucket_bounds": BUCKETS,
                    # Like a histogram vec before its first request: no series at all.
                    "series": [] if requests == 0 else [
                               {"labels": {"method": "GET", "route": "/plaintext", "status": "200"},
                                "count": requests, "sum": requests * 0.0175,
                                "p50": 0.0175 if requests else None,
                                "p90": 0.0235 if requests else None,
                                "p99": 0.02485 if requests else None,
                                "bucket_counts": buckets}]},
                "http_server_active_requests": gauge(2),
                "harrier_active_connections": gauge(5),
                "harrier_thread_pool_threads": gauge(threads),
                "harrier_thread_pool_thread_goal": gauge(threads + 2),
                "harrier_thread_pool_queue_length": gauge(3),
                "harrier_thread_pool_completed_items_total": counter(COMPLETED_PER_SECOND * t),
                "harrier_thread_pool_adjustments_total": {
                    "type": "counter", "help": "Number of thread-count adjustments, by reason.",
                    "series": [{"labels": {"reason": r}, "value": v}
                               for r, v in adjustments.items()]},
                "process_cpu_seconds_total": counter(CPU_CORES_BUSY * t),
                "harrier_heartbeat_lag_seconds": gauge(0.012),
                "harrier_http_rejected_requests_total": {
                    "type": "counter", "help": "Rejected requests, by reason.",
                    "series": [{"labels": {"reason": r}, "value": v}
                               for r, v in REJECTIONS.items()]},
                "harrier_accept_failures_total": counter(ACCEPT_FAILURES),
            },
        }

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def table_figures(output):
    """The monitor table's rows as {label: value string}."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("    ") and line.strip():
            label, value = line.strip().rsplit(None, 1)
            rows[label.strip()] = value
    return rows


@unittest.skipUnless(os.path.exists(COUNTERS), f"harrier-counters not found at {COUNTERS} "
                     "(set HARRIER_COUNTERS)")
class CountersToolAgainstStandInTests(unittest.TestCase):
    """Exact figures from a stand-in whose counters are known functions of time."""

    def assert_close(self, actual, expected, relative, what):
        self.assertTrue(math.isclose(float(actual), expected, rel_tol=relative),
                        f"{what}: got {actual}, expected {expected} within {relative:.0%}")

    def check_table(self, output):
        rows = table_figures(output)
        self.assertEqual(rows["Thread pool queue length"], "3")
        self.assertEqual(rows["Current requests"], "2")
        self.assertEqual(rows["Current connections"], "5")
        self.assert_close(rows["Requests (/s)"], REQUESTS_PER_SECOND, 0.05, "requests/s")
        self.assert_close(rows["Completed work items (/s)"], COMPLETED_PER_SECOND, 0.01, "items/s")
        self.assert_close(rows["Request duration p50 (ms)"], EXPECTED_P50_MS, 0.01, "p50")
        self.assert_close(rows["Request duration p99 (ms)"], EXPECTED_P99_MS, 0.01, "p99")
        self.assert_close(rows["CPU usage (%)"], CPU_CORES_BUSY * 100, 0.01, "CPU %")
        self.assertEqual(rows["Heartbeat lag (ms)"], "12")
        self.assertEqual(int(rows["Thread pool thread goal"]),
                         int(rows["Thread pool threads"]) + 2)

    def test_monitor_once_prints_one_table_of_the_figures(self):
        with FakeCountersServer() as fake:
            result = run_tool("monitor", "--once", "--interval", "0.5", "--url", fake.url)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"[harrier] {fake.url}", result.stdout)
        self.assertEqual(result.stdout.count("Press Ctrl-C"), 1)
        self.check_table(result.stdout)

    def test_monitor_reads_chunked_answers(self):
        with FakeCountersServer() as fake:
            result = run_tool("monitor", "--once", "--interval", "0.3", "--url",
                              fake.url + "/chunked")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.check_table(result.stdout)

    def test_monitor_reaches_a_server_on_a_unix_socket(self):
        with tempfile.TemporaryDirectory() as tmp:
            with FakeCountersServer(unix_path=os.path.join(tmp, "harrier.sock")) as fake:
                result = run_tool("monitor", "--once", "--interval", "0.3", "--url", fake.url)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.check_table(result.stdout)

    def test_monitor_redraws_until_interrupted(self):
        with FakeCountersServer() as fake:
            proc = subprocess.Popen([COUNTERS, "monitor", "--interval", "0.2", "--url", fake.url],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + TOOL_TIMEOUT
            while fake.requests_served < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            proc.send_signal(2)  # SIGINT, as Ctrl-C
            out, err = proc.communicate(timeout=TOOL_TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        self.assertGreaterEqual(out.count("[harrier]"), 3)

    def test_collect_writes_csv_samples(self):
        with FakeCountersServer() as fake, tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "samples.csv")
            result = run_tool("collect", "--url", fake.url, "--format", "csv", "--duration", "2",
                              "--interval", "0.5", "-o", path)
            self.assertEqual(result.returncode, 0, result.stderr)
            with open(path) as f:
                rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 4)
        for row in rows:
            self.assert_close(row["requests_per_second"], REQUESTS_PER_SECOND, 0.05, "requests/s")
            self.assert_close(row["p99_latency_ms"], EXPECTED_P99_MS, 0.01, "p99")
            self.assert_close(row["cpu_percent"], CPU_CORES_BUSY * 100, 0.01, "CPU %")
            self.assertEqual(row["queue_length"], "3")
        totals = [float(r["requests_total"]) for r in rows]
        self.assertEqual(totals, sorted(totals))
        self.assertGreater(totals[-1], totals[0])

    def test_collect_writes_json_samples(self):
        with FakeCountersServer() as fake, tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "samples.json")
            result = run_tool("collect", "--url", fake.url, "--format", "json", "--duration", "2",
                              "--interval", "0.5", "-o", path)
            self.assertEqual(result.returncode, 0, result.stderr)
            with open(path) as f:
                doc = json.load(f)
        self.assertEqual(doc["url"], fake.url)
        self.assertEqual(doc["interval_seconds"], 0.5)
        self.assertEqual(len(doc["samples"]), 4)
        for sample in doc["samples"]:
            self.assert_close(sample["completed_items_per_second"], COMPLETED_PER_SECOND, 0.01,
                              "items/s")
            self.assert_close(sample["p50_latency_ms"], EXPECTED_P50_MS, 0.01, "p50")
            self.assertEqual(sample["active_connections"], 5)
        stamps = [s["timestamp_unix_seconds"] for s in doc["samples"]]
        self.assertEqual(stamps, sorted(stamps))

    def test_an_unreachable_server_is_a_clear_error(self):
        with socket.socket() as s:  # a port nobody listens on: bound, never listening
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
            for args in (["monitor", "--once"], ["collect", "--duration", "1"]):
                result = run_tool(*args, "--url", url)
                self.assertEqual(result.returncode, 1)
                self.assertIn(f"cannot reach {url}: connection refused", result.stderr)
                self.assertEqual(result.stdout.strip().count("\n"), 0)  # at most a CSV header

    def test_a_silent_server_times_out(self):
        with socket.socket() as s:  # listens (the kernel completes connections) but never answers
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
            started = time.monotonic()
            result = run_tool("monitor", "--once", "--timeout", "0.3", "--url", url)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"cannot reach {url}: no answer within 300 ms", result.stderr)
        self.assertLess(time.monotonic() - started, 10)

    def test_a_server_without_counters_is_named(self):
        with FakeCountersServer() as fake:
            missing = run_tool("monitor", "--once", "--url", fake.url + "/nothing")
            not_json = run_tool("monitor", "--once", "--url", fake.url + "/not-json")
        self.assertEqual(missing.returncode, 1)
        self.assertIn(f"GET {fake.url}/nothing/counters answered 404", missing.stderr)
        self.assertEqual(not_json.returncode, 1)
        self.assertIn("did not answer a harrier JSON snapshot", not_json.stderr)

    def test_bad_arguments_print_the_usage(self):
        for args in ([], ["watch"], ["monitor", "--interval", "zero"], ["collect", "--format", "xml"],
                     ["monitor", "--url", "https://example.com"], ["monitor", "--duration", "3"],
                     ["collect", "--url"], ["monitor", "--url", "http://127.0.0.1:99999"],
                     ["monitor", "--url", "http://unix:relative.sock"], ["monitor", "--url", "http://"]):
            result = run_tool(*args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn("Usage:", result.stderr, args)
            self.assertIn("harrier-counters: ", result.stderr, args)
        self.assertIn("Usage:", run_tool("--help").stdout)


@unittest.skipUnless(os.path.exists(COUNTERS), f"harrier-counters not found at {COUNTERS} "
                     "(set HARRIER_COUNTERS)")
@unittest.skipUnless(os.path.exists(harness.SERVER), f"harrier-server not found at "
                     f"{harness.SERVER} (set HARRIER_SERVER)")
class CountersToolAgainstHarrierServerTests(harness.ServerTestCase):
    """The tool reads harrier-server's own /counters while a load runs."""

    SERVER_ARGS = ("--min-threads", "2")

    def setUp(self):
        self.stop_load = threading.Event()
        self.load = threading.Thread(target=self.run_load, daemon=True)
        self.load.start()

    def tearDown(self):
        self.stop_load.set()
        self.load.join(timeout=10)

    def run_load(self):
        """Keep-alive GET /plaintext until told to stop (or 60 s, so it always ends)."""
        deadline = time.monotonic() + 60
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        while not self.stop_load.is_set() and time.monotonic() < deadline:
            conn.request("GET", "/plaintext")
            conn.getresponse().read()
        conn.close()

    def test_monitor_once_shows_the_servers_figures(self):
        result = run_tool("monitor", "--once", "--interval", "0.5", "--url", self.server.url)
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = table_figures(result.stdout)
        for label in ("Thread pool threads", "Thread pool thread goal", "Thread pool queue length",
                      "Completed work items (/s)", "Requests (/s)", "Current requests",
                      "Current connections", "Request duration p50 (ms)",
                      "Request duration p99 (ms)", "CPU usage (%)", "Heartbeat lag (ms)"):
            self.assertIn(label, rows, result.stdout)
        self.assertGreater(float(rows["Requests (/s)"]), 0, result.stdout)
        self.assertGreaterEqual(float(rows["Current connections"]), 1, result.stdout)
        self.assertGreaterEqual(float(rows["Thread pool threads"]), 1, result.stdout)
        self.assertGreater(float(rows["CPU usage (%)"]), 0, result.stdout)

    def test_collect_csv_and_json_record_the_load(self):
        with tempfile.TemporaryDirectory() as tmp:
            for fmt in ("csv", "json"):
                path = os.path.join(tmp, f"samples.{fmt}")
                result = run_tool("collect", "--url", self.server.url, "--format", fmt,
                                  "--duration", "2", "--interval", "0.5", "-o", path)
                self.assertEqual(result.returncode, 0, result.stderr)
                with open(path) as f:
                    text = f.read()
                samples = (list(csv.DictReader(io.StringIO(text))) if fmt == "csv"
                           else json.loads(text)["samples"])
                self.assertEqual(len(samples), 4, text)
                totals = [float(s["requests_total"]) for s in samples]
                self.assertGreater(totals[-1], totals[0], text)
                self.assertTrue(all(float(s["requests_per_second"]) > 0 for s in samples), text)


if __name__ == "__main__":
    unittest.main()
