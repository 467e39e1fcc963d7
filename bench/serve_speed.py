"""Requests/s and p50/p99 latency of `citygraph serve` beside the `oxigraph` server, same data, same run.

Both servers serve the same store (the bundled graph, or --graph files), on 127.0.0.1; wrk drives each
scenario with 8 connections (a Lua script makes the ad-hoc query differ on every request):

- named:   the named query authority-by-insee for one code (the same request each time: cacheable)
- ad-hoc lookups, each request different (another value from the graph, and a nonce in a comment: no cache
  helps), one scenario per shape:
  - literal: a literal object, ``SELECT ?s ?p WHERE { ?s ?p "CODE" } LIMIT 5``
  - subject: a subject IRI, ``SELECT ?p ?o WHERE { <…/authority/X> ?p ?o }``
  - join:    a label and a type, ``SELECT ?a WHERE { ?a rdfs:label "NAME"@fr ; a cgo:LocalAuthority }``
  - insee:   an INSEE-code lookup, ``?s cgo:inseeCode "CODE" . ?a cgo:seat ?s ; ?p ?o``
- deref:   an IRI dereference, /data/authority/nantes-metropole.ttl (oxigraph: the same DESCRIBE as Turtle)
- groupby: initiatives counted by theme (GROUP BY)

Citygraph servers run beside Oxigraph: ``defaults`` is ``citygraph serve`` as a newcomer types it (no
option), ``tuned`` adds the ``--workers`` / ``--query-workers`` / ``--access-log`` given here, ``logged`` (when
asked for) is the defaults with ``--access-log``, to measure what the log costs. Each (scenario,
server) runs ``--repeat`` times, interleaved; the table gives medians, and each ratio is to Oxigraph in the same
run. ``--triples N`` serves a graph of about N triples made by bench/scale/generate.py instead of the bundled one.

Usage: python bench/serve_speed.py [--duration 8] [--connections 8] [--workers 2] [--query-workers 1]
       [--repeat 3] [--triples 100000] [--scenarios named,literal,subject,join,insee,deref,groupby]
       [--servers defaults,tuned] [--access-log]
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
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
# The ad-hoc shapes: (key, name, query with VALUE where each request puts another value, the values' kind)
SHAPES = (
    ("literal", "ad-hoc: literal object", 'SELECT ?s ?p WHERE { ?s ?p "VALUE" } LIMIT 5', "code"),
    ("subject", "ad-hoc: subject IRI", "SELECT ?p ?o WHERE { <VALUE> ?p ?o }", "authority"),
    (
        "join",
        "ad-hoc: label + type join",
        f'PREFIX rdfs: <{RDFS}> PREFIX cgo: <{CGO}> SELECT ?a WHERE {{ ?a rdfs:label "VALUE"@fr ; '
        "a cgo:LocalAuthority }",
        "label",
    ),
    (
        "insee",
        "ad-hoc: INSEE-code lookup",
        f'PREFIX cgo: <{CGO}> SELECT ?a ?p ?o WHERE {{ ?s cgo:inseeCode "VALUE" . ?a cgo:seat ?s ; ?p ?o }}',
        "code",
    ),
)


def lua_adhoc(path_prefix: str, template: str, values: list[str]) -> str:
    """A wrk script: each request a different query (another value from the graph, and a nonce)."""
    before, after = (quote(part, safe="") for part in template.split("VALUE"))
    values_lua = ", ".join(f'"{quote(v, safe="")}"' for v in values)
    return f"""
local values = {{ {values_lua} }}
local counter = 0
request = function()
  counter = counter + 1
  local value = values[(counter % #values) + 1]
  local nonce = "%23" .. tostring(math.random(1, 1000000000)) .. "-" .. counter
  local q = "{before}" .. value .. "{after}" .. nonce
  return wrk.format("GET", "{path_prefix}" .. q, {{ ["Accept"] = "application/sparql-results+json" }})
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


def start_citygraph(port: int, options: list[str], graph_args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "citygraph", "serve", "--port", str(port), *options, *graph_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
    )


def sample_values(url: str) -> dict[str, list[str]]:
    """Codes, authority IRIs and French labels from the served graph (the ad-hoc shapes' values)."""

    def column(query: str, name: str) -> list[str]:
        answer = httpx.get(
            url, params={"query": query}, headers={"Accept": "application/sparql-results+json"}, timeout=120
        )
        answer.raise_for_status()
        return [row[name]["value"] for row in answer.json()["results"]["bindings"]]

    authorities = f"?a a <{CGO}LocalAuthority>"
    return {
        "code": column(f"SELECT DISTINCT ?code WHERE {{ ?s <{CGO}inseeCode> ?code }} LIMIT 500", "code"),
        "authority": column(f"SELECT DISTINCT ?a WHERE {{ {authorities} }} LIMIT 500", "a"),
        "label": column(
            f'SELECT DISTINCT ?l WHERE {{ {authorities} ; <{RDFS}label> ?l FILTER(LANG(?l) = "fr") }} LIMIT 500',
            "l",
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="tuned server: HTTP workers")
    parser.add_argument("--query-workers", type=int, default=1, help="tuned server: query workers per HTTP worker")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario and server (median reported)")
    parser.add_argument("--triples", type=int, help="serve a generated graph of about this many triples")
    parser.add_argument("--scenarios", default="named,literal,subject,join,insee,deref,groupby")
    parser.add_argument(
        "--servers", default="defaults,tuned", help="citygraph servers to measure: defaults, tuned, logged"
    )
    parser.add_argument("--access-log", action="store_true", help="tuned server: with the access log")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    wanted = args.scenarios.split(",")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    oxigraph = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")

    from citygraph.serve.backend import prepare_store
    from citygraph.serve.state import ServeConfig

    tuned_options = ["--workers", str(args.workers), "--query-workers", str(args.query_workers)]
    tuned_options += ["--access-log"] if args.access_log else []
    server_options = {"defaults": [], "tuned": tuned_options, "logged": ["--access-log"]}
    servers = [name for name in args.servers.split(",") if name in server_options]
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
        ox_port = free_port()
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
        bases = {"oxigraph": f"http://127.0.0.1:{ox_port}"}
        for name in servers:
            port = free_port()
            processes.append(start_citygraph(port, server_options[name], graph_args, tmp))
            bases[name] = f"http://127.0.0.1:{port}"
        ox = bases["oxigraph"] + "/query"
        wait(ox + "?query=ASK%7B%7D")
        for name in servers:
            wait(bases[name] + "/sparql?query=ASK%7B%7D", timeout=600)
        values = sample_values(ox)
        codes = values["code"]
        code = "44109" if "44109" in codes else codes[0]
        subject = httpx.get(
            ox,
            params={"query": f'SELECT ?a WHERE {{ ?s <{CGO}inseeCode> "{code}" . ?a <{CGO}seat> ?s }} LIMIT 1'},
            headers={"Accept": "application/sparql-results+json"},
            timeout=60,
        ).json()["results"]["bindings"][0]["a"]["value"]
        deref_path = subject.removeprefix(ID)
        json_h = {"Accept": "application/sparql-results+json"}
        ttl_h = {"Accept": "text/turtle"}
        named = quote(named_query_text(code), safe="")
        describe = quote(f"DESCRIBE <{ID}{deref_path}>", safe="")
        group = quote(GROUP_BY, safe="")
        # (key, name, citygraph path, oxigraph URL, headers, ad-hoc shape or None)
        scenarios: list[tuple[str, str, str, str, dict[str, str], tuple[str, str] | None]] = [
            ("named", "named query", f"/sparql?query={named}", f"{ox}?query={named}", json_h, None),
            *((key, label, "/sparql", ox, json_h, (template, kind)) for key, label, template, kind in SHAPES),
            ("deref", "IRI dereference", f"/data/{deref_path}.ttl", f"{ox}?query={describe}", ttl_h, None),
            ("groupby", "GROUP BY", f"/sparql?query={group}", f"{ox}?query={group}", json_h, None),
        ]
        rows = []
        for key, name, cg_path, ox_url, headers, shape in sorted(
            scenarios, key=lambda s: wanted.index(s[0]) if s[0] in wanted else len(wanted)
        ):
            if key not in wanted:
                continue
            runs: dict[str, list[dict[str, float]]] = {server: [] for server in ["oxigraph", *servers]}
            for _ in range(args.repeat):
                for server in runs:
                    url = ox_url if server == "oxigraph" else bases[server] + cg_path
                    script = None
                    if shape is not None:
                        path = "/" + url.split("://", 1)[1].split("/", 1)[1] + "?query="
                        script = lua_adhoc(path, shape[0], values[shape[1]])
                        check(url + "?query=" + quote(shape[0].replace("VALUE", values[shape[1]][0])), headers)
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
            f"loopback; {graph_name}; load average before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}\n"
            + " · ".join(
                f"{name}: citygraph serve {' '.join(server_options[name]) or '(no option)'}" for name in servers
            )
            + "\n"
        )
        header = "| scenario | oxigraph req/s | p50 / p99 ms |"
        rule = "|---|---|---|"
        for server in servers:
            header += f" {server} req/s | p50 / p99 ms | ratio |"
            rule += "---|---|---|"
        print(header + " errors |")
        print(rule + "---|")
        for name, r in rows:
            o = r["oxigraph"]
            line = f"| {name} | {o['rps']:,.0f} | {o['p50']:.2f} / {o['p99']:.2f} |"
            for server in servers:
                c = r[server]
                line += f" {c['rps']:,.0f} | {c['p50']:.2f} / {c['p99']:.2f} | {c['rps'] / o['rps']:.2f}× |"
            print(line + " " + "/".join(str(int(r[server]["errors"])) for server in r) + " |")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
