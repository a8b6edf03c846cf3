#!/usr/bin/env python3
"""bench-report.py CSV OUTDIR - the benchmark's table, chart and verdicts.

Reads the rows scripts/bench.sh wrote (workload, system, run, value, unit),
takes the median of the runs, and writes OUTDIR/table.md (printed too),
OUTDIR/summary.csv and OUTDIR/ratios.png (gnuplot): mmapfs and the peers
as a multiple of native.  Every ratio comes from the same run's figures."""
import csv
import os
import statistics
import subprocess
import sys

PEERS = ["passthrough_ll", "bindfs", "mergerfs"]
# mmapfs-ro: a read-only mount (-o ro: files read without opens);
# mmapfs-timeout: mmapfs without the watcher (-o cache=timeout); when run.
SYSTEMS = ["native", "mmapfs", "mmapfs-ro", "mmapfs-timeout"] + PEERS
# workload -> (what, higher is better, target kind, target)
WORKLOADS = {
    "seq-read-cold": ("sequential read 1 MiB blocks, first open", True, "native", 0.75),
    "seq-read-warm": ("sequential read, second open", True, "native", 0.95),
    "rand-4k-1job": ("random 4 KiB reads, 1 job", True, "peer", 3.0),
    "rand-4k-2job": ("random 4 KiB reads, 2 jobs", True, "peer", 2.0),
    "small-files-cold": ("4 KiB files read whole, first pass", True, "peer", 3.0),
    "small-files-warm": ("4 KiB files read whole, second pass", True, "native", 0.7),
    "walk-small": ("metadata walk (find -printf %s %i), small tree", True, "peer", 2.0),
    "walk-big": ("metadata walk, big tree", True, "completes", None),
    "daemon-peak-rss": ("daemon peak RSS after the big walk", False, None, None),
    "daemon-anon-rss": ("daemon anonymous memory after the big walk", False, "max", 128.0),
}


def ratio(a, b, higher):
    """a against b, as "times better" (None when either is missing or 0)."""
    if not a or not b:
        return None
    return a / b if higher else b / a


def verdict(kind, target, m, vs_native, vs_peer):
    """(target text, met: True, False or None) for one system's figure."""
    if kind == "native":
        return f">= {target} x native", vs_native is not None and vs_native >= target
    if kind == "peer":
        return f">= {target} x best peer", vs_peer is not None and vs_peer >= target
    if kind == "completes":
        return "completes", bool(m)
    if kind == "max":
        return f"<= {target:.0f} MiB", m is not None and m <= target
    return "", None


def main():
    path, out = sys.argv[1], sys.argv[2]
    values, units = {}, {}
    with open(path) as f:
        for row in csv.DictReader(f):
            values.setdefault((row["workload"], row["system"]), []).append(float(row["value"]))
            units[row["workload"]] = row["unit"]
    med = {k: statistics.median(v) for k, v in values.items()}
    ran = {s for (_, s) in med}
    systems = [s for s in SYSTEMS if s in ran]
    ro = "mmapfs-ro" in ran
    unwatched = "mmapfs-timeout" in ran

    extra = ((["ro / native", "ro / best peer"] if ro else []) +
             (["watched / timeout"] if unwatched else []))
    lines = ["| workload | unit | " + " | ".join(systems) +
             " | mmapfs / native | mmapfs / best peer | " +
             "".join(e + " | " for e in extra) + "target | met |",
             "|---" * (len(systems) + 6 + len(extra)) + "|"]
    summary = [["workload", "unit"] + systems + ["vs_native", "vs_best_peer"] +
               (["ro_vs_native", "ro_vs_best_peer"] if ro else []) +
               (["watched_vs_timeout"] if unwatched else []) + ["target", "met"]]
    fmt = lambda r: f"{r:.2f}" if r is not None else "-"
    for w, (what, higher, kind, target) in WORKLOADS.items():
        if not any((w, s) in med for s in systems):
            continue
        # A figure of 0 is a run that did not complete (bench.sh records 0).
        cells = [("failed" if med[(w, s)] == 0 else f"{med[(w, s)]:.1f}")
                 if (w, s) in med else "-" for s in systems]
        n = med.get((w, "native"))
        peers = [med[(w, p)] for p in PEERS if med.get((w, p), 0) > 0]
        best = (max(peers) if higher else min(peers)) if peers else None
        m = med.get((w, "mmapfs"))
        vs_native, vs_peer = ratio(m, n, True), ratio(m, best, higher)
        tgt, met = verdict(kind, target, m, vs_native, vs_peer)
        more = []
        if ro:
            r = med.get((w, "mmapfs-ro"))
            ro_native, ro_peer = ratio(r, n, True), ratio(r, best, higher)
            more += [fmt(ro_native), fmt(ro_peer)]
            ro_met = verdict(kind, target, r, ro_native, ro_peer)[1]
            if met is False and ro_met:
                met = "read-only only"
        if unwatched:
            more.append(fmt(ratio(m, med.get((w, "mmapfs-timeout")), higher)))
        said = "yes" if met is True else "no" if met is False else met or ""
        lines.append(f"| {what} | {units[w]} | " + " | ".join(cells) +
                     f" | {fmt(vs_native)} | {fmt(vs_peer)} | " +
                     "".join(c + " | " for c in more) + f"{tgt} | {said} |")
        summary.append([w, units[w]] + cells + [fmt(vs_native), fmt(vs_peer)] + more +
                       [tgt, said])
    table = "\n".join(lines)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        csv.writer(f).writerows(summary)
    print(table)
    chart(med, out, systems)


def chart(med, out, systems):
    """Bars: each system's figure as a multiple of native, per workload."""
    rows = []
    for w, (what, higher, kind, _) in WORKLOADS.items():
        n = med.get((w, "native"))
        if not n or not higher:
            continue
        rows.append([w] + [f"{med.get((w, s), 0) / n:.4f}" for s in systems[1:]])
    if not rows:
        return
    dat = os.path.join(out, "ratios.dat")
    with open(dat, "w") as f:
        for r in rows:
            f.write(" ".join(r) + "\n")
    plot = "\n".join([
        "set terminal pngcairo size 1100,500 noenhanced" if has_cairo() else "set terminal png size 1100,500",
        f"set output '{os.path.join(out, 'ratios.png')}'",
        "set style data histograms", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set logscale y", "set yrange [0.001:*]",
        "set ylabel 'figure / native (higher is better)'", "set xtics rotate by -20",
        "set key outside", "set grid ytics",
        "plot " + ", ".join(f"'{dat}' using {i + 2}:xtic(1) title '{s}'"
                            for i, s in enumerate(systems[1:])),
    ])
    try:
        subprocess.run(["gnuplot"], input=plot, text=True, check=True,
                       stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        print("bench-report: gnuplot failed; no chart", file=sys.stderr)


def has_cairo():
    try:
        r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
        return "pngcairo" in r.stdout + r.stderr
    except OSError:
        return False


if __name__ == "__main__":
    main()
