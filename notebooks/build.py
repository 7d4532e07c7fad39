#!/usr/bin/env python3
"""Build and execute genolm's notebooks headless.

Each notebook's source is a plain Rust file in notebooks/src/ in the "percent" format
(cells start with `// %%`, markdown cells with `// %% [markdown]` and `// ` lines), which diffs
and reviews like code. This script turns every source into notebooks/<name>.ipynb for the
"Rust (genolm)" kernel and executes it with `jupyter nbconvert --to notebook --execute`, so the
committed notebooks keep their outputs (plots render on GitHub).

  build.py                  build + execute all notebooks, in place
  build.py 01-quickstart    only the named ones (substring match)
  build.py --no-execute     only convert (fast; to inspect the cells)
  build.py --out DIR        write executed notebooks to DIR instead (CI: leaves the tree clean)
  build.py --check-run      the same, then run each natively (release build): a smoke test
  build.py --check          compile every notebook's code as one Rust example with cargo
                            (seconds, no kernel) to catch API errors before executing

Exits non-zero when any cell of any notebook fails; prints each notebook's wall time.
"""
import argparse, json, os, re, shutil, subprocess, sys, time

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")


def parse(path):
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            return
        if kind == "md":
            text = "\n".join(l[3:] if l.startswith("// ") else l[2:] if l.startswith("//") else l for l in lines)
            cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cells.append(nbformat.v4.new_code_cell("\n".join(lines)))

    for line in open(path, encoding="utf-8").read().splitlines():
        if line.startswith("// %%"):
            flush()
            kind, lines = ("md" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "genolm", "display_name": "Rust (genolm)", "language": "rust"}
    nb.metadata["language_info"] = {"name": "Rust", "file_extension": ".rs", "mimetype": "text/rust",
                                    "codemirror_mode": "rust", "pygment_lexer": "rust"}
    nb.metadata["genolm"] = {"source": os.path.relpath(path, HERE)}
    return nb


def check(sources, run=False):
    """Compile each notebook's cells, in order, as the body of one `main` (an example)."""
    repo = os.path.dirname(HERE)
    names = []
    for src in sources:
        body = []
        for cell in parse(src).cells:
            if cell.cell_type != "code":
                continue
            lines = [l for l in cell.source.splitlines() if not l.startswith(":")]
            while lines and not lines[-1].strip():
                lines.pop()
            if lines and not lines[-1].rstrip().endswith((";", "}")):
                lines[-1] = f"let _ = {lines[-1]};"
            body += lines
        name = "nbcheck_" + os.path.relpath(src, SRC)[:-3].replace("/", "_").replace("-", "_")
        code = ("#![allow(unused)]\nuse genolm::prelude::*;\n"
                "fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {\n"
                + "\n".join("    " + l for l in body) + "\n    Ok(())\n}\n")
        with open(os.path.join(repo, "examples", name + ".rs"), "w") as f:
            f.write(code)
        names.append(name)
    try:
        args = ["cargo", "build", "--release" if run else "--quiet"] + [x for n in names for x in ("--example", n)]
        rc = subprocess.run(args, cwd=repo).returncode
        for n, src in zip(names, sources):
            if rc == 0 and run:
                t0 = time.time()
                cwd = os.path.dirname(os.path.join(HERE, os.path.relpath(src, SRC)))
                rc = subprocess.run([os.path.join(repo, "target", "release", "examples", n)], cwd=cwd).returncode
                print(f"ran {n} natively in {time.time() - t0:.0f} s (rc {rc})", flush=True)
        return rc
    finally:
        for n in names:
            os.remove(os.path.join(repo, "examples", n + ".rs"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--no-execute", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--check-run", action="store_true", help="--check, then run each natively (release)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    a = ap.parse_args()
    sources = []
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(".rs"):
                sources.append(os.path.join(root, f))
    sources.sort()
    if a.names:
        sources = [s for s in sources if any(n in s for n in a.names)]
        if not sources:
            sys.exit(f"no notebook source matches {a.names}")
    if a.check or a.check_run:
        sys.exit(check(sources, run=a.check_run))
    jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
    failed, times = [], {}
    for src in sources:
        rel = os.path.relpath(src, SRC)[:-3] + ".ipynb"
        dest = os.path.join(a.out or HERE, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        nb = parse(src)
        # executed next to its committed copy, so relative paths are the same for readers and CI
        tmp = os.path.join(HERE, rel)[:-6] + ".tmp.ipynb"
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        nbformat.write(nb, tmp)
        if a.no_execute:
            shutil.move(tmp, dest)
            print(f"built {rel}")
            continue
        t0 = time.time()
        cwd = os.path.dirname(tmp)
        r = subprocess.run([jupyter, "nbconvert", "--to", "notebook", "--execute", "--inplace",
                            "--ExecutePreprocessor.kernel_name=genolm",
                            f"--ExecutePreprocessor.timeout={a.timeout}",
                            "--ExecutePreprocessor.startup_timeout=1800",
                            "--log-level=WARN", "--allow-errors",
                            tmp], cwd=cwd)
        # every cell runs (errors are kept in the notebook, where they are readable); a notebook
        # with any error output fails
        if r.returncode == 0:
            # evcxr reports an error returned by `?` on stderr (the message, then a backtrace
            # starting "   0: ") and marks the cell as done; progress on stderr is fine
            def failed_stderr(o):
                text = "".join(o.get("text", ""))
                return (o.get("output_type") == "stream" and o.get("name") == "stderr"
                        and (re.search(r"(^|\n)\s+0: ", text) or "panicked at" in text))
            errors = [o if o.get("output_type") == "error" else
                      {"ename": "stderr", "evalue": "".join(o.get("text", ""))}
                      for c in nbformat.read(tmp, as_version=4).cells if c.cell_type == "code"
                      for o in c.get("outputs", [])
                      if o.get("output_type") == "error" or failed_stderr(o)]
            for e in errors:
                print(f"error in {rel}: {e.get('ename')}: {e.get('evalue')}\n" + "\n".join(e.get("traceback") or []), flush=True)
            if errors:
                r = subprocess.CompletedProcess(r.args, 1)
        dt = time.time() - t0
        times[rel] = round(dt, 1)
        if r.returncode != 0:
            failed.append(rel)
            print(f"FAILED {rel} after {dt:.0f} s (kept as {tmp})", flush=True)
            continue
        shutil.move(tmp, dest)
        print(f"executed {rel} in {dt:.0f} s", flush=True)
    if times:
        res = {"notebook_seconds": times, "total_s": round(sum(times.values()), 1), "failed": failed}
        print(json.dumps(res, indent=2))
        out = os.path.join(os.path.dirname(HERE), "runs", "notebooks", "timings.json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out + ".tmp", "w") as f:
            json.dump(res, f, indent=2)
        os.replace(out + ".tmp", out)
    if failed:
        sys.exit(f"{len(failed)} notebook(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
