"""Build the map's base layer: metropolitan France and its neighbours from Natural Earth (world-atlas on npm).

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python tools/france_geometry.py package/countries-50m.json src/citygraph/serve/static/map/france.geojson

Decodes the TopoJSON (quantized, delta-encoded arcs), keeps France (ISO 3166 numeric 250) and the countries
around it, clips to a box around metropolitan France and Corsica (overseas parts dropped: no authority of the
survey is there), rounds coordinates to 0.01° (about 1 km) and drops repeated points. Natural Earth is in the
public domain; world-atlas is ISC-licensed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# ISO 3166-1 numeric: France, then Belgium, Luxembourg, Germany, Switzerland, Italy, Spain, Andorra, Monaco,
# the United Kingdom, the Netherlands (drawn in grey around it).
KEEP = {"250", "056", "442", "276", "756", "380", "724", "020", "492", "826", "528"}
BOX = (-6.0, 41.0, 10.5, 51.6)  # west, south, east, north


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def inside(point: tuple[float, float]) -> bool:
    west, south, east, north = BOX
    return west <= point[0] <= east and south <= point[1] <= north


def simplify(points: list[tuple[float, float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in points:
        rounded = [round(x, 2), round(y, 2)]
        if not out or out[-1] != rounded:
            out.append(rounded)
    if out[0] != out[-1]:
        out.append(out[0])
    return out


def main(source: str, target: str) -> None:
    topology = json.loads(Path(source).read_text(encoding="utf-8"))
    arcs = decode_arcs(topology)
    features = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        code = str(geometry.get("id", "")).zfill(3)
        if code not in KEEP:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        kept = []
        for polygon in polygons:
            rings = [ring(r, arcs) for r in polygon]
            if not any(inside(p) for p in rings[0]):
                continue  # overseas, or a part of a neighbour far from France
            simplified = [simplify(r) for r in rings]
            if len(simplified[0]) >= 4:
                kept.append(simplified)
        if kept:
            features.append({"type": "Feature", "properties": {"iso": code, "france": code == "250"},
                             "geometry": {"type": "MultiPolygon", "coordinates": kept}})
    collection = {"type": "FeatureCollection",
                  "source": "Natural Earth 1:50m Admin 0 countries (public domain), via world-atlas 2.0.2",
                  "features": features}
    Path(target).write_text(json.dumps(collection, separators=(",", ":")), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
