"""Requests/s and p50/p99 latency of `citygraph serve` beside the `oxigraph` server, same data, same run.

Both servers serve the same store (the bundled graph, or --graph files), on 127.0.0.1; wrk drives each
scenario with 8 connections (a Lua script makes the ad-hoc query differ on every request):

- named:   the named query authority-by-insee for one code (the same request each time: cacheable)
- adhoc:   a lookup by INSEE code that differs on every request (a nonce in a comment: no cache helps)
- deref:   an IRI dereference, /data/authority/nantes-metropole.ttl (oxigraph: the same DESCRIBE as Turtle)
- groupby: initiatives counted by theme (GROUP BY)

Each (scenario, server) pair runs ``--repeat`` times, interleaved; the table gives medians. ``--triples N``
serves a graph of about N triples made by bench/scale/generate.py instead of the bundled one.

Usage: python bench/serve_speed.py [--duration 8] [--connections 8] [--workers 2] [--query-workers 2]
       [--repeat 3] [--triples 100000] [--scenarios named,adhoc,deref,groupby] [--access-log]
Needs `wrk` (apt-get install wrk) and the `oxigraph` server (pip install oxigraph).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

CGO = "https://w3id.org/citygraph/ontology#"
ID = "https://w3id.org/citygraph/id/"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered at {url}")


def named_query_text(code: str) -> str:
    text = (ROOT / "queries" / "authority-by-insee.rq").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    # bind ?code as the named-query runner does for remote endpoints: a VALUES block at the end
    return body + f'\nVALUES ?code {{ "{code}" }}\n'


GROUP_BY = (
    f"PREFIX cgo: <{CGO}> SELECT ?theme (COUNT(?i) AS ?n) WHERE {{ ?i cgo:theme ?theme }} "
    "GROUP BY ?theme ORDER BY DESC(?n)"
)
ADHOC = f'PREFIX cgo: <{CGO}> SELECT ?a ?p ?o WHERE {{ ?s cgo:inseeCode "%s" . ?a cgo:seat ?s ; ?p ?o }}'


def lua_adhoc(path_prefix: str, codes: list[str]) -> str:
    """A wrk script: each request a different query (a code from the graph and a nonce)."""
    template = quote(ADHOC, safe="").replace("%25s", "CODE")
    codes_lua = ", ".join(f'"{c}"' for c in codes)
    return f"""
local codes = {{ {codes_lua} }}
local counter = 0
local prefix = "{path_prefix}"
local template = "{template}"
request = function()
  counter = counter + 1
  local code = codes[(counter % #codes) + 1]
  local q = template:gsub("CODE", code) .. "%23" .. tostring(math.random(1, 1000000000)) .. "-" .. counter
  return wrk.format("GET", prefix .. q, {{ ["Accept"] = "application/sparql-results+json" }})
end
"""


def run_wrk(
    url: str, *, duration: int, connections: int, headers: dict[str, str], script: str | None, tmp: Path
) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        path = tmp / f"script{abs(hash(script))}.lua"
        path.write_text(script)
        command += ["-s", str(path)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", output)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rps, "p50": pct("50"), "p99": pct("99"), "errors": errors}


def median_result(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def generated_graph(triples: int, tmp: Path) -> Path:
    out = tmp / f"graph-{triples}.nt"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale" / "generate.py"), "--triples", str(triples), "--out", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out


def check(url: str, headers: dict[str, str]) -> None:
    response = httpx.get(url, headers=headers, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"{url[:120]}…: {response.status_code} {response.text[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--query-workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario and server (median reported)")
    parser.add_argument("--triples", type=int, help="serve a generated graph of about this many triples")
    parser.add_argument("--scenarios", default="named,adhoc,deref,groupby")
    parser.add_argument("--access-log", action="store_true", help="keep citygraph's access log on")
    args = parser.parse_args()
    wanted = set(args.scenarios.split(","))
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    oxigraph = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")

    from citygraph.serve.backend import prepare_store
    from citygraph.serve.state import ServeConfig

    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        graph_args: list[str] = []
        config = ServeConfig()
        if args.triples:
            graph = generated_graph(args.triples, tmp)
            graph_iri = "https://w3id.org/citygraph/graph/data"
            config = ServeConfig(bundled=False, graphs=((graph_iri, str(graph)),))
            graph_args = ["--no-bundled", "--graph", f"{graph_iri}={graph}"]
        store = prepare_store(config, tmp / "oxigraph-store")
        ox_port, cg_port = free_port(), free_port()
        processes.append(
            subprocess.Popen(
                [
                    oxigraph,
                    "serve-read-only",
                    "--location",
                    str(store),
                    "--bind",
                    f"127.0.0.1:{ox_port}",
                    "--union-default-graph",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "citygraph",
                    "serve",
                    "--port",
                    str(cg_port),
                    "--workers",
                    str(args.workers),
                    "--query-workers",
                    str(args.query_workers),
                    *graph_args,
                    *([] if args.access_log else ["--no-access-log"]),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=tmp,
                env={**os.environ},
            )
        )
        ox = f"http://127.0.0.1:{ox_port}/query"
        cg = f"http://127.0.0.1:{cg_port}"
        wait(ox + "?query=ASK%7B%7D")
        wait(cg + "/sparql?query=ASK%7B%7D", timeout=600)
        codes = [
            r["code"]["value"]
            for r in httpx.get(
                cg + "/sparql",
                params={"query": f"SELECT DISTINCT ?code WHERE {{ ?s <{CGO}inseeCode> ?code }} LIMIT 2000"},
                timeout=60,
            ).json()["results"]["bindings"]
        ]
        code = "44109" if "44109" in codes else codes[0]
        subject = httpx.get(
            cg + "/sparql",
            params={"query": f"SELECT ?a WHERE {{ ?s <{CGO}inseeCode> \"{code}\" . ?a <{CGO}seat> ?s }} LIMIT 1"},
            timeout=60,
        ).json()["results"]["bindings"][0]["a"]["value"]
        deref_path = subject.removeprefix(ID)
        json_h = {"Accept": "application/sparql-results+json"}
        ttl_h = {"Accept": "text/turtle"}
        named = quote(named_query_text(code), safe="")
        describe = quote(f"DESCRIBE <{ID}{deref_path}>", safe="")
        group = quote(GROUP_BY, safe="")
        scenarios = [
            ("named", "named query", f"{cg}/sparql?query={named}", f"{ox}?query={named}", json_h, None),
            ("adhoc", "ad-hoc lookup", f"{cg}/sparql", ox, json_h, "adhoc"),
            (
                "deref",
                "IRI dereference",
                f"{cg}/data/{deref_path}.ttl",
                f"{ox}?query={describe}",
                ttl_h,
                None,
            ),
            ("groupby", "GROUP BY", f"{cg}/sparql?query={group}", f"{ox}?query={group}", json_h, None),
        ]
        rows = []
        for key, name, cg_url, ox_url, headers, script_kind in scenarios:
            if key not in wanted:
                continue
            runs: dict[str, list[dict[str, float]]] = {"oxigraph": [], "citygraph": []}
            for _ in range(args.repeat):
                for server, url in (("oxigraph", ox_url), ("citygraph", cg_url)):
                    script = None
                    if script_kind == "adhoc":
                        path = url.split("://", 1)[1].split("/", 1)[1]
                        script = lua_adhoc(path.join(["/", "?query="]), codes[:200])
                    else:
                        check(url, headers)
                    runs[server].append(
                        run_wrk(
                            url,
                            duration=args.duration,
                            connections=args.connections,
                            headers=headers,
                            script=script,
                            tmp=tmp,
                        )
                    )
            rows.append((name, {server: median_result(r) for server, r in runs.items()}))
        graph_name = f"generated graph of ~{args.triples:,} triples" if args.triples else "bundled graph"
        print(
            f"\n{args.connections} connections, {args.duration} s each, median of {args.repeat}, wrk -t2, "
            f"loopback; citygraph --workers {args.workers} --query-workers {args.query_workers}"
            f"{'' if args.access_log else ' --no-access-log'}; {graph_name}\n"
        )
        print(
            "| scenario | oxigraph req/s | p50 / p99 ms | citygraph req/s | p50 / p99 ms | ratio | errors |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, r in rows:
            o, c = r["oxigraph"], r["citygraph"]
            print(
                f"| {name} | {o['rps']:,.0f} | {o['p50']:.2f} / {o['p99']:.2f} | {c['rps']:,.0f} | "
                f"{c['p50']:.2f} / {c['p99']:.2f} | {c['rps'] / o['rps']:.2f}× | "
                f"{int(o['errors'])}/{int(c['errors'])} |"
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
