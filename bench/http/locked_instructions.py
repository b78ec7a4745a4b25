#!/usr/bin/env python3
"""Locked instructions per request, from a callgrind profile taken with --dump-instr=yes.

A locked read-modify-write (a `lock`-prefixed instruction, or `xchg` with memory) costs ~20
cycles, yet callgrind counts it as one instruction, so instruction counts hide it. This script
reads the per-instruction execution counts of a callgrind output file, disassembles every object
it names with objdump, and prints how many locked instructions ran per request, by function.

    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file=cg.%p \\
        build/release/examples/harrier-server --urls http://127.0.0.1:5079 --io epoll \\
        --dispatch inline --log-level warn &
    wrk -t1 -c8 -d2s http://127.0.0.1:5079/plaintext          # warm up
    callgrind_control -z <pid>; wrk -t1 -c8 -d5s ... > wrk.out; callgrind_control -d <pid>
    python3 bench/http/locked_instructions.py cg.<pid>.1 <requests from wrk.out>

(valgrind 3.19 does not run io_uring: profile with --io epoll.)
"""

import collections
import re
import subprocess
import sys

POSITION = re.compile(r"^(0x[0-9a-fA-F]+|[+-]\d+|\*)\s")
NAMED = re.compile(r"^(ob|fn|cob|cfn|fl|fi|fe|cfi|cfl)=\((\d+)\)(?: (.*))?$")


def position(token, last):
    if token.startswith("0x"):
        return int(token, 16)
    if token == "*":
        return last
    return last + int(token)


def execution_counts(path):
    """(object id -> name, function id -> name, {(object, address): (count, function)})."""
    objects, functions, counts = {}, {}, {}
    current_object = current_function = None
    last_address = 0
    after_call = False
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        named = NAMED.match(line)
        if named:
            kind, ident, name = named.groups()
            if kind in ("ob", "cob") and name:
                objects[ident] = name
            if kind in ("fn", "cfn") and name:
                functions[ident] = name
            if kind == "ob":
                current_object = ident
            elif kind == "fn":
                current_function = ident
            continue
        if line.startswith("calls="):
            after_call = True  # the next line is the call's inclusive cost, not an execution
            continue
        if not POSITION.match(line):
            continue
        fields = line.split()
        if len(fields) < 3:
            continue
        last_address = position(fields[0], last_address)
        if after_call:
            after_call = False
            continue
        key = (current_object, last_address)
        count, _ = counts.get(key, (0, None))
        counts[key] = (count + int(fields[2]), current_function)
    return objects, functions, counts


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: locked_instructions.py CALLGRIND_OUT REQUESTS")
    objects, functions, counts = execution_counts(sys.argv[1])
    requests = int(sys.argv[2])
    per_object = collections.Counter()
    per_site = collections.Counter()
    for ident, path in objects.items():
        addresses = {address for (obj, address) in counts if obj == ident}
        if not addresses:
            continue
        listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path],
                                 capture_output=True, text=True).stdout
        for row in listing.splitlines():
            match = re.match(r"^\s*([0-9a-f]+):\s+(.*)$", row)
            if not match:
                continue
            address, instruction = int(match.group(1), 16), match.group(2)
            locked = instruction.startswith("lock") or (
                instruction.startswith("xchg") and "(" in instruction)
            if address in addresses and locked:
                count, function = counts[(ident, address)]
                per_object[path.rsplit("/", 1)[-1]] += count
                mnemonic = " ".join(instruction.split()[:2])
                per_site[(functions.get(function, "?")[:100], mnemonic)] += count
    total = sum(per_object.values())
    print(f"locked instructions per request: {total / requests:.2f}")
    for name, count in per_object.most_common():
        print(f"  {count / requests:6.2f}  {name}")
    for (function, mnemonic), count in per_site.most_common():
        if count / requests >= 0.05:
            print(f"  {count / requests:6.2f}  {mnemonic:<18} {function}")


if __name__ == "__main__":
    main()
