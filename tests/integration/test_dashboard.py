"""The dashboard page (GET /dashboard) in a real browser: Debian's headless Chromium.

Chromium runs with --dump-dom and a virtual-time budget: it loads the page, lets the page's timers
(the 500 ms polls of /counters) run for the budget, and prints the final DOM. The page mirrors its
state as JSON into <pre id="harrier-state"> (polls, errors, points per chart dataset, the first and
last figures, the adjustments it marked), which the tests read back.

- Against harrier-server under a /plaintext load: the charts got data points and the figures move.
- Against the stand-in of test_counters_tool.py (scripted counters, the page taken from
  HARRIER_DASHBOARD_PAGE or from harrier-server's /dashboard): the figures are exact, each rise of
  harrier_thread_pool_adjustments_total{reason} is marked with its reason, the page asks for
  nothing but /counters, and a failing /counters shows as an error.

Skipped with a message when chromium (Debian package `chromium`) is missing.
"""

import html
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from test_counters_tool import (ACCEPT_FAILURES, CPU_CORES_BUSY, EXPECTED_P50_MS, EXPECTED_P99_MS,
                                REJECTIONS, FakeCountersServer)

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
BROWSER_TIMEOUT = 120.0  # bound on one Chromium run (real time)
VIRTUAL_TIME_BUDGET_MS = 8000  # the page's own time: about 16 polls
STATE = re.compile(r'<pre id="harrier-state"[^>]*>(.*?)</pre>', re.S)
CHARTS = ("threads", "queue", "requests", "latency", "connections", "cpu")


def load_in_browser(url, budget_ms=VIRTUAL_TIME_BUDGET_MS):
    """Loads url in headless Chromium; returns (page state dict, final DOM text)."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
             f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
            capture_output=True, text=True, timeout=BROWSER_TIMEOUT)
    if result.returncode != 0:
        raise AssertionError(f"chromium exited with {result.returncode}:\n{result.stderr[-3000:]}")
    m = STATE.search(result.stdout)
    if not m:
        raise AssertionError("no #harrier-state in the page's DOM:\n" + result.stdout[-3000:])
    return json.loads(html.unescape(m.group(1))), result.stdout


def dashboard_page():
    """The page to serve from the stand-in: HARRIER_DASHBOARD_PAGE (the build's
    generated/dashboard/dashboard.html), else harrier-server's own GET /dashboard."""
    path = os.environ.get("HARRIER_DASHBOARD_PAGE")
    if path:
        with open(path, "rb") as f:
            return f.read()
    if not os.path.exists(harness.SERVER):
        return None
    with harness.Server() as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("GET", "/dashboard")
        response = conn.getresponse()
        body = response.read()
        conn.close()
    if response.status != 200:
        raise AssertionError(f"GET /dashboard answered {response.status}")
    return body


class DashboardAssertions:
    def assert_charts_have_points(self, state, at_least):
        self.assertIsNotNone(state["chartjs"], "Chart.js did not load")
        for chart in CHARTS:
            points = state["samples"].get(chart)
            self.assertIsNotNone(points, f"chart {chart} got no data: {state}")
            for n in points:
                self.assertGreaterEqual(n, at_least, f"chart {chart}: {state['samples']}")


@unittest.skipUnless(CHROMIUM, "chromium not found (Debian package chromium); no browser test")
class DashboardAgainstStandInTests(unittest.TestCase, DashboardAssertions):

    @classmethod
    def setUpClass(cls):
        cls.page = dashboard_page()
        if cls.page is None:
            raise unittest.SkipTest("no dashboard page: set HARRIER_DASHBOARD_PAGE or "
                                    f"HARRIER_SERVER (not found at {harness.SERVER})")

    def test_the_charts_plot_the_scripted_figures(self):
        with FakeCountersServer(dashboard_page=self.page) as fake:
            state, _ = load_in_browser(fake.url + "/dashboard")
        self.assertEqual(state["errors"], 0, state["last_error"])
        self.assertGreaterEqual(state["polls"], 8)
        # Every dataset of every chart got a point per poll (rates from the second poll on).
        self.assert_charts_have_points(state, state["polls"] - 1)
        last = state["last"]
        self.assertAlmostEqual(last["p50_ms"], EXPECTED_P50_MS, places=3)
        self.assertAlmostEqual(last["p99_ms"], EXPECTED_P99_MS, places=3)
        self.assertAlmostEqual(last["cpu_percent"], CPU_CORES_BUSY * 100, delta=1)
        self.assertEqual((last["queue_length"], last["active_connections"],
                          last["active_requests"]), (3, 5, 2))
        self.assertEqual(last["thread_goal"], last["threads"] + 2)
        self.assertEqual((last["rejected_requests"], last["accept_failures"]),
                         (sum(REJECTIONS.values()), ACCEPT_FAILURES))
        self.assertGreater(last["requests_total"], state["first"]["requests_total"])

    def test_each_adjustment_is_marked_with_its_reason(self):
        with FakeCountersServer(dashboard_page=self.page) as fake:
            state, dom = load_in_browser(fake.url + "/dashboard")
            final_starvation = fake.snapshot()["metrics"][
                "harrier_thread_pool_adjustments_total"]["series"][1]["value"]
        marks = state["adjustments"]
        self.assertTrue(marks, f"no adjustment marked: {state}")
        # The stand-in adds a Starvation adjustment every 0.4 s; Warmup was there before the
        # first poll, so it never rises and is never marked.
        self.assertEqual({m["reason"] for m in marks}, {"Starvation"})
        self.assertLessEqual(sum(m["count"] for m in marks), final_starvation)
        self.assertTrue(all(m["threads"] >= 5 for m in marks), marks)
        seconds = [m["seconds"] for m in marks]
        self.assertEqual(seconds, sorted(seconds))
        listed = re.findall(r"<li>([^<]*Starvation[^<]*)</li>", dom)
        self.assertEqual(len(listed), len(marks), dom[-2000:])

    def test_the_page_requests_nothing_but_counters(self):
        with FakeCountersServer(dashboard_page=self.page) as fake:
            load_in_browser(fake.url + "/dashboard", budget_ms=3000)
            paths = set(fake.paths)
        self.assertIn("/counters", paths)
        self.assertLessEqual(paths, {"/dashboard", "/counters", "/favicon.ico"})

    def test_a_failing_counters_endpoint_shows_an_error(self):
        with FakeCountersServer(dashboard_page=self.page, counters_status=503) as fake:
            state, dom = load_in_browser(fake.url + "/dashboard", budget_ms=2000)
        self.assertEqual(state["polls"], 0)
        self.assertGreaterEqual(state["errors"], 2)  # it keeps polling
        self.assertIn("answered 503", state["last_error"])
        self.assertRegex(dom, r'<span id="status" class="status error">cannot read /counters')


@unittest.skipUnless(CHROMIUM, "chromium not found (Debian package chromium); no browser test")
@unittest.skipUnless(os.path.exists(harness.SERVER),
                     f"harrier-server not found at {harness.SERVER} (set HARRIER_SERVER)")
class DashboardAgainstHarrierServerTests(harness.ServerTestCase, DashboardAssertions):
    """harrier-server's own /dashboard and /counters while a load runs."""

    def setUp(self):
        self.stop_load = threading.Event()
        self.loads = [threading.Thread(target=self.run_load, daemon=True) for _ in range(2)]
        for t in self.loads:
            t.start()

    def tearDown(self):
        self.stop_load.set()
        for t in self.loads:
            t.join(timeout=10)

    def run_load(self):
        """Keep-alive GET /plaintext until told to stop (or 90 s, so it always ends)."""
        deadline = time.monotonic() + 90
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        while not self.stop_load.is_set() and time.monotonic() < deadline:
            conn.request("GET", "/plaintext")
            conn.getresponse().read()
        conn.close()

    def test_the_server_serves_the_page(self):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        conn.request("GET", "/dashboard")
        response = conn.getresponse()
        body = response.read()
        conn.close()
        self.assertEqual(response.status, 200)
        self.assertTrue(response.getheader("Content-Type").startswith("text/html"))
        self.assertIn(b"Chart.js v", body)

    def test_the_charts_get_points_and_the_figures_move_under_load(self):
        state, _ = load_in_browser(self.server.url + "/dashboard")
        self.assertEqual(state["errors"], 0, state["last_error"])
        self.assertGreaterEqual(state["polls"], 5)
        self.assert_charts_have_points(state, 3)
        first, last = state["first"], state["last"]
        self.assertGreater(last["requests_total"], first["requests_total"])
        self.assertGreater(last["timestamp_unix_seconds"], first["timestamp_unix_seconds"])
        self.assertGreaterEqual(last["threads"], 1)
        self.assertGreaterEqual(last["active_connections"], 1)


if __name__ == "__main__":
    unittest.main()
