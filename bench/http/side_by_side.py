#!/usr/bin/env python3
"""Does running the other servers beside it change a server's CPU per request?

nginx and harrier (epoll, inline dispatch) are measured back to back on /plaintext (wrk -c64,
1 s warm-up, then --duration seconds), either alone or with the rest of run.py's servers (h2o,
harrier on io_uring with both dispatch modes, harrier on epoll with pool dispatch) idle beside
them on CPU 0. The two setups alternate from round to round, and so does the order inside each.
Prints each sample, the medians, and the harrier/nginx ratio of each setup.

    python3 bench/http/side_by_side.py --rounds 8
"""
import argparse
import contextlib
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (run.py's servers and wrk driver)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--server", default="build/release/examples/harrier-server")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=int, default=5)
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="harrier-side-")
    samples = {}
    for rnd in range(args.rounds):
        for setup in (("alone", "crowd") if rnd % 2 == 0 else ("crowd", "alone")):
            with contextlib.ExitStack() as stack:
                measured = [stack.enter_context(bench.nginx_server(workdir)),
                            stack.enter_context(bench.harrier_server(args.server, "epoll", "inline"))]
                if setup == "crowd":
                    stack.enter_context(bench.h2o_server(workdir))
                    stack.enter_context(bench.harrier_server(args.server, "io_uring", "pool"))
                    stack.enter_context(bench.harrier_server(args.server, "io_uring", "inline"))
                    stack.enter_context(bench.harrier_server(args.server, "epoll", "pool"))
                for server in (measured if rnd % 2 == 0 else measured[::-1]):
                    bench.run_wrk(server, "/plaintext", 64, 1)
                    r = bench.run_wrk(server, "/plaintext", 64, args.duration)
                    samples.setdefault((setup, server.name), []).append(r["cpu_us_per_request"])
                    print(f"{setup:5} {server.name:22} {r['cpu_us_per_request']:7.3f} us/request "
                          f"{r['rps']:9.0f} req/s", flush=True)
    for (setup, name), values in sorted(samples.items()):
        print(f"{setup:5} {name:22} median {statistics.median(values):7.3f} "
              f"({', '.join(f'{v:.3f}' for v in values)})")
    for setup in ("alone", "crowd"):
        ratio = (statistics.median(samples[(setup, "harrier-epoll-inline")]) /
                 statistics.median(samples[(setup, "nginx")]))
        print(f"{setup}: harrier-epoll-inline / nginx = {ratio:.3f}")


if __name__ == "__main__":
    main()
