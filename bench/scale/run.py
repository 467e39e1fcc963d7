"""Scale benchmark: generate ~10k/100k/1M-triple graphs, then time each step in its own process.

    python bench/scale/run.py [--sizes 10000,100000,1000000] [--out DIR] [--no-pyshacl-above 100000]

Steps (each a fresh `run.py --step …` process; peak RSS: its VmHWM, else wait4's rusage):
  pipeline   load (Turtle) + validate (sparql engine) + export --format all — the issue's 30 s / 2 GB target
  build      `citygraph build FILE --out DIR` (default engine auto), the same work through the CLI
  export-*   one export format at a time (nt, ttl, jsonld, nq, csv), after a load
  pyshacl    load + validate with pyshacl (10k and 100k only by default)
  queries    load + every named query
  publish    load, then a raw bulk PUT of the N-Triples file to a fresh `oxigraph serve` (the anchor), then three
             publishes in a row to another one (first, again, steady state)
  serve      `citygraph serve` on the graph: seconds until it answers, then median latency of a SPARQL aggregate, a
             named-query-like lookup and an IRI dereference (measured from this process; peak RSS of the server's
             main process)
--real adds the real graph: the bundled data plus the whole DGCL list of 1 January 2017 (bench/scale/real.py),
through the same steps, reported beside the generated sizes as "DGCL".
Writes RESULTS.json and a Markdown table (RESULTS.md beside this file when --write-results).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))  # bench/, for child_processes

from child_processes import free_port, stop, wait_for_sparql  # noqa: E402


def _timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def step(name: str, data: Path, work: Path) -> dict[str, float]:
    """Run one step in this process; seconds per phase."""
    if name == "build":  # the maintainer's command end to end: `citygraph build FILE --out DIR` (engine auto)
        from citygraph.cli import main as cli

        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries this step's JSON
            status = cli(["build", str(data), "--out", str(work / "build")])
        return {"build": time.perf_counter() - start, "exit": status}

    from citygraph.load import load_graph

    graph, load_s = _timed(load_graph, [data])
    out: dict[str, float] = {"load": load_s, "triples": graph.triple_count()}
    if name == "pipeline":
        from citygraph.export import export
        from citygraph.validate import validate_graph

        report, out["validate"] = _timed(validate_graph, graph, engine="sparql")
        out["violations"] = len(report.violations)
        _, out["export_all"] = _timed(export, graph, work / "dist", "all")
        out["total"] = load_s + out["validate"] + out["export_all"]
    elif name.startswith("export-"):
        from citygraph.export import export

        _, out[name] = _timed(export, graph, work / name, name.split("-", 1)[1])
    elif name == "pyshacl":
        from citygraph.validate import validate_graph

        report, out["validate_pyshacl"] = _timed(validate_graph, graph, engine="pyshacl")
        out["violations"] = len(report.violations)
    elif name == "queries":
        from citygraph.errors import InputError
        from citygraph.query import list_queries, run_named_query

        params = {"authority-by-insee": {"code": "49007"}, "authorities-under-population": {"max": "250000"},
                  "programme-communes": {"programme": "nantes-metropole"}, "programme-by-commune": {"code": "44162"}}
        start = time.perf_counter()
        count = 0
        for named in list_queries():
            try:
                run_named_query(graph, named, params.get(named.name, {}))
                count += 1
            except InputError:
                continue
        out["queries"] = time.perf_counter() - start
        out["queries_run"] = count
    elif name == "publish":
        import httpx

        from citygraph.publish import StoreEndpoints, publish

        # The anchor: a raw bulk load of the same triples (N-Triples file, GSP PUT ?no_transaction) into a fresh
        # server, in the same run.
        nt = data.with_suffix(".nt")
        with nt.open("rb") as body:
            start = time.perf_counter()
            httpx.put(os.environ["BENCH_ANCHOR_URL"] + "/store", params={"graph": "urn:anchor", "no_transaction": ""},
                      content=body, headers={"Content-Type": "application/n-triples",
                                             "Content-Length": str(nt.stat().st_size)},
                      timeout=3600).raise_for_status()
            out["anchor_bulk_put"] = time.perf_counter() - start
        url = os.environ["BENCH_STORE_URL"]
        # First publish (empty store), a second (the first version stays as the previous one), a third (steady
        # state: the version before the previous one is dropped after the switch).
        out["load_average_before"] = os.getloadavg()[0]
        for key in ("publish", "publish_again", "publish_steady"):
            result, out[key] = _timed(publish, graph, StoreEndpoints.derive(url), progress=False)
            out[key + "_matches"] = float(all(g.matches for g in result.graphs))
            out[key + "_live_after"] = result.live_after or 0.0  # the switch: readers see the new data
            out[key + "_notes"] = float(len(result.notes))  # cleanup that could not be done
            graphs = httpx.post(url + "/query", data={"query": "SELECT (COUNT(DISTINCT ?g) AS ?n) { GRAPH ?g {} }"},
                                headers={"Accept": "application/sparql-results+json"}, timeout=600)
            out[key + "_graphs_after"] = float(graphs.json()["results"]["bindings"][0]["n"]["value"])
            out[key + "_load_average"] = os.getloadavg()[0]
        out["publish_over_anchor"] = out["publish"] / out["anchor_bulk_put"]
        out["publish_steady_over_anchor"] = out["publish_steady"] / out["anchor_bulk_put"]
    return out


def measure(name: str, data: Path, work: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``step`` in a child process; its timings plus its peak RSS (MiB)."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--step", name, "--data", str(data), "--work", str(work)],
        stdout=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"step {name} on {data} failed ({process.returncode})")
    result: dict[str, float] = json.loads(output)
    if not result.get("peak_rss_mib"):  # no /proc: rusage (may include the parent's size at fork time)
        result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


REAL_QUERIES = {
    "aggregate": "PREFIX cgo: <https://w3id.org/citygraph/ontology#> SELECT ?kind (COUNT(?m) AS ?n) WHERE { "
    "?m cgo:memberOf ?a . ?a cgo:authorityKind ?kind } GROUP BY ?kind",
    "lookup": "PREFIX cgo: <https://w3id.org/citygraph/ontology#> SELECT ?a WHERE { ?c cgo:inseeCode \"44162\" . "
    "?m cgo:memberCommune ?c ; cgo:memberOf ?a }",
}


def measure_serve(data: Path, work: Path, repeat: int = 5, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Start `citygraph serve` on ``data`` (no bundled graph), time readiness and a few requests; a server that
    does not start is a result too (``serve_error``: the tail of its log)."""
    try:
        return _measure_serve(data, work, repeat, extra)
    except RuntimeError as exc:
        return {"serve_error": str(exc)[-600:], "peak_rss_mib": 0.0}


def _measure_serve(data: Path, work: Path, repeat: int, extra: tuple[str, ...]) -> dict[str, Any]:
    import statistics

    import httpx

    port = free_port()
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "citygraph", "serve", "--no-bundled", "--port", str(port), "--no-access-log",
         "--graph", f"https://w3id.org/citygraph/graph/data={data}", *extra],
        stdout=subprocess.DEVNULL, stderr=(work / "serve.log").open("wb"), cwd=work,
    )
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    try:
        if not wait_for_sparql(url + "/sparql", process, within=1200):
            log = (work / "serve.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"citygraph serve did not start (exit {process.poll()}): {log}")
        out["serve_ready"] = time.perf_counter() - start
        cases = {name: (url + "/sparql", {"query": q}, {"Accept": "application/sparql-results+json"})
                 for name, q in REAL_QUERIES.items()}
        first = httpx.get(url + "/sparql", timeout=60, headers={"Accept": "application/sparql-results+json"}, params={
            "query": "SELECT ?a WHERE { ?a a <https://w3id.org/citygraph/ontology#LocalAuthority> } LIMIT 1"})
        authority = first.json()["results"]["bindings"][0]["a"]["value"]
        path = "/id/" + authority.split("/id/", 1)[1]
        cases["deref"] = (url + path, {}, {"Accept": "text/turtle"})
        for name, (target, params, headers) in cases.items():
            times = []
            for _ in range(repeat):
                begin = time.perf_counter()
                response = httpx.get(target, params=params, headers=headers, timeout=60, follow_redirects=True)
                times.append(time.perf_counter() - begin)
                if response.status_code != 200:
                    raise RuntimeError(f"serve {name}: {response.status_code}")
            out[f"serve_{name}"] = statistics.median(times)
        status = Path(f"/proc/{process.pid}/status")
        if status.is_file():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out["peak_rss_mib"] = int(line.split()[1]) / 1024
    finally:
        stop(process)
    out.setdefault("peak_rss_mib", 0.0)
    return out


def _own_peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM), which exec resets, unlike the rusage of a forked child."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def start_oxigraph(location: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    binary = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    process = subprocess.Popen(
        [binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    if wait_for_sparql(url + "/query", process, within=20, poll=0.05, timeout=1):
        return process, url
    process.kill()
    raise RuntimeError("oxigraph did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "bench" / "out" / "scale")
    parser.add_argument("--no-pyshacl-above", type=int, default=100_000)
    parser.add_argument("--write-results", action="store_true", help="also write bench/scale/RESULTS.md")
    parser.add_argument("--steps", help="comma-separated subset of steps to (re)run, merged into RESULTS.json")
    parser.add_argument("--reuse", action="store_true", help="reuse generated graphs already in --out")
    parser.add_argument("--real", action="store_true", help="also run the real graph (the whole DGCL list)")
    args = parser.parse_args(argv)
    if args.step:
        result = step(args.step, args.data, args.work)
        result["peak_rss_mib"] = _own_peak_rss_mib()
        print(json.dumps(result))
        return 0

    import generate

    from citygraph.load import load_graph  # noqa: F401  (fail early if the package is missing)

    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, dict[str, float]]] = {}
    previous = args.out / "RESULTS.json"
    if args.steps and previous.is_file():
        results = json.loads(previous.read_text())
    sizes: list[int | str] = [int(s) for s in args.sizes.split(",") if s]
    if args.real:
        sizes.append("DGCL")
    for size in sizes:
        if size == "DGCL":
            import real

            ttl = args.out / "graph-dgcl.ttl"
            counts = real.write(real.REPO.parent / "shared" / "reference" / "epci-2017-dgcl.csv", ttl)
            summary = {"triples": "(see load)", "authorities": counts["epcis"]}
            label = "DGCL"
        else:
            assert isinstance(size, int)
            nt = args.out / f"graph-{size}.nt"
            ttl = nt.with_suffix(".ttl")
            if args.reuse and ttl.is_file():
                summary = {"triples": "(reused)", "authorities": "(reused)"}
            else:
                summary = generate.generate(size, nt, violations=0)
                _to_turtle(nt, ttl)
            label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
        print(f"[{label}] {summary['triples']} triples, {summary['authorities']} authorities", file=sys.stderr)
        steps = ["pipeline", "build", "export-nt", "export-ttl", "export-jsonld", "export-nq", "export-csv", "queries"]
        if isinstance(size, int) and size <= args.no_pyshacl_above:
            steps.append("pyshacl")
        if args.steps:
            steps = [s for s in steps if s in args.steps.split(",")]
        per: dict[str, dict[str, float]] = results.get(label, {})
        with tempfile.TemporaryDirectory(prefix="citygraph-bench-") as tmp:
            for name in steps:
                per[name] = measure(name, ttl, Path(tmp))
                print(f"[{label}] {name}: {per[name]}", file=sys.stderr)
            if not args.steps or "serve" in args.steps.split(","):
                per["serve"] = measure_serve(ttl, Path(tmp))
                print(f"[{label}] serve: {per['serve']}", file=sys.stderr)
                if "serve_error" in per["serve"]:  # the default did not start: one query worker, for comparison
                    per["serve-1-worker"] = measure_serve(ttl, Path(tmp), extra=("--query-workers", "1"))
                    print(f"[{label}] serve --query-workers 1: {per['serve-1-worker']}", file=sys.stderr)
            if not args.steps or "publish" in args.steps.split(","):
                process, url = start_oxigraph(Path(tmp) / "oxigraph")
                anchor, anchor_url = start_oxigraph(Path(tmp) / "oxigraph-anchor")
                try:
                    per["publish"] = measure(
                        "publish", ttl, Path(tmp), {"BENCH_STORE_URL": url, "BENCH_ANCHOR_URL": anchor_url}
                    )
                finally:
                    for server in (process, anchor):
                        stop(server)
                print(f"[{label}] publish: {per['publish']}", file=sys.stderr)
        results[label] = per
    (args.out / "RESULTS.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    print(table)
    if args.write_results:
        (HERE / "RESULTS.md").write_text(table)
    return 0


def _to_turtle(nt: Path, ttl: Path) -> None:
    import pyoxigraph

    from citygraph.namespaces import PREFIXES

    with ttl.open("wb") as out:
        pyoxigraph.serialize(
            (q.triple for q in pyoxigraph.parse(path=str(nt), format=pyoxigraph.RdfFormat.N_TRIPLES)),
            out,
            format=pyoxigraph.RdfFormat.TURTLE,
            prefixes=PREFIXES,
        )


def _last_error_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["?"])[-1]


def markdown(results: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = [
        ("load (Turtle)", "pipeline", "load"),
        ("validate, sparql engine", "pipeline", "validate"),
        ("export --format all", "pipeline", "export_all"),
        ("**load + validate + export all**", "pipeline", "total"),
        ("`citygraph build` (CLI, engine auto)", "build", "build"),
        ("export nt", "export-nt", "export-nt"),
        ("export ttl", "export-ttl", "export-ttl"),
        ("export jsonld", "export-jsonld", "export-jsonld"),
        ("export nq", "export-nq", "export-nq"),
        ("export csv", "export-csv", "export-csv"),
        ("all named queries", "queries", "queries"),
        ("validate, pyshacl", "pyshacl", "validate_pyshacl"),
        ("raw bulk load, GSP `PUT ?no_transaction` (anchor)", "publish", "anchor_bulk_put"),
        ("publish to oxigraph serve (empty store)", "publish", "publish"),
        ("publish again (previous version kept)", "publish", "publish_again"),
        ("publish, steady state (drops the version before)", "publish", "publish_steady"),
        ("… steady state: new data live after (the switch)", "publish", "publish_steady_live_after"),
        ("publish ÷ anchor (empty store)", "publish", "publish_over_anchor"),
        ("publish steady ÷ anchor", "publish", "publish_steady_over_anchor"),
        ("`citygraph serve`: until it answers", "serve", "serve_ready"),
        ("serve: SPARQL aggregate (median of 5)", "serve", "serve_aggregate"),
        ("serve: commune lookup (median of 5)", "serve", "serve_lookup"),
        ("serve: IRI dereference (median of 5)", "serve", "serve_deref"),
    ]
    sizes = list(results)
    head = "| step | " + " | ".join(f"{s} time | {s} peak RSS" for s in sizes) + " | time growth |\n"
    head += "|---|" + "---|---|" * len(sizes) + "---|\n"
    lines = []
    for title, step_name, key in rows:
        cells, times = [], []
        for s in sizes:
            entry = results[s].get(step_name, {})
            if key in entry:
                times.append(entry[key])
                value = f"×{entry[key]:.2f}" if key.endswith("_over_anchor") else f"{entry[key]:.2f} s"  # a ratio
                cells.append(f"{value} | {entry['peak_rss_mib']:.0f} MiB")
            else:
                cells.append("— | —")
        growth = " → ".join(f"×{b / a:.1f}" for a, b in itertools.pairwise(times) if a > 0)
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {growth} |")
    triples = " / ".join(
        f"{s}: {int(results[s]['pipeline']['triples'])} triples" for s in sizes if "pipeline" in results[s]
    )
    failed = [f"{s}: `citygraph serve` failed ({_last_error_line(results[s]['serve']['serve_error'])})"
              for s in sizes if "serve_error" in results[s].get("serve", {})]
    return (
        f"Sizes — {triples}. Each step runs in its own process (peak RSS of that process).\n\n"
        + head
        + "\n".join(lines)
        + "\n"
        + "".join(f"\n{line}\n" for line in failed)
    )


if __name__ == "__main__":
    sys.exit(main())
