"""How fast the CLI answers: `citygraph --help` and `citygraph validate` on the bundled graph.

Each command runs in a fresh subprocess from a temporary directory, as a user would; one warm-up run per
command is not counted. Reported per command: median, min and max wall time, and the median CPU time
(user + system) of the child, which stays meaningful when other processes share the machine.
Targets from issue 2 (on the median wall time): --help < 0.3 s, validate < 3 s.

    python bench/cli_speed.py [--runs 7]

Exit status: 0 if every median meets its target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES: list[tuple[str, list[str], float, int]] = [
    # (name, arguments, target in seconds, expected exit code)
    ("citygraph --help", ["--help"], 0.3, 0),
    ("citygraph validate", ["validate"], 3.0, 0),
]


def command() -> list[str]:
    """The installed console script beside this Python, else on PATH, else ``python -m citygraph``."""
    script = Path(sys.executable).with_name("citygraph")
    if script.exists():
        return [str(script)]
    found = shutil.which("citygraph")
    return [found] if found else [sys.executable, "-m", "citygraph"]


def time_once(argv: list[str], cwd: Path, expected: int) -> tuple[float, float]:
    """(wall, cpu) seconds of one run; stops the benchmark if the exit code is not the expected one."""
    before = os.times()
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if result.returncode != expected:
        error = result.stderr.decode(errors="replace")
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}, expected {expected}: {error}")
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (at least 5; default 7)")
    args = parser.parse_args()
    runs = max(5, args.runs)
    base = command()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, arguments, target, expected in CASES:
            time_once(base + arguments, Path(tmp), expected)  # warm-up: file-system caches, .pyc files
            samples = [time_once(base + arguments, Path(tmp), expected) for _ in range(runs)]
            walls = [wall for wall, _ in samples]
            cpu = statistics.median(c for _, c in samples)
            rows.append((name, statistics.median(walls), min(walls), max(walls), cpu, target))
    print(f"{' '.join(base)}  ({runs} runs each, load average {os.getloadavg()[0]:.2f})")
    print(f"{'command':<20} {'median':>8} {'min':>8} {'max':>8} {'cpu':>8} {'target':>8}  verdict")
    ok = True
    for name, median, low, high, cpu, target in rows:
        verdict = "ok" if median < target else "TOO SLOW"
        ok &= median < target
        times = f"{median:>7.3f}s {low:>7.3f}s {high:>7.3f}s {cpu:>7.3f}s"
        print(f"{name:<20} {times} {target:>7.1f}s  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
