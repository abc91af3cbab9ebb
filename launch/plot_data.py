#!/usr/bin/python3
"""Turns a run's metrics.jsonl into the gnuplot data files of launch/plot. Standard library only.

Usage: launch/plot_data.py METRICS_JSONL OUT_DIR
Writes OUT_DIR/curves_interval.dat and OUT_DIR/curves_epoch.dat: a `#` header line naming the columns, then
one whitespace-separated row per record of that kind, in the columns of INTERVAL_COLUMNS / EPOCH_COLUMNS;
a value that is null or absent (loss of an interval with no applied step, val_loss without a validation
set, energy_joules of a run without energy figures) is written as "n/a" (gnuplot: set datafile missing).
Numbers are written with repr(), so the files hold exactly the values of metrics.jsonl.

Rows are sorted by step; when a step appears twice for one kind (a run resumed from an older checkpoint
repeats steps), the later record of the file wins, as it describes the trajectory the run kept.
On stdout: one line `key=value` per fact launch/plot needs (intervals, epochs, validation, energy).

A last line without its newline that does not parse (the trainer is writing it) is skipped with a note on
stderr. Errors (exit 2, message on stderr naming the file): a missing or empty file, a line that is not a
JSON object (file:line:column), a file with no complete record.
"""
import json
import os
import sys

INTERVAL_COLUMNS = ["step", "epoch", "loss", "accuracy", "learning_rate", "samples_per_second", "seconds"]
EPOCH_COLUMNS = ["step", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                 "samples_per_second", "seconds", "energy_joules", "joules_per_sample"]


def die(message):
    print(f"launch/plot: {message}", file=sys.stderr)
    sys.exit(2)


def read_records(path):
    """The records of metrics.jsonl as a list of dicts, in file order."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        die(f"{path}: no such file (is this a run directory? metrics.jsonl appears with the first log interval)")
    except OSError as e:
        die(f"{path}: cannot read: {e.strerror}")
    if not raw.strip():
        die(f"{path}: empty (no log interval or epoch has ended yet)")
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    cut = not text.endswith("\n")  # the last element is a line still being written
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if cut and number == len(lines):
                print(f"launch/plot: {path}:{number}: skipping the last line, cut mid-write ({len(line)} bytes)",
                      file=sys.stderr)
                continue
            die(f"{path}:{number}:{e.colno}: not JSON: {e.msg}")
        if not isinstance(record, dict):
            die(f"{path}:{number}:1: not a JSON object")
        records.append(record)
    if not any(r.get("kind") in ("interval", "epoch") for r in records):
        die(f"{path}: no complete interval or epoch record yet")
    return records


def cell(value):
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a"
    return repr(value)


def write_dat(path, records, columns):
    by_step = {}
    for r in records:
        by_step[r.get("step")] = r  # later wins
    rows = [by_step[s] for s in sorted(by_step, key=lambda s: (s is None, s if isinstance(s, (int, float)) else 0))]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# " + " ".join(columns) + "\n")
        for r in rows:
            f.write(" ".join(cell(r.get(c)) for c in columns) + "\n")
    os.replace(tmp, path)
    return rows


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    path, out = sys.argv[1], sys.argv[2]
    records = read_records(path)
    intervals = write_dat(os.path.join(out, "curves_interval.dat"),
                          [r for r in records if r.get("kind") == "interval"], INTERVAL_COLUMNS)
    epochs = write_dat(os.path.join(out, "curves_epoch.dat"),
                       [r for r in records if r.get("kind") == "epoch"], EPOCH_COLUMNS)

    def has(rows, key):
        return int(any(cell(r.get(key)) != "n/a" for r in rows))

    print(f"intervals={len(intervals)}")
    print(f"epochs={len(epochs)}")
    print(f"validation={has(epochs, 'val_loss')}")
    print(f"energy={has(epochs, 'energy_joules')}")


if __name__ == "__main__":
    main()
