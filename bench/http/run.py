#!/usr/bin/env python3
"""HTTP benchmark: harrier-server against nginx and h2o, side by side in one run.

Each server is pinned to CPU 0 with taskset and driven by wrk pinned to CPU 1, so that the
server's CPU time per request is comparable. All servers run side by side for the whole
benchmark. Each of `--runs` runs measures every scenario on every server, and nginx, the
reference, again between every two of the others (nginx, A, nginx, B, nginx, ...; the order of
the others rotating from run to run). Each measurement takes requests/s, p99 latency, and the
server's CPU time per request (utime + stime of its processes over the wrk run, read from
/proc/<pid>/stat before and after).

A ratio against nginx is taken per run, against the mean of the two nginx measurements either
side of it, and the figure is the median of those paired ratios over the runs (a ratio against
h2o divides two such nginx-relative values). The shared VM this was built on changes speed by
20-25 % for tens of seconds at a time, for every server alike; a ratio of the medians of
separate measurements mixes those periods, the paired ratio mostly does not. `per_run` lists
each run's ratio, whose spread shows how far to trust the median, and `ratio_of_medians` the
older form of the figure, for comparison with earlier entries of bench/RESULTS.md.

Scenarios: /plaintext and /json at 64 connections, and /plaintext pipelined 16 deep (a wrk Lua
script that writes 16 requests at once); and, beyond the issue's targets, /plaintext at 1,000
connections, for how the cost per request grows with the number of connections, and /plaintext
with `Connection: close` at 32 connections (a new connection for every request), for what a
connection costs.

Peers:
- nginx 1.22: one worker, `return 200` for /plaintext and /json, access log off,
  keepalive_requests unbounded (the default of 1000 would make wrk reconnect).
- h2o 2.2: one thread, an mruby handler that returns the same bodies (h2o has no `return`).

`--unpinned` measures only /plaintext with nothing pinned (wrk with a thread per CPU, nginx with
`worker_processes auto`), as a user would first try it on a small machine; see unpinned().

Prints a human-readable table, and with --json one JSON object with the ratios the issue asks
for (harrier / peer; for CPU per request and p99 lower is better, for requests/s higher is).
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PLAINTEXT_BODY = "Hello, World!"
JSON_BODY = '{"message":"Hello, World!"}'

PIPELINE_LUA = """
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
"""

# A new connection for every request, as load tests without keep-alive make (ab without -k,
# wrk -H "Connection: close"): accept, one request, close.
CLOSE_LUA = """
wrk.headers["Connection"] = "close"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on port {port} within {timeout} s")


def process_tree_cpu_seconds(root_pid):
    """utime+stime of root_pid and its descendants (nginx runs a master and a worker)."""
    pids = [root_pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(root_pid)], capture_output=True, text=True)
        pids += [int(p) for p in children.stdout.split()]
    except FileNotFoundError:
        pass
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total / CLK_TCK


class Server:
    def __init__(self, name, argv, port, cwd=None):
        self.name, self.argv, self.port, self.cwd = name, argv, port, cwd
        self.proc = None
        self.pinned = True  # to CPU 0; False: wherever the scheduler puts it (--unpinned)

    def __enter__(self):
        # Its own session either way, as a server started from another terminal has: with the
        # scheduler's autogroups (sched_autogroup_enabled) that decides how the CPUs are shared
        # with wrk when neither is pinned.
        pin = ["taskset", "-c", "0"] if self.pinned else []
        self.proc = subprocess.Popen(pin + self.argv, cwd=self.cwd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_for_port(self.port, self.proc)
        return self

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def nginx_server(workdir, workers="1"):
    port = free_port()
    conf = os.path.join(workdir, f"nginx-{workers}.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes {workers};
worker_rlimit_nofile 8192;
daemon off;
pid {workdir}/nginx-{workers}.pid;
error_log {workdir}/nginx-error.log error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port} reuseport;
    location = /plaintext {{ default_type text/plain; return 200 '{PLAINTEXT_BODY}'; }}
    location = /json {{ default_type application/json; return 200 '{JSON_BODY}'; }}
  }}
}}
""")
    return Server("nginx", ["nginx", "-c", conf, "-p", workdir], port)


def h2o_server(workdir):
    port = free_port()
    conf = os.path.join(workdir, "h2o.conf")
    with open(conf, "w") as f:
        f.write(f"""
num-threads: 1
error-log: {workdir}/h2o-error.log
listen:
  host: 127.0.0.1
  port: {port}
hosts:
  "127.0.0.1:{port}":
    paths:
      /plaintext:
        mruby.handler: |
          Proc.new do |env|
            [200, {{"content-type" => "text/plain"}}, ["{PLAINTEXT_BODY}"]]
          end
      /json:
        mruby.handler: |
          Proc.new do |env|
            [200, {{"content-type" => "application/json"}}, ['{JSON_BODY}']]
          end
""")
    return Server("h2o", ["h2o", "-c", conf], port)


def harrier_server(binary, io, dispatch, metrics=True):
    port = free_port()
    argv = [binary, "--urls", f"http://127.0.0.1:{port}", "--io", io, "--dispatch", dispatch,
            "--log-level", "warn", "--request-metrics", "true" if metrics else "false"]
    name = f"harrier-{io}" + ("-inline" if dispatch == "inline" else "") + (
        "" if metrics else "-nometrics")
    return Server(name, argv, port)


def metrics_cost(args):
    """CPU per /plaintext request with and without request metrics, interleaved."""
    on, off = [], []
    for _ in range(args.runs):
        for metrics, bucket in ((True, on), (False, off)):
            with harrier_server(args.server, "io_uring", "pool", metrics) as server:
                run_wrk(server, "/plaintext", 64, 1)
                bucket.append(run_wrk(server, "/plaintext", 64, args.duration)["cpu_us_per_request"])
    result = {"runs": args.runs, "duration_s": args.duration,
              "plaintext_cpu_us_per_request_with_metrics": statistics.median(on),
              "plaintext_cpu_us_per_request_without_metrics": statistics.median(off),
              "metrics_cpu_overhead": statistics.median(on) / statistics.median(off) - 1}
    print(json.dumps(result, indent=1))


METRICS = ("rps", "p99_us", "cpu_us_per_request")


def alternate(nginx, others, shift, measure):
    """One run of one scenario: nginx, then each other server (in an order rotated by `shift`)
    followed by nginx again. Returns [(server, result, reference)], where reference is the mean
    of the nginx measurements either side, and nginx's own entry for the run: the median of its
    measurements."""
    before = measure(nginx)
    nginx_runs = [before]
    measured = []
    for server in others[shift:] + others[:shift]:
        r = measure(server)
        after = measure(nginx)
        nginx_runs.append(after)
        measured.append((server, r, {m: (before[m] + after[m]) / 2 for m in METRICS}))
        before = after
    nginx_entry = {m: statistics.median(x[m] for x in nginx_runs) for m in METRICS} | {
        "errors": ";".join(x["errors"] for x in nginx_runs if x["errors"])}
    return measured, nginx_entry


def unpinned(args):
    """/plaintext with nothing pinned, as a user would first try it: the servers and wrk (one
    thread per CPU, 128 connections) share every CPU as the scheduler sees fit, and nginx runs
    `worker_processes auto`. The CPU time per request then includes what the scheduler's
    placement costs (context switches, and a connection's data moving between CPUs when the
    thread that receives is not the one that runs the handler). Same alternation and paired
    ratios as the pinned scenarios."""
    workdir = tempfile.mkdtemp(prefix="harrier-bench-")
    factories = [lambda: nginx_server(workdir, "auto")]
    for io in ("io_uring", "epoll"):
        for dispatch in ("pool", "inline"):
            factories.append(lambda io=io, d=dispatch: harrier_server(args.server, io, d))
    samples, reference = {}, {}
    with contextlib.ExitStack() as stack:
        servers = []
        for make in factories:
            server = make()
            server.pinned = False
            servers.append(stack.enter_context(server))
        nginx, others = servers[0], servers[1:]

        def measure(server):
            run_wrk(server, "/plaintext", 128, 1, pinned=False)
            return run_wrk(server, "/plaintext", 128, args.duration, pinned=False)

        for run in range(args.runs):
            measured, nginx_entry = alternate(nginx, others, run % len(others), measure)
            samples.setdefault(nginx.name, []).append(nginx_entry)
            for server, r, ref in measured:
                samples.setdefault(server.name, []).append(r)
                reference.setdefault(server.name, []).append(ref)
    result = {"runs": args.runs, "duration_s": args.duration, "connections": 128,
              "cpus": len(os.sched_getaffinity(0)), "per_run": {}}
    for name in samples:
        if name == nginx.name:
            continue
        suffix = name.removeprefix("harrier-").replace("io_uring", "").replace("-", "_").strip("_")
        suffix = "_" + suffix if suffix else ""
        for metric, key in (("rps", "rps"), ("cpu_us_per_request", "cpu_per_request"),
                            ("p99_us", "p99")):
            per_run = [a[metric] / b[metric] for a, b in zip(samples[name], reference[name])
                       if b[metric]]
            full = f"unpinned_plaintext_{key}_vs_nginx{suffix}"
            result[full] = statistics.median(per_run) if per_run else None
            result["per_run"][full] = [round(x, 3) for x in per_run]
    result["medians"] = {name: {m: statistics.median(x[m] for x in v) for m in METRICS}
                         for name, v in samples.items()}
    result["errors"] = {name: e for name, v in samples.items()
                        if (e := ";".join(x["errors"] for x in v if x["errors"]))}
    print(json.dumps(result, indent=1))
    shutil.rmtree(workdir, ignore_errors=True)


def parse_latency_us(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1_000_000}[m.group(2)]


def run_wrk(server, path, connections, duration, lua=None, pinned=True):
    url = f"http://127.0.0.1:{server.port}{path}"
    pin = ["taskset", "-c", "1"] if pinned else []
    threads = 1 if pinned else len(os.sched_getaffinity(0))
    argv = pin + ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                  "--timeout", "5s"]
    if lua:
        argv += ["-s", lua]
    argv.append(url)
    cpu_before = process_tree_cpu_seconds(server.proc.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30).stdout
    cpu_after = process_tree_cpu_seconds(server.proc.pid)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p99_us": parse_latency_us(p99),
        "cpu_us_per_request": (cpu_after - cpu_before) * 1e6 / max(requests, 1),
        "errors": (errors.group(1) if errors else "") + (f" non2xx={non2xx.group(1)}" if non2xx else ""),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--server", default="build/release/examples/harrier-server")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--io", default="both", choices=["both", "io_uring", "epoll"])
    ap.add_argument("--quick", action="store_true", help="1 run of 2 s each (smoke test)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--unpinned", action="store_true",
                    help="only /plaintext with nothing pinned (see unpinned()); prints JSON")
    ap.add_argument("--metrics-cost", action="store_true",
                    help="only measure the CPU cost of request metrics on /plaintext")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.duration = 1, 2
    for tool in ("wrk", "taskset", "nginx", "h2o"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/http: '{tool}' is missing; run scripts/install-deps.sh bench")
    if not os.access(args.server, os.X_OK):
        sys.exit(f"bench/http: {args.server} is not an executable; build the release preset first")

    if args.metrics_cost:
        metrics_cost(args)
        return
    if args.unpinned:
        unpinned(args)
        return
    ios = ["io_uring", "epoll"] if args.io == "both" else [args.io]
    # (name, path, wrk script, connections). plaintext_1000c and plaintext_close are not among
    # the targets: the first shows how the cost per request grows with the number of
    # connections (each request then finds its connection's state cold in the caches), the
    # second what a connection costs (one request each).
    scenarios = [("plaintext", "/plaintext", None, 64), ("json", "/json", None, 64),
                 ("pipelined", "/plaintext", "pipeline", 64),
                 ("plaintext_1000c", "/plaintext", None, 1000),
                 ("plaintext_close", "/plaintext", "close", 32)]
    workdir = tempfile.mkdtemp(prefix="harrier-bench-")
    scripts = {}
    for name, text in (("pipeline", PIPELINE_LUA), ("close", CLOSE_LUA)):
        scripts[name] = os.path.join(workdir, f"{name}.lua")
        with open(scripts[name], "w") as f:
            f.write(text)

    factories = [lambda: nginx_server(workdir), lambda: h2o_server(workdir)]
    for io in ios:
        factories.append(lambda io=io: harrier_server(args.server, io, "pool"))
        factories.append(lambda io=io: harrier_server(args.server, io, "inline"))

    # Every server runs for the whole benchmark (all pinned to CPU 0; the idle ones cost nothing
    # measurable). Per run and scenario, nginx is measured first and again after every other
    # server, so each of them lies between two nginx measurements ~6 s away: the VM's slow and
    # fast periods last tens of seconds, and one that starts in between shows as one outlying
    # run, which the median drops.
    samples = {}  # (server, scenario) -> list of results, one per run
    reference = {}  # (server, scenario) -> per run, the mean of nginx's results either side
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(make()) for make in factories]
        nginx, others = servers[0], servers[1:]

        def measure(server, path, connections, script):
            run_wrk(server, path, connections, 1, scripts.get(script))  # warm-up, nginx's too
            return run_wrk(server, path, connections, args.duration, scripts.get(script))

        for run in range(args.runs):
            for scenario, path, script, connections in scenarios:
                measured, nginx_entry = alternate(
                    nginx, others, run % len(others),
                    lambda server: measure(server, path, connections, script))
                samples.setdefault((nginx.name, scenario), []).append(nginx_entry)
                for server, r, ref in measured:
                    samples.setdefault((server.name, scenario), []).append(r)
                    reference.setdefault((server.name, scenario), []).append(ref)

    med = {k: {m: statistics.median(x[m] for x in v) for m in METRICS} for k, v in samples.items()}
    errors = {f"{k[0]}/{k[1]}": ";".join(x["errors"] for x in v if x["errors"]) for k, v in samples.items()}

    def relative(server, scenario, metric):
        """Per run: the server's value over the mean of the nginx measurements either side."""
        return [a[metric] / b[metric] if b[metric] else None
                for a, b in zip(samples[(server, scenario)], reference[(server, scenario)])]

    def ratio(key, h, peer, scenario, metric):
        """The issue's figure: the median over the runs of the paired ratio h / peer."""
        per_run = relative(h, scenario, metric)
        if peer != "nginx":
            per_run = [a / b if a is not None and b else None
                       for a, b in zip(per_run, relative(peer, scenario, metric))]
        valid = [x for x in per_run if x is not None]
        result[key] = statistics.median(valid) if valid else None
        result["per_run"][key] = [round(x, 3) if x is not None else None for x in per_run]
        result["ratio_of_medians"][key] = med[(h, scenario)][metric] / med[(peer, scenario)][metric]

    result = {"runs": args.runs, "duration_s": args.duration, "connections": 64, "per_run": {},
              "ratio_of_medians": {}}
    for io in ios:
        h = f"harrier-{io}"
        suffix = "" if io == "io_uring" else "_epoll"
        cpu = "cpu_us_per_request"
        ratio(f"plaintext_cpu_per_request_vs_nginx{suffix}", h, "nginx", "plaintext", cpu)
        ratio(f"plaintext_inline_cpu_per_request_vs_nginx{suffix}", h + "-inline", "nginx", "plaintext", cpu)
        ratio(f"json_cpu_per_request_vs_nginx{suffix}", h, "nginx", "json", cpu)
        ratio(f"pipelined_cpu_per_request_vs_nginx{suffix}", h, "nginx", "pipelined", cpu)
        ratio(f"plaintext_rps_vs_nginx{suffix}", h, "nginx", "plaintext", "rps")
        ratio(f"plaintext_rps_vs_h2o{suffix}", h, "h2o", "plaintext", "rps")
        ratio(f"plaintext_p99_vs_nginx{suffix}", h, "nginx", "plaintext", "p99_us")
        ratio(f"plaintext_1000c_cpu_per_request_vs_nginx{suffix}", h, "nginx", "plaintext_1000c", cpu)
        ratio(f"plaintext_1000c_inline_cpu_per_request_vs_nginx{suffix}", h + "-inline", "nginx",
              "plaintext_1000c", cpu)
        ratio(f"plaintext_close_cpu_per_request_vs_nginx{suffix}", h, "nginx", "plaintext_close", cpu)
        ratio(f"plaintext_close_inline_cpu_per_request_vs_nginx{suffix}", h + "-inline", "nginx",
              "plaintext_close", cpu)
        ratio(f"plaintext_close_rps_vs_nginx{suffix}", h, "nginx", "plaintext_close", "rps")
    result["medians"] = {f"{k[0]}/{k[1]}": v for k, v in sorted(med.items())}
    result["errors"] = {k: v for k, v in errors.items() if v}

    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{'server/scenario':34} {'req/s':>12} {'p99 µs':>10} {'CPU µs/req':>11}")
        for k, v in sorted(med.items()):
            print(f"{k[0] + '/' + k[1]:34} {v['rps']:12.0f} {v['p99_us']:10.0f} {v['cpu_us_per_request']:11.2f}")
        for k, v in result.items():
            if isinstance(v, float):
                print(f"{k}: {v:.3f}  (each run: {', '.join(map(str, result['per_run'][k]))})")
        if result["errors"]:
            print("errors:", result["errors"])
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
