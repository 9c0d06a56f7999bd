#!/usr/bin/env python3
"""crmsync benchmarks, side by side with DuckDB, Miller, pandas, sqlite3 and psql.

    bench/run            1M rows, median of 3 runs
    bench/run --quick    100k rows, one run
    bench/run --only convert
    bench/run --quick --no-build --only import

Builds crmsync in release mode (unless --no-build), generates the data if
missing (bench/gen.py), installs missing reference tools (pip: duckdb pandas
reladiff xlsxwriter; Debian: miller sqlite3 postgresql-client), runs every
scenario and rewrites bench/RESULTS.md, with the targets of the store
scenarios checked at the end. Peak RSS is the child's own (wait4).

The PostgreSQL scenario needs `psql` and a server at 127.0.0.1:5432
(user postgres, database test); without them it is skipped. It uses the
schemas crmsync_bench and bench_raw, and drops them afterwards.
"""

import argparse
import datetime
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
DATA = os.path.join(BENCH, "data")
WORK = os.path.join(BENCH, "work")
# Stores that outlive one run (WORK is emptied before each run).
WORK_DB = os.path.join(BENCH, "work-db")
CRMSYNC = os.path.join(ROOT, "target", "release", "crmsync")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def apt_install(pkgs):
    try:
        sh(["apt-get", "install", "-y", "-q", *pkgs], stdout=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        sh(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL)
        sh(["apt-get", "install", "-y", "-q", *pkgs], stdout=subprocess.DEVNULL)


def ensure_tools():
    missing_py = [m for m in ["duckdb", "pandas", "reladiff", "xlsxwriter"] if not have_module(m)]
    if missing_py:
        print(f"installing {' '.join(missing_py)} with pip", flush=True)
        sh([sys.executable, "-m", "pip", "install", "-q", *missing_py])
    missing_deb = [p for p, exe in [("miller", "mlr"), ("sqlite3", "sqlite3")] if not shutil.which(exe)]
    if missing_deb:
        print(f"installing {' '.join(missing_deb)} with apt-get", flush=True)
        apt_install(missing_deb)
    # Only the PostgreSQL scenario needs psql: without it that scenario is skipped.
    if not shutil.which("psql"):
        print("installing postgresql-client with apt-get", flush=True)
        try:
            apt_install(["postgresql-client"])
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"  could not install postgresql-client ({e}); the PostgreSQL scenario will be skipped", flush=True)


def have_module(name):
    return subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True).returncode == 0


def measure(cmd, runs, setup=None):
    """Median wall seconds and max peak RSS (MB) over `runs` runs.

    `setup`, a shell command, runs before each run (after WORK is emptied)
    and is not timed: a fresh store, a copy of an imported one, an empty table.
    """
    times, rss = [], []
    for _ in range(runs):
        # Every tool starts alike: no old output to overwrite, no pending writeback.
        for name in os.listdir(WORK):
            os.remove(os.path.join(WORK, name))
        if setup:
            s = subprocess.run(setup, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if s.returncode != 0:
                raise RuntimeError(f"setup failed ({s.returncode}): {setup}\n{s.stderr.decode(errors='replace')[-2000:]}")
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


# PostgreSQL for the store scenario: the server the tests use.
PSQL = "psql -X -w -h 127.0.0.1 -U postgres -d test"
PG_URL = "postgres://postgres@127.0.0.1:5432/test?schema=crmsync_bench"
CSV_COLUMNS = ["Index", "Customer Id", "First Name", "Last Name", "Company", "City", "Country", "Phone 1", "Phone 2",
               "Email", "Subscription Date", "Website", "Notes"]
EXPORT_FIELDS = "first_name,last_name,email,phone,mobile,address.city,address.country,subscribed_at,notes"
EXPORT_COLUMNS = "first_name, last_name, email, phone, mobile, address_city, address_country, subscribed_at, notes"

# Reference tools the targets are computed from.
SQLITE_IMPORT = "sqlite3 .import (raw, one table)"
PANDAS_IMPORT = "pandas (read_csv → map → to_sql)"
PSQL_COPY = "psql \\copy (raw, one table)"
SQLITE_EXPORT = "sqlite3 -csv (same columns)"


def pg_unavailable():
    """Why the PostgreSQL scenario cannot run, or None."""
    if not shutil.which("psql"):
        return "psql is not installed (Debian: postgresql-client)"
    try:
        p = subprocess.run(f"{PSQL} -c 'select 1'", shell=True, capture_output=True, text=True, timeout=30,
                           env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
    except subprocess.TimeoutExpired:
        return "PostgreSQL at 127.0.0.1:5432 did not answer within 30 s"
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["no message"])[-1]
        return f"PostgreSQL at 127.0.0.1:5432 does not answer ({last})"
    return None


def sqlite_files(db):
    return [db + suffix for suffix in ("", "-wal", "-shm")]


_imported = {}


def imported_store(csv):
    """bench/work-db/imported.db: the customer file imported once, not measured.

    Made once per bench run (the binary may have changed since the last one)
    and shared by the re-import and export scenarios."""
    db = os.path.join(WORK_DB, "imported.db")
    if _imported.get(db) != csv:
        print(f"  preparing {os.path.relpath(db, ROOT)} (import of {os.path.basename(csv)}, not measured)", flush=True)
        for f in sqlite_files(db):
            if os.path.exists(f):
                os.remove(f)
        url = f"sqlite://{db}"
        sh([CRMSYNC, "--db", url, "-q", "init"])
        sh([CRMSYNC, "--db", url, "-q", "import", csv, "--mapping", os.path.join(BENCH, "customers.toml"),
            "--rejects", os.path.join(WORK_DB, "imported.rejects.csv")])
        _imported[db] = csv
    return db


def stored_contacts(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM contacts WHERE deleted_at IS NULL").fetchone()[0]
    finally:
        con.close()


def scenarios(rows):
    csv = os.path.join(DATA, f"customers-{rows}.csv")
    nd = os.path.join(DATA, f"customers-{rows}.ndjson")
    w = lambda name: os.path.join(WORK, name)  # noqa: E731
    duck = lambda sql: f"{sys.executable} -c \"import duckdb; duckdb.sql('''{sql}''')\""  # noqa: E731
    read = f"read_csv('{csv}', all_varchar=true, header=true)"
    mapping = os.path.join(BENCH, "customers.toml")
    imported = os.path.join(WORK_DB, "imported.db")
    fresh = lambda db: f"rm -f {' '.join(sqlite_files(db))} && {CRMSYNC} --db sqlite://{db} init -q"  # noqa: E731
    # A SQLite store, with its -wal and -shm files if they exist.
    copy = lambda src, dst: f"cp {src} {dst} && " + " && ".join(  # noqa: E731
        f"{{ [ ! -e {a} ] || cp {a} {b}; }}" for a, b in zip(sqlite_files(src)[1:], sqlite_files(dst)[1:]))
    raw_table = ", ".join(f'"{c}" TEXT' for c in CSV_COLUMNS)
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
        {
            "key": "import-sqlite",
            "name": "import into SQLite (12-field mapping, contacts + linked companies)",
            "input": csv,
            "setup": fresh(w("i.db")),
            "crmsync": f"{CRMSYNC} --db sqlite://{w('i.db')} -q import {csv} --mapping {mapping} --rejects {w('i.rejects.csv')}",
            "refs": {
                SQLITE_IMPORT: {
                    "setup": f"rm -f {' '.join(sqlite_files(w('s.db')))}",
                    "cmd": f"sqlite3 {w('s.db')} \".import --csv {csv} customers\"",
                },
                PANDAS_IMPORT: f"{sys.executable} {BENCH}/ref/pandas_import.py {csv} {w('p.db')}",
            },
        },
        {
            "key": "import-erp",
            "name": "import into SQLite by external id (the same mapping with [key] external_id)",
            "input": csv,
            "setup": fresh(w("x.db")),
            "crmsync": f"{CRMSYNC} --db sqlite://{w('x.db')} -q import {csv} --mapping {BENCH}/customers-erp.toml "
                       f"--rejects {w('x.rejects.csv')}",
            "refs": {},
        },
        {
            "key": "reimport",
            "name": "the same import again (all unchanged)",
            "input": csv,
            "prepare": lambda: imported_store(csv),
            "setup": copy(imported, w("r.db")),
            "crmsync": f"{CRMSYNC} --db sqlite://{w('r.db')} -q import {csv} --mapping {mapping} --rejects {w('r.rejects.csv')}",
            "refs": {},
        },
        {
            "key": "import-pg",
            "name": "import into PostgreSQL (12-field mapping, contacts + linked companies)",
            "input": csv,
            "skip": pg_unavailable,
            "setup": f"{PSQL} -q -v ON_ERROR_STOP=1 -c 'DROP SCHEMA IF EXISTS crmsync_bench CASCADE'"
                     f" && {CRMSYNC} --db '{PG_URL}' init -q",
            "crmsync": f"{CRMSYNC} --db '{PG_URL}' -q import {csv} --mapping {mapping} --rejects {w('pg.rejects.csv')}",
            "refs": {
                PSQL_COPY: {
                    "setup": f"{PSQL} -q -v ON_ERROR_STOP=1 -c 'DROP SCHEMA IF EXISTS bench_raw CASCADE; "
                             f"CREATE SCHEMA bench_raw; CREATE TABLE bench_raw.customers ({raw_table})'",
                    "cmd": f"{PSQL} -v ON_ERROR_STOP=1 -c \"\\copy bench_raw.customers FROM '{csv}' CSV HEADER\"",
                },
            },
            "cleanup": f"{PSQL} -q -c 'DROP SCHEMA IF EXISTS crmsync_bench CASCADE; DROP SCHEMA IF EXISTS bench_raw CASCADE'",
        },
        {
            "key": "export",
            "name": "export contacts to CSV",
            # Reads the store, not a file: no MB/s; rows/s counts the stored contacts.
            "input": None,
            "prepare": lambda: imported_store(csv),
            "rows": lambda: stored_contacts(imported),
            "crmsync": f"{CRMSYNC} --db sqlite://{imported} -q export --entity contacts --fields {EXPORT_FIELDS} --out {w('e.csv')}",
            "refs": {
                SQLITE_EXPORT: f"sqlite3 -csv -header {imported} \"SELECT {EXPORT_COLUMNS} FROM contacts\" > {w('s.csv')}",
            },
        },
    ]


def ref_cmd(ref):
    """A reference tool is a shell command, or {"cmd": ..., "setup": ...}."""
    return (ref, None) if isinstance(ref, str) else (ref["cmd"], ref.get("setup"))


NOT_YET = [
    ("diff two files", "reladiff / data-diff", "diff command"),
    ("diff two tables", "reladiff", "diff command"),
    ("incremental sync", "—", "sync command"),
]


def fmt_rate(rows, mb, secs):
    return f"{rows / secs:,.0f}", "—" if mb is None else f"{mb / secs:,.1f}"


RSS_LIMIT_MB = 200


def times(x):
    return f"{x:.2f}×" if x >= 0.1 else f"{x:.3f}×"


def targets(results):
    """Rows of the targets table, from the store scenarios that ran."""
    by = {sc["key"]: (ours, refs) for sc, _mb, ours, refs, _n, _rows in results if sc.get("key")}
    out = []

    def row(target, measured, met):
        verdict = "not measured" if met is None else "met" if met else "not met"
        out.append(f"| {target} | {measured} | {verdict} |")

    def ref_secs(key, tool):
        res = by[key][1].get(tool)
        return None if res is None else res[0]

    if "import-sqlite" in by:
        ours = by["import-sqlite"][0][0]
        t = ref_secs("import-sqlite", SQLITE_IMPORT)
        row("import into SQLite ≤ 2× the time of sqlite3 .import",
            f"{times(ours / t)} ({ours:.2f} s vs {t:.2f} s)" if t else "sqlite3 .import failed",
            ours / t <= 2 if t else None)
        t = ref_secs("import-sqlite", PANDAS_IMPORT)
        row("import into SQLite ≥ 10× faster than pandas",
            (f"{times(t / ours)} faster" if t >= ours else f"{times(ours / t)} slower") + f" ({ours:.2f} s vs {t:.2f} s)"
            if t else "pandas failed",
            t / ours >= 10 if t else None)
    if "reimport" in by and "import-sqlite" in by:
        again, first = by["reimport"][0][0], by["import-sqlite"][0][0]
        row("the same import again ≤ 0.5× the time of the first",
            f"{times(again / first)} ({again:.2f} s vs {first:.2f} s)", again / first <= 0.5)
    if "import-pg" in by:
        ours = by["import-pg"][0][0]
        t = ref_secs("import-pg", PSQL_COPY)
        # The same rows on both sides: the ratio of rows/s is the inverse ratio of the times.
        row("import into PostgreSQL ≥ 0.5× the rows/s of psql \\copy",
            f"{times(t / ours)} ({ours:.2f} s vs {t:.2f} s)" if t else "psql \\copy failed",
            t / ours >= 0.5 if t else None)
    if "export" in by:
        ours = by["export"][0][0]
        t = ref_secs("export", SQLITE_EXPORT)
        row("export to CSV ≤ 1.5× the time of sqlite3 -csv",
            f"{times(ours / t)} ({ours:.2f} s vs {t:.2f} s)" if t else "sqlite3 -csv failed",
            ours / t <= 1.5 if t else None)
    peaks = [(sc["name"], ours[1]) for sc, _mb, ours, _refs, _n, _rows in results if sc.get("key")]
    if peaks:
        name, mb = max(peaks, key=lambda p: p[1])
        row(f"peak RSS < {RSS_LIMIT_MB} MB in every crmsync run of these scenarios",
            f"{mb:.0f} MB at most ({name})", mb < RSS_LIMIT_MB)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100k rows, one run")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--only", help="run the scenarios whose name contains this text (several: comma-separated)")
    ap.add_argument("--out", default="RESULTS.md", help="results file under bench/ (default RESULTS.md)")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release/crmsync")
    args = ap.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    runs = args.runs or (1 if args.quick else 3)

    if args.no_build:
        if not os.access(CRMSYNC, os.X_OK):
            sys.exit(f"--no-build: there is no {CRMSYNC}; build it first")
    else:
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
    os.makedirs(WORK_DB, exist_ok=True)

    results, skipped = [], []
    for sc in scenarios(rows):
        if args.only and not any(o.strip().lower() in sc["name"].lower() for o in args.only.split(",")):
            continue
        print(f"\n{sc['name']}", flush=True)
        why = sc["skip"]() if sc.get("skip") else None
        if why:
            print(f"  skipped: {why}", flush=True)
            skipped.append((sc["name"], why))
            continue
        if sc.get("prepare"):
            sc["prepare"]()
        n_rows = sc["rows"]() if sc.get("rows") else rows
        mb = os.path.getsize(sc["input"]) / 1e6 if sc.get("input") else None
        n = sc.get("runs", runs) if not args.quick else 1
        try:
            ours = measure(sc["crmsync"], n, sc.get("setup"))
            print(f"  crmsync: {ours[0]:.2f} s, {ours[1]:.0f} MB", flush=True)
            refs = {}
            for tool, ref in sc["refs"].items():
                cmd, setup = ref_cmd(ref)
                try:
                    refs[tool] = measure(cmd, n, setup)
                    print(f"  {tool}: {refs[tool][0]:.2f} s, {refs[tool][1]:.0f} MB", flush=True)
                except (RuntimeError, OSError) as e:
                    refs[tool] = None
                    print(f"  {tool}: failed: {e}", flush=True)
        finally:
            if sc.get("cleanup"):
                subprocess.run(sc["cleanup"], shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results.append((sc, mb, ours, refs, n, n_rows))

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
        "- Store scenarios: before each run, outside the timing, the store is made afresh (`init`, or an empty table for `\\copy`) or copied from one the same file was imported into. Export reads the store, not a file: its rows/s counts the stored contacts, and it has no MB/s.",
        "",
        "| scenario | tool | median (s) | vs crmsync | rows/s | MB/s | peak RSS (MB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for sc, mb, ours, refs, n, n_rows in results:
        r, m = fmt_rate(n_rows, mb, ours[0])
        out.append(f"| {sc['name']} | **crmsync** | {ours[0]:.2f} | 1.00× | {r} | {m} | {ours[1]:.0f} |")
        for tool, res in refs.items():
            if res is None:
                out.append(f"| | {tool} | failed | | | | |")
                continue
            r, m = fmt_rate(n_rows, mb, res[0])
            out.append(f"| | {tool} | {res[0]:.2f} | {res[0] / ours[0]:.2f}× slower | {r} | {m} | {res[1]:.0f} |" if res[0] >= ours[0]
                       else f"| | {tool} | {res[0]:.2f} | {ours[0] / res[0]:.2f}× faster | {r} | {m} | {res[1]:.0f} |")
    if skipped:
        out += ["", "Skipped in this run:", ""] + [f"- {name}: {why}" for name, why in skipped]
    target_rows = targets(results)
    if target_rows:
        out += ["", "## Targets", "", "Computed from the figures above, for the store scenarios that ran.", "",
                "| target | measured | result |", "|---|---|---|"] + target_rows
    out += ["", "## Not yet measured", "", "These scenarios wait for the features they measure; nothing is faked.", "",
            "| scenario | reference | waits for |", "|---|---|---|"]
    for name, ref, why in NOT_YET:
        out.append(f"| {name} | {ref} | {why} |")
    out.append("")
    target = os.path.join(BENCH, args.out)
    with open(target, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
