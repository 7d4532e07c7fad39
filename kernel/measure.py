#!/usr/bin/env python3
"""Prebuild the "Rust (genolm)" kernel and measure it.

  measure.py --prebuild          start the kernel once and run a cell that uses the library, so
                                 evcxr's build folder (slot-0) holds the compiled library
  measure.py --out timings.json  time (a) kernel start to the first cell's result, (b) a second
                                 cell without a variable (while rust-analyzer loads), (c) cells
                                 that define a variable (the first waits for rust-analyzer),
                                 (d) a cell that calls the library and displays a figure

Run with the venv's Python (kernel/install.sh does). Exits non-zero when a cell fails.
"""
import argparse, json, os, platform, shutil, statistics, sys, time

from jupyter_client.manager import KernelManager


def run_cell(kc, code, timeout):
    out, err = [], []

    def hook(msg):
        t, c = msg["header"]["msg_type"], msg["content"]
        if t == "stream":
            out.append(c["text"])
        elif t in ("execute_result", "display_data"):
            out.append(" ".join(sorted(c["data"].keys())))
        elif t == "error":
            err.append("\n".join(c.get("traceback") or [c.get("evalue", "")]))

    t0 = time.perf_counter()
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    dt = time.perf_counter() - t0
    if reply["content"]["status"] != "ok" or err:
        raise RuntimeError(f"cell failed: {code!r}\n" + "\n".join(err))
    return dt, "".join(out)


def start():
    t0 = time.perf_counter()
    km = KernelManager(kernel_name="genolm")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=3600)
    return km, kc, t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prebuild", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pause", type=float, default=0.0,
                    help="seconds to wait after the first result, as a reader would, before the "
                         "first cell that defines a variable (rust-analyzer loads meanwhile)")
    a = ap.parse_args()
    if a.prebuild:
        km, kc, t0 = start()
        try:
            # a value, a persisted variable (evcxr type-checks those with `cargo check`, which
            # needs its own metadata build) and an inline figure: every kind of first cell
            for code in ["KmerTokenizer::new(3, 1).unwrap().vocab_size()",
                         "let tok = KmerTokenizer::new(3, 1).unwrap(); tok.vocab_size()",
                         "Figure::bars(\"x\", \"y\", &[\"a\".into()], &[1.0], None).unwrap()"]:
                run_cell(kc, code, 3600)
            print(f"genolm kernel: prebuilt the library in evcxr's build folder in {time.perf_counter() - t0:.0f} s")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        return
    km, kc, t0 = start()
    try:
        first, _ = run_cell(kc, "1 + 1", 3600)
        start_to_first = time.perf_counter() - t0
        # a second cell without a variable, while rust-analyzer loads in the background
        second, _ = run_cell(kc, "2 + 2", 600)
        time.sleep(a.pause)
        trivial = [run_cell(kc, f"let x{i} = {i} + 1; x{i}", 600)[0] for i in range(a.repeats)]
        lib = [run_cell(kc, "Figure::bars(\"GC\", \"fraction\", &[\"phiX174\".into()], &[0.447], None).unwrap()", 600)[0]
               for _ in range(2)]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    # which evcxr ran: the installer's build id (evcxr_jupyter has no --version), or the
    # binary GENOLM_EVCXR named
    home = os.path.expanduser(os.environ.get("GENOLM_HOME", "~/.cache/genolm"))
    if os.environ.get("GENOLM_EVCXR"):
        evcxr = os.environ["GENOLM_EVCXR"]
    else:
        try:
            evcxr = open(os.path.join(home, "evcxr", "build-id")).read().strip()
        except OSError:
            evcxr = "unknown"
    res = {
        "kernel_start_to_first_result_s": round(start_to_first, 2),
        "first_cell_s": round(first, 2),
        "second_cell_s": round(second, 2),
        "first_variable_cell_s": round(trivial[0], 2),
        "pause_before_it_s": a.pause,
        "trivial_cell_median_s": round(statistics.median(trivial), 2),
        "trivial_cell_s": [round(x, 2) for x in trivial],
        "library_figure_cell_s": [round(x, 2) for x in lib],
        "goals": {"kernel_start_to_first_result_s": 10, "trivial_cell_s": 3},
        "evcxr": evcxr,
        "linker": "mold" if shutil.which("mold") else ("lld" if shutil.which("lld") else "cc default"),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
    }
    print(json.dumps(res, indent=2))
    if a.out:
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f, indent=2)
        os.replace(tmp, a.out)


if __name__ == "__main__":
    sys.exit(main())
