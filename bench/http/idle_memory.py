#!/usr/bin/env python3
"""Memory and CPU of idle keep-alive HTTP connections: harrier-server against nginx, side by side.

For each server: start it, open --warm-connections idle connections (first-use and fixed costs
such as io_uring's buffer ring), note its RSS (all its processes, from /proc), open N connections
that each send one GET /plaintext and read the answer (so every connection has served a request
and sits idle in keep-alive), note the RSS again, and report the growth per connection. Then,
with the connections still open, the server's CPU time (utime+stime) over --idle-seconds, as a
percentage of one CPU: what keeping them costs (timeout checks) while nothing arrives. Run
several times, interleaving the servers, and take medians. The memory is user-space memory the
server keeps per idle connection (buffers, state, coroutine frames); kernel socket buffers are
not in RSS.

  python3 bench/http/idle_memory.py [--connections 10000] [--runs 3] [--json]
"""

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from run import free_port, nginx_server, wait_for_port  # noqa: E402


def rss_bytes(root_pid):
    """VmRSS of root_pid and its children (nginx: master and worker)."""
    pids = [root_pid]
    try:
        children = open(f"/proc/{root_pid}/task/{root_pid}/children").read().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def cpu_seconds(root_pid):
    """utime+stime of root_pid and its children."""
    pids = [root_pid]
    try:
        pids += [int(c) for c in open(f"/proc/{root_pid}/task/{root_pid}/children").read().split()]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def open_idle_connections(port, count):
    request = b"GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n"
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request)
        sockets.append(s)
    for s in sockets:  # every answer read: the connection is idle in keep-alive
        data = b""
        while b"Hello, World!" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("server closed a keep-alive connection")
            data += chunk
    return sockets


def measure(start_server, connections, idle_seconds, warm_connections):
    """(RSS growth per connection, % of one CPU while the connections idle)."""
    proc, port = start_server()
    try:
        time.sleep(0.3)
        # First-use allocations (pools, slabs) are excluded. So is io_uring's provided-buffer
        # ring (1,024 buffers of 4 KiB by default): its pages are touched once each as receives
        # cycle through the ring, a fixed 4 MiB that would otherwise show as ~840 B per
        # connection at 5,000 connections and ~420 B at 10,000.
        warm = open_idle_connections(port, warm_connections)
        time.sleep(0.3)
        before = rss_bytes(proc.pid)
        sockets = open_idle_connections(port, connections)
        time.sleep(0.5)
        after = rss_bytes(proc.pid)
        cpu_before, wall_before = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(idle_seconds)
        cpu = (cpu_seconds(proc.pid) - cpu_before) / (time.monotonic() - wall_before) * 100
        for s in sockets + warm:
            s.close()
        return (after - before) / connections, cpu
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="build/release/examples/harrier-server")
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--warm-connections", type=int, default=1200,
                    help="connections opened before the baseline (more than the provided "
                         "buffers of io_uring's ring, so that all its pages are touched)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    raise_fd_limit()
    workdir = tempfile.mkdtemp(prefix="harrier-idle-")

    def harrier(io):
        def start():
            port = free_port()
            proc = subprocess.Popen([args.server, "--urls", f"http://127.0.0.1:{port}", "--io", io,
                                     "--log-level", "warn"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    preexec_fn=raise_fd_limit)
            wait_for_port(port, proc)
            return proc, port
        return start

    def nginx():
        server = nginx_server(workdir)
        conf = os.path.join(workdir, "nginx.conf")  # room for every idle connection
        with open(conf) as f:
            text = f.read().replace("worker_connections 4096", "worker_connections 65536")
        with open(conf, "w") as f:
            f.write(text)
        proc = subprocess.Popen(server.argv, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
        wait_for_port(server.port, proc)
        return proc, server.port

    servers = {"nginx": nginx, "harrier-io_uring": harrier("io_uring"),
               "harrier-epoll": harrier("epoll")}
    results = {name: [] for name in servers}
    cpu = {name: [] for name in servers}
    try:
        for _ in range(args.runs):
            for name, start in servers.items():
                memory, percent = measure(start, args.connections, args.idle_seconds,
                                          args.warm_connections)
                results[name].append(memory)
                cpu[name].append(percent)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    med = {name: statistics.median(v) for name, v in results.items()}
    med_cpu = {name: statistics.median(v) for name, v in cpu.items()}
    out = {
        "idle_http_connection_bytes_nginx": round(med["nginx"]),
        "idle_http_connection_bytes_harrier_io_uring": round(med["harrier-io_uring"]),
        "idle_http_connection_bytes_harrier_epoll": round(med["harrier-epoll"]),
        "idle_http_connection_bytes_vs_nginx_io_uring":
            round(med["harrier-io_uring"] / med["nginx"], 2) if med["nginx"] > 0 else None,
        "idle_http_connections_cpu_percent_nginx": round(med_cpu["nginx"], 2),
        "idle_http_connections_cpu_percent_harrier_io_uring": round(med_cpu["harrier-io_uring"], 2),
        "idle_http_connections_cpu_percent_harrier_epoll": round(med_cpu["harrier-epoll"], 2),
        "runs": {k: [round(x) for x in v] for k, v in results.items()},
        "cpu_percent_runs": {k: [round(x, 2) for x in v] for k, v in cpu.items()},
        "connections": args.connections,
        "warm_connections": args.warm_connections,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
