#!/usr/bin/env python3
"""Prints the benchmark table from the raw JSON files run.sh left in bench/out/.

usage: table.py OUT_DIR
Reads OUT_DIR/seq-*.json (hyperfine rounds, merged per command), OUT_DIR/conc.json (hyperfine)
and OUT_DIR/inproc-*.json (the in-process loop, hyperfine-shaped). Command names are
"<group>:<row>", e.g. "seq:floor", "conc:crun run", "inproc:rcontainer library".
"""
import glob
import json
import os
import statistics
import sys

GROUPS = [
    ("seq", "sequential create+start+wait+delete of /bin/true, per container"),
    ("conc", "50 started concurrently, total wall time"),
    ("inproc", "in-process loops of create+start+wait+delete, per container (÷ floor: the floor's loop)"),
]


def load(out):
    times = {}
    order = []
    files = sorted(glob.glob(os.path.join(out, "seq-*.json")))
    files += [os.path.join(out, "conc.json")] + sorted(glob.glob(os.path.join(out, "inproc-*.json")))
    for f in files:
        if not os.path.exists(f):
            continue
        with open(f) as fh:
            data = json.load(fh)
        for r in data["results"]:
            name = r["command"]
            if name not in times:
                times[name] = []
                order.append(name)
            times[name].extend(r["times"])
    return times, order


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out")
    times, order = load(out)
    med = {k: statistics.median(v) for k, v in times.items() if v}
    mn = {k: min(v) for k, v in times.items() if v}

    def ratio(a, b):
        return "%.2f×" % (a / b) if a is not None and b else "-"

    w = max([len(n.split(":", 1)[1]) for n in order] + [20])
    head = "%-*s %10s %10s %9s %9s %5s" % (w, "", "median ms", "min ms", "÷ floor", "÷ crun", "n")
    print(head)
    print("-" * len(head))
    for g, title in GROUPS:
        rows = [n for n in order if n.startswith(g + ":") and n in med]
        if not rows:
            continue
        print(title)
        # In-process rows compare with the floor's own in-process loop, and with sequential crun.
        floor = med.get(g + ":floor")
        crun = med.get(("seq" if g == "inproc" else g) + ":crun run")
        for n in rows:
            print("%-*s %10.2f %10.2f %9s %9s %5d" % (
                w, "  " + n.split(":", 1)[1], med[n] * 1e3, mn[n] * 1e3,
                ratio(med[n], floor), ratio(med[n], crun), len(times[n])))
    print()
    for who in ("floor", "rcontainer library"):
        small = med.get("inproc:" + who)
        for n in order:
            if n.startswith("inproc:" + who) and n.endswith(" MiB parent") and "fork-style" not in n and small:
                print("%s: big parent ÷ small parent (in-process, median): %.2f×" % (who, med[n] / small))


if __name__ == "__main__":
    main()
