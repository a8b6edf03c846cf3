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
# mmapfs-mapped: every read through the daemon (-o passthrough=off);
# mmapfs-ro: a read-only mount (-o ro: files read without opens);
# mmapfs-timeout: mmapfs without the watcher (-o cache=timeout);
# mmapfs-push0: through the mappings, nothing pushed (-o passthrough=off,push=0);
# mmapfs-writeback: the kernel caches writes (-o writeback; --writes);
# the last three when run.
SYSTEMS = ["native", "sshfs", "mmapfs", "mmapfs-mapped", "mmapfs-ro", "mmapfs-timeout",
           "mmapfs-push0", "mmapfs-writeback"] + PEERS
# --network (a run with sshfs in it): native is the same files read
# locally, every FUSE system runs over sshfs.  workload -> (what, higher is
# better, [(against, target)]): each target for mmapfs, and where marked
# for mmapfs-ro too.
NETWORK = {
    "epoch-1": ("256 KiB files in a shuffled order, epoch 1", True, [("sshfs", 1.0)]),
    "epoch-2": ("256 KiB files in a shuffled order, epoch 2", True,
                [("native", 0.5), ("sshfs", 4.0)]),
    "grep-1": ("grep -r over a copy of /usr/include, 1st pass", False, [("sshfs", 1.0)]),
    "grep-2": ("grep -r over a copy of /usr/include, 2nd pass", False,
               [("native", 0.25), ("sshfs", 4.0)]),
}
# The rows whose targets the read-only mount must meet too.
NETWORK_RO = {"epoch-2"}
# workload -> (what, higher is better, target kind, target)
WORKLOADS = {
    "seq-read-cold": ("sequential read 1 MiB blocks, first open", True, "native", 0.9),
    "seq-read-warm": ("sequential read, the next 3 opens", True, "native", 0.95),
    "rand-4k-1job": ("random 4 KiB reads, 1 job (bounded)", True, "native", 0.9),
    "rand-4k-2job": ("random 4 KiB reads, 2 jobs (bounded)", True, "native", 0.9),
    "mmap-read": ("a client's mmap of the file, read once", True, "native", 0.9),
    "small-files-cold": ("4 KiB files read whole, first pass", True, "peer", 3.0),
    "small-files-warm": ("4 KiB files read whole, second pass", True, "native", 0.7),
    "epoch-1": ("256 KiB files in a shuffled order, epoch 1", True, "native", 0.5),
    "epoch-2": ("256 KiB files in a shuffled order, epoch 2", True, "native", 0.8),
    "grep-1": ("grep -r over a copy of /usr/include, 1st pass", False, None, None),
    # At most 2.5 x native's time.
    "grep-2": ("grep -r over a copy of /usr/include, 2nd pass", False, "native", 0.4),
    # At most 2 x the time of the mappings with nothing pushed.
    "rand-4k-sparse": ("random 4 KiB reads over a sparse file (bounded), a read", False,
                       "push0", 0.5),
    "daemon-rss-sparse": ("daemon resident memory after the sparse reads", False, None, None),
    "walk-small": ("metadata walk (find -printf %s %i), small tree", True, "peer", 2.0),
    "walk-big": ("metadata walk, big tree", True, "completes", None),
    "daemon-peak-rss": ("daemon peak RSS after the big walk", False, None, None),
    "daemon-anon-rss": ("daemon anonymous memory after the big walk", False, "max", 128.0),
    # bench.sh --writes (backing on a tmpfs); times, lower is better.
    "write-tar-x": ("tar -x of /usr/include (files checked)", False, "peer", 2.0),
    "write-dd-4k": ("256 MiB in 4 KiB writes (dd)", False, "native", 0.5),
    "write-git": ("git init, add -A, commit of 2,000 files", False, "peer", 2.0),
}


def ratio(a, b, higher):
    """a against b, as "times better" (None when either is missing or 0):
    for a time, b / a (0.5: twice b's time)."""
    if not a or not b:
        return None
    return a / b if higher else b / a


def verdict(kind, target, m, vs_native, vs_peer, vs_push0=None):
    """(target text, met: True, False or None) for one system's figure."""
    if kind == "native":
        return f">= {target} x native", vs_native is not None and vs_native >= target
    if kind == "peer":
        return f">= {target} x best peer", vs_peer is not None and vs_peer >= target
    if kind == "push0":
        return f">= {target} x push=0", vs_push0 is not None and vs_push0 >= target
    if kind == "completes":
        return "completes", bool(m)
    if kind == "max":
        return f"<= {target:.0f} MiB", m is not None and m <= target
    return "", None


def columns(systems, ro, unwatched, mapped, push0, wb):
    """(heading in the table, name in summary.csv) of every column, in order."""
    cols = [("workload", "workload"), ("unit", "unit")] + [(s, s) for s in systems]
    cols += [("mmapfs / native", "vs_native"), ("mmapfs / best peer", "vs_best_peer")]
    if mapped:
        cols += [("mmapfs / mapped", "vs_mapped")]
    if wb:
        cols += [("writeback / native", "wb_vs_native"),
                 ("writeback / best peer", "wb_vs_best_peer")]
    if ro:
        cols += [("ro / native", "ro_vs_native"), ("ro / best peer", "ro_vs_best_peer")]
    if unwatched:
        cols += [("watched / timeout", "watched_vs_timeout")]
    if push0:
        cols += [("mmapfs / push=0", "vs_push0"), ("ro / push=0", "ro_vs_push0")]
    return cols + [("target", "target"), ("met", "met")]


def figure(v):
    """A median, to a tenth; small ones (times in seconds) to three places."""
    return f"{v:.1f}" if v >= 10 else f"{v:.3g}"


def fmt(r):
    return f"{r:.2f}" if r is not None else "-"


def row_of(w, med, systems, ro, unwatched, mapped, push0, wb, unit):
    """One workload's row: column name -> text; None when nothing ran it."""
    what, higher, kind, target = WORKLOADS[w]
    if not any((w, s) in med for s in systems):
        return None
    # A figure of 0 is a run that did not complete (bench.sh records 0).
    row = {s: ("failed" if med[(w, s)] == 0 else figure(med[(w, s)]))
           if (w, s) in med else "-" for s in systems}
    n = med.get((w, "native"))
    peers = [med[(w, p)] for p in PEERS if med.get((w, p), 0) > 0]
    best = (max(peers) if higher else min(peers)) if peers else None
    m = med.get((w, "mmapfs"))
    p0 = med.get((w, "mmapfs-push0"))
    vs_native, vs_peer = ratio(m, n, higher), ratio(m, best, higher)
    tgt, met = verdict(kind, target, m, vs_native, vs_peer, ratio(m, p0, higher))
    row.update(workload=w, what=what, unit=unit, vs_native=fmt(vs_native),
               vs_best_peer=fmt(vs_peer), target=tgt)
    if ro:
        r = med.get((w, "mmapfs-ro"))
        ro_native, ro_peer = ratio(r, n, higher), ratio(r, best, higher)
        row.update(ro_vs_native=fmt(ro_native), ro_vs_best_peer=fmt(ro_peer))
        if met is False and verdict(kind, target, r, ro_native, ro_peer,
                                    ratio(r, p0, higher))[1]:
            met = "read-only only"
    if mapped:
        row["vs_mapped"] = fmt(ratio(m, med.get((w, "mmapfs-mapped")), higher))
    if wb:
        b = med.get((w, "mmapfs-writeback"))
        wb_native, wb_peer = ratio(b, n, higher), ratio(b, best, higher)
        row.update(wb_vs_native=fmt(wb_native), wb_vs_best_peer=fmt(wb_peer))
        if met is False and verdict(kind, target, b, wb_native, wb_peer)[1]:
            met = "with -o writeback only"
    if unwatched:
        row["watched_vs_timeout"] = fmt(ratio(m, med.get((w, "mmapfs-timeout")), higher))
    if push0:
        row.update(vs_push0=fmt(ratio(m, p0, higher)),
                   ro_vs_push0=fmt(ratio(med.get((w, "mmapfs-ro")), p0, higher)))
    row["met"] = "yes" if met is True else "no" if met is False else met or ""
    return row


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
    if "sshfs" in ran:
        return network_report(med, units, systems, out)
    ro, unwatched, mapped, push0 = ("mmapfs-ro" in ran, "mmapfs-timeout" in ran,
                                    "mmapfs-mapped" in ran, "mmapfs-push0" in ran)
    wb = "mmapfs-writeback" in ran
    cols = columns(systems, ro, unwatched, mapped, push0, wb)
    rows = [r for w in WORKLOADS
            if (r := row_of(w, med, systems, ro, unwatched, mapped, push0, wb,
                            units.get(w, "")))]
    # The same rows, twice: as Markdown (the workload described) and CSV.
    lines = ["| " + " | ".join(h for h, _ in cols) + " |", "|---" * len(cols) + "|"]
    lines += ["| " + " | ".join(r["what" if k == "workload" else k] for _, k in cols) + " |"
              for r in rows]
    table = "\n".join(lines)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(k for _, k in cols)
        w.writerows([r[k] for _, k in cols] for r in rows)
    print(table)
    chart(med, out, systems)


def network_report(med, units, systems, out):
    """The --network table: each system, and mmapfs (and mmapfs-ro)
    against the local files and against sshfs itself."""
    head = ["workload", "unit"] + systems + ["mmapfs / native", "mmapfs / sshfs",
                                             "ro / native", "ro / sshfs", "target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for w, (what, higher, targets) in NETWORK.items():
        if not any((w, s) in med for s in systems):
            continue
        cells = [what, units.get(w, "")]
        cells += [("failed" if med[(w, s)] == 0 else f"{med[(w, s)]:.2f}")
                  if (w, s) in med else "-" for s in systems]
        met = True
        for sys_ in ("mmapfs", "mmapfs-ro"):
            for against in ("native", "sshfs"):
                cells.append(fmt(ratio(med.get((w, sys_)), med.get((w, against)), higher)))
            if sys_ == "mmapfs" or w in NETWORK_RO:
                for against, target in targets:
                    r = ratio(med.get((w, sys_)), med.get((w, against)), higher)
                    met = met and r is not None and r >= target
        cells.append(", ".join(f">= {t} x {a}" for a, t in targets) +
                     (" (ro too)" if w in NETWORK_RO else ""))
        cells.append("yes" if met else "no")
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table + "\n")
    print(table)


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
