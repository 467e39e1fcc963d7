"""How long `citygraph export --format all` takes: medians of several runs, and how it grows with size.

    python bench/export_speed.py                            # bundled graph: export only, and the CLI end to end
    python bench/export_speed.py --triples 100000 1000000   # also generated graphs of ~100k and ~1M triples
    python bench/export_speed.py --triples 1000000 --processes 1 2 --runs 3   # one process vs two
    python bench/export_speed.py --scale 56 559             # the bundled data replicated (older method)

``--triples N`` graphs come from ``bench/scale/generate.py`` (real French authorities with synthetic
programmes, conforming to the shapes), cached as ``bench/out/export-speed/graph-N.nt`` (or the scale
benchmark's ``bench/out/scale/graph-N.nt``); ``--scale K`` copies
the bundled data graph K times under distinct IRIs. Each size (and process setting) runs in a fresh process
that loads once and exports ``--runs`` times: the figures are the medians of the export's wall time and CPU
time (this process and its children: the export forks up to three above 50k quads), and the peak RSS of the
process and of its largest child. Peak RSS covers the whole process (graph loaded) and only grows, so it is
the peak over all runs.
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

HERE = Path(__file__).resolve().parent
CACHE = HERE / "out" / "export-speed"


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


def generated_file(triples: int) -> Path:
    """A generated graph of about ``triples`` triples (made once, then reused; the scale benchmark's copy,
    made by the same generator with the same seed, serves too)."""
    shared = HERE / "out" / "scale" / f"graph-{triples}.nt"
    if shared.is_file():
        return shared
    path = CACHE / f"graph-{triples}.nt"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(HERE / "scale" / "generate.py"), "--triples", str(triples),
                        "--out", str(path)], check=True, stdout=subprocess.DEVNULL)
    return path


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_in_process(spec: str, runs: int, processes: int | None) -> dict[str, float]:
    """Load once, export ``runs`` times: medians (wall, CPU), triples, peak RSS (MB), bytes written."""
    from citygraph.export import export
    from citygraph.load import load_graph

    kind, _, value = spec.partition(":")
    started = time.perf_counter()
    graph = load_graph([Path(value)]) if kind == "file" else scaled_graph(int(value))
    load_seconds = time.perf_counter() - started
    times, cpus = [], []
    size = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            cpu, started = _cpu(), time.perf_counter()
            options = {} if processes is None else {"processes": processes}
            report = export(graph, Path(out), "all", **options)
            times.append(time.perf_counter() - started)
            cpus.append(_cpu() - cpu)
            size = sum(f.size for f in report.files)
    return {
        "triples": graph.triple_count(),
        "load_s": load_seconds,
        "export_median_s": statistics.median(times),
        "export_min_s": min(times),
        "cpu_median_s": statistics.median(cpus),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
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
    parser.add_argument("--runs", type=int, default=5, help="exports per size (median; default 5)")
    parser.add_argument("--triples", type=int, nargs="*", default=[], metavar="N",
                        help="also generated graphs of about N triples (bench/scale/generate.py)")
    parser.add_argument("--scale", type=int, nargs="*", default=[], metavar="COPIES",
                        help="also the bundled data replicated COPIES times")
    parser.add_argument("--processes", type=int, nargs="*", default=[0], metavar="P",
                        help="export's processes setting(s) to compare (0: its default)")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI end-to-end run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-processes", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        processes = args.child_processes or None
        print(json.dumps(measure_in_process(args.child, args.runs, processes)))
        return 0
    specs = [("bundled", "copies:1"), *((f"copies {k}", f"copies:{k}") for k in args.scale)]
    specs += [(f"generated {n}", f"file:{generated_file(n)}") for n in args.triples]
    rows = []
    for label, spec in specs:
        for processes in args.processes:
            done = subprocess.run([sys.executable, __file__, "--child", spec, "--runs", str(args.runs),
                                   "--child-processes", str(processes)],
                                  check=True, capture_output=True, text=True)
            rows.append((label, processes, json.loads(done.stdout)))
    print(f"{'graph':<17} {'procs':>5} {'triples':>9} {'runs':>4} {'load s':>7} {'export median s':>15} "
          f"{'min s':>6} {'CPU median s':>12} {'peak RSS MB':>11} {'child MB':>8} {'MB written':>10}")
    for label, processes, r in rows:
        print(f"{label:<17} {processes or 'auto':>5} {r['triples']:>9,d} {args.runs:>4} {r['load_s']:>7.2f} "
              f"{r['export_median_s']:>15.3f} {r['export_min_s']:>6.3f} {r['cpu_median_s']:>12.2f} "
              f"{r['peak_rss_mb']:>11.0f} {r['child_peak_rss_mb']:>8.0f} {r['bytes'] / 1e6:>10.1f}")
    if not args.no_cli:
        cli = measure_cli(args.runs)
        print(f"CLI end to end (bundled graph, fresh process, load included): median {cli:.3f} s "
              f"over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
