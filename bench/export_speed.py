"""How long `citygraph export --format all` takes: median of several runs, and how it grows with size.

    python bench/export_speed.py                  # bundled graph: export only, and the CLI end to end
    python bench/export_speed.py --scale 56 559   # also ~100k and ~1M triples (the bundled data replicated)

A scaled graph is the bundled data graph copied N times under distinct IRIs (``…/id/copy-K/…``), so every
export path (sorting, JSON-LD terms, CSV queries, gzip, catalogue) does real work on it. Each size runs in a
fresh process so its peak RSS is its own. Figures go to stdout as a table.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def scaled_graph(copies: int):  # type: ignore[no-untyped-def]
    """The bundled graph with its data graph replicated ``copies`` times (1 = as bundled)."""
    import pyoxigraph

    from citygraph.load import load_graph

    graph = load_graph()
    if copies > 1:
        name = pyoxigraph.NamedNode(graph.data_graph)
        payload = graph.store.dump(format=pyoxigraph.RdfFormat.N_TRIPLES, from_graph=name).decode("utf-8")
        id_base = graph.base + "id/"
        for k in range(1, copies):
            copy = payload.replace("<" + id_base, f"<{id_base}copy-{k}/")
            graph.store.load(copy.encode("utf-8"), format=pyoxigraph.RdfFormat.N_TRIPLES, to_graph=name)
    return graph


def measure_in_process(copies: int, runs: int) -> dict[str, float]:
    """Load once, export ``runs`` times: median seconds, triples, peak RSS (MB), total bytes written."""
    from citygraph.export import export

    started = time.perf_counter()
    graph = scaled_graph(copies)
    load_seconds = time.perf_counter() - started
    times = []
    size = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            report = export(graph, Path(out), "all")
            times.append(time.perf_counter() - started)
            size = sum(f.size for f in report.files)
    return {
        "triples": graph.triple_count(),
        "load_s": load_seconds,
        "export_median_s": statistics.median(times),
        "export_min_s": min(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bytes": size,
    }


def measure_cli(runs: int) -> float:
    """Median wall time of ``citygraph export --format all`` in a fresh process (load included)."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "citygraph", "export", "--format", "all", "--out", out],
                           check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=int, nargs="*", default=[], metavar="COPIES")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure_in_process(args.child, args.runs)))
        return 0
    rows = []
    for copies in [1, *args.scale]:
        runs = args.runs if copies == 1 else max(1, min(args.runs, 3))
        done = subprocess.run([sys.executable, __file__, "--child", str(copies), "--runs", str(runs)],
                              check=True, capture_output=True, text=True)
        rows.append((copies, runs, json.loads(done.stdout)))
    print(f"{'copies':>6} {'triples':>9} {'runs':>4} {'load s':>7} {'export median s':>15} {'min s':>6} "
          f"{'peak RSS MB':>11} {'MB written':>10}")
    for copies, runs, r in rows:
        print(f"{copies:>6} {r['triples']:>9,d} {runs:>4} {r['load_s']:>7.2f} {r['export_median_s']:>15.3f} "
              f"{r['export_min_s']:>6.3f} {r['peak_rss_mb']:>11.0f} {r['bytes'] / 1e6:>10.1f}")
    cli = measure_cli(args.runs)
    print(f"CLI end to end (bundled graph, fresh process, load included): median {cli:.3f} s "
          f"over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
