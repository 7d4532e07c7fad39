#!/usr/bin/env python3
"""Compare two `genolm bench --out` report.json files and list every difference.

  scripts/compare-bench-json.py BEFORE/report.json AFTER/report.json

Timing fields (`seconds`, and the `cost` task's throughput and memory, which measure the
machine) are reported separately; every other difference is a changed result and makes the
script exit with 1. Used to show that a refactor leaves the benchmark's numbers unchanged.
"""
import json
import sys


def walk(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append((path + "/" + k, a.get(k), b.get(k)))
            else:
                walk(a[k], b[k], path + "/" + k, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append((path, f"{len(a)} items", f"{len(b)} items"))
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", out)
    elif a != b and not (a != a and b != b):  # NaN == NaN here
        out.append((path, a, b))


def is_timing(path, rows):
    if path.endswith("/seconds"):
        return True
    if path.startswith("/rows["):
        i = int(path[6:path.index("]")])
        return rows[i].get("task") == "cost"
    return False


def main():
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
    diffs = []
    walk(a, b, "", diffs)
    timing = [d for d in diffs if is_timing(d[0], a.get("rows", []))]
    results = [d for d in diffs if d not in timing]
    print(f"{len(a.get('rows', []))} rows; {len(timing)} timing fields differ (expected); "
          f"{len(results)} results differ")
    for p, x, y in results:
        print(f"  {p}: {x!r} -> {y!r}")
    sys.exit(1 if results else 0)


if __name__ == "__main__":
    main()
