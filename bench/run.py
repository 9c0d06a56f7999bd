#!/usr/bin/env python3
"""crmsync benchmarks, side by side with DuckDB, Miller, pandas and sqlite3.

    bench/run            1M rows, median of 3 runs
    bench/run --quick    100k rows, one run
    bench/run --only convert

Builds crmsync in release mode, generates the data if missing
(bench/gen.py), installs missing reference tools (pip: duckdb pandas
reladiff xlsxwriter; Debian: miller sqlite3), runs every scenario and
rewrites bench/RESULTS.md. Peak RSS is the child's own (wait4).
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
DATA = os.path.join(BENCH, "data")
WORK = os.path.join(BENCH, "work")
CRMSYNC = os.path.join(ROOT, "target", "release", "crmsync")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def ensure_tools():
    missing_py = [m for m in ["duckdb", "pandas", "reladiff", "xlsxwriter"] if not have_module(m)]
    if missing_py:
        print(f"installing {' '.join(missing_py)} with pip", flush=True)
        sh([sys.executable, "-m", "pip", "install", "-q", *missing_py])
    missing_deb = [p for p, exe in [("miller", "mlr"), ("sqlite3", "sqlite3")] if not shutil.which(exe)]
    if missing_deb:
        print(f"installing {' '.join(missing_deb)} with apt-get", flush=True)
        try:
            sh(["apt-get", "install", "-y", "-q", *missing_deb], stdout=subprocess.DEVNULL)
        except subprocess.CalledProcessError:
            sh(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL)
            sh(["apt-get", "install", "-y", "-q", *missing_deb], stdout=subprocess.DEVNULL)


def have_module(name):
    return subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True).returncode == 0


def measure(cmd, runs):
    """Median wall seconds and max peak RSS (MB) over `runs` runs."""
    times, rss = [], []
    for _ in range(runs):
        # Every tool starts alike: no old output to overwrite, no pending writeback.
        for name in os.listdir(WORK):
            os.remove(os.path.join(WORK, name))
        os.sync()
        # stderr goes to a file: a pipe nobody reads until the end can fill up and stall the child.
        with tempfile.TemporaryFile() as errf:
            start = time.perf_counter()
            p = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=errf)
            _, status, usage = os.wait4(p.pid, 0)
            elapsed = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                errf.seek(0)
                raise RuntimeError(f"failed ({status}): {cmd}\n{errf.read().decode(errors='replace')[-2000:]}")
        times.append(elapsed)
        rss.append(usage.ru_maxrss / 1024)
    return statistics.median(times), max(rss)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 1024 // 1024
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem} GiB RAM, {platform.system()} {platform.release()}"


# All columns as text, as the other tools read them.
NDJSON_COLUMNS = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in [
    "Index", "Customer Id", "First Name", "Last Name", "Company", "City", "Country", "Phone 1", "Phone 2", "Email",
    "Subscription Date", "Website", "Notes"]) + "}"


def scenarios(rows):
    csv = os.path.join(DATA, f"customers-{rows}.csv")
    nd = os.path.join(DATA, f"customers-{rows}.ndjson")
    w = lambda name: os.path.join(WORK, name)  # noqa: E731
    duck = lambda sql: f"{sys.executable} -c \"import duckdb; duckdb.sql('''{sql}''')\""  # noqa: E731
    read = f"read_csv('{csv}', all_varchar=true, header=true)"
    return [
        {
            "name": "convert CSV → NDJSON",
            "input": csv,
            "crmsync": f"{CRMSYNC} convert -q {csv} {w('c.ndjson')}",
            "refs": {
                "DuckDB": duck(f"COPY (SELECT * FROM {read}) TO '{w('d.ndjson')}' (FORMAT JSON)"),
                "Miller": f"mlr --icsv --ojsonl cat {csv} > {w('m.ndjson')}",
                "pandas": f"{sys.executable} {BENCH}/ref/pandas_convert.py {csv} {w('p.ndjson')} ndjson",
            },
        },
        {
            "name": "convert CSV → JSON array",
            "input": csv,
            "crmsync": f"{CRMSYNC} convert -q {csv} {w('c.json')}",
            "refs": {
                "DuckDB": duck(f"COPY (SELECT * FROM {read}) TO '{w('d.json')}' (FORMAT JSON, ARRAY true)"),
                "Miller": f"mlr --icsv --ojson cat {csv} > {w('m.json')}",
                "pandas": f"{sys.executable} {BENCH}/ref/pandas_convert.py {csv} {w('p.json')} json",
            },
        },
        {
            "name": "convert NDJSON → CSV",
            "input": nd,
            "crmsync": f"{CRMSYNC} convert -q --raw {nd} {w('c.csv')}",
            "refs": {
                "DuckDB": duck(f"COPY (SELECT * FROM read_json('{nd}', format='newline_delimited', columns={NDJSON_COLUMNS})) TO '{w('d.csv')}' (HEADER)"),
                "Miller": f"mlr --ijsonl --ocsv cat {nd} > {w('m.csv')}",
                "pandas": f"{sys.executable} {BENCH}/ref/pandas_convert.py {nd} {w('p.csv')} csv",
            },
        },
        {
            "name": "convert CSV → XLSX",
            "input": csv,
            "runs": 1,
            "crmsync": f"{CRMSYNC} convert -q {csv} {w('c.xlsx')}",
            "refs": {
                "pandas (xlsxwriter)": f"{sys.executable} {BENCH}/ref/pandas_convert.py {csv} {w('p.xlsx')} xlsx",
            },
        },
        {
            "name": "convert with a 12-field mapping (email, phone → E.164, date, country)",
            "input": csv,
            "crmsync": f"{CRMSYNC} convert -q {csv} {w('cm.ndjson')} --mapping {BENCH}/customers.toml --rejects {w('cm.rejects.csv')}",
            "refs": {
                "pandas": f"{sys.executable} {BENCH}/ref/pandas_map.py {csv} {w('pm.ndjson')}",
            },
        },
    ]


NOT_YET = [
    ("import into SQLite (12-field mapping, contacts + companies)", "sqlite3 .import", "issue #4: the store"),
    ("import into PostgreSQL", "psql \\copy", "issue #4: the store"),
    ("the same import again (all unchanged)", "—", "issue #4: the store"),
    ("export 1M contacts to CSV", "sqlite3 -csv", "issue #4: the store"),
    ("diff two files", "reladiff / data-diff", "diff command"),
    ("diff two tables", "reladiff", "diff command"),
    ("incremental sync", "—", "sync command"),
]


def fmt_rate(rows, mb, secs):
    return f"{rows / secs:,.0f}", f"{mb / secs:,.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100k rows, one run")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--only", help="run the scenarios whose name contains this text")
    ap.add_argument("--no-install", action="store_true")
    args = ap.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    runs = args.runs or (1 if args.quick else 3)

    print("building crmsync (release)", flush=True)
    sh(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    if not os.path.exists(os.path.join(DATA, f"customers-{rows}.csv")):
        print(f"generating {rows} rows", flush=True)
        sh([sys.executable, os.path.join(BENCH, "gen.py"), "--rows", str(rows), "--out", DATA])
    nd = os.path.join(DATA, f"customers-{rows}.ndjson")
    if not os.path.exists(nd):
        sh([CRMSYNC, "convert", "-q", os.path.join(DATA, f"customers-{rows}.csv"), nd])
    if not args.no_install:
        ensure_tools()
    os.makedirs(WORK, exist_ok=True)

    results = []
    for sc in scenarios(rows):
        if args.only and args.only.lower() not in sc["name"].lower():
            continue
        mb = os.path.getsize(sc["input"]) / 1e6
        n = sc.get("runs", runs) if not args.quick else 1
        print(f"\n{sc['name']}", flush=True)
        ours = measure(sc["crmsync"], n)
        print(f"  crmsync: {ours[0]:.2f} s, {ours[1]:.0f} MB", flush=True)
        refs = {}
        for tool, cmd in sc["refs"].items():
            try:
                refs[tool] = measure(cmd, n)
                print(f"  {tool}: {refs[tool][0]:.2f} s, {refs[tool][1]:.0f} MB", flush=True)
            except (RuntimeError, OSError) as e:
                refs[tool] = None
                print(f"  {tool}: failed: {e}", flush=True)
        results.append((sc, mb, ours, refs, n))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    out = [
        "# Benchmark results",
        "",
        f"Regenerated by `bench/run{' --quick' if args.quick else ''}` — do not edit by hand.",
        "",
        f"- Machine: {machine()}",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Commit: {commit or 'unknown'}",
        f"- Data: `bench/gen.py --rows {rows}` (seeded; a fifth Chinese, 5% messy, quoted commas, embedded newlines)",
        f"- Each figure is the median of {runs} run(s) (XLSX: 1), each started with no earlier output and after `sync`; RSS is the peak of the process.",
        "",
        "| scenario | tool | median (s) | vs crmsync | rows/s | MB/s | peak RSS (MB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for sc, mb, ours, refs, n in results:
        r, m = fmt_rate(rows, mb, ours[0])
        out.append(f"| {sc['name']} | **crmsync** | {ours[0]:.2f} | 1.00× | {r} | {m} | {ours[1]:.0f} |")
        for tool, res in refs.items():
            if res is None:
                out.append(f"| | {tool} | failed | | | | |")
                continue
            r, m = fmt_rate(rows, mb, res[0])
            out.append(f"| | {tool} | {res[0]:.2f} | {res[0] / ours[0]:.2f}× slower | {r} | {m} | {res[1]:.0f} |" if res[0] >= ours[0]
                       else f"| | {tool} | {res[0]:.2f} | {ours[0] / res[0]:.2f}× faster | {r} | {m} | {res[1]:.0f} |")
    out += ["", "## Not yet measured", "", "These scenarios wait for the features they measure; nothing is faked.", "",
            "| scenario | reference | waits for |", "|---|---|---|"]
    for name, ref, why in NOT_YET:
        out.append(f"| {name} | {ref} | {why} |")
    out.append("")
    target = os.path.join(BENCH, "RESULTS.md")
    with open(target, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
