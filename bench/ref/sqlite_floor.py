"""SQLite's own share of an import: the store's writes without crmsync.

    sqlite_floor.py STORE [--page-size N]

Copies what an import wrote into STORE (a crmsync SQLite store: companies,
contacts and their audit rows) into a new file with the same schema, the
way an import's bulk load into an empty table writes it, with the store's
settings: the rollback journal (TRUNCATE), synchronous=NORMAL, a 32 MB page
cache, CHECK constraints and foreign keys not enforced (crmsync checks
values and links itself); the contacts' lookup indexes dropped but the one
on `updated_at` (its keys arrive in order); rows inserted 10,000 a
transaction with INSERT … SELECT (no parsing, no mapping, no matching);
then the indexes built as the store builds them (a 2 MB sort cache, a
helper thread per core).

The time it takes is the floor under `crmsync import` into an empty store:
no client-side work gets the import below what SQLite itself needs to
write the same rows and indexes.
"""
import argparse
import os
import sqlite3
import tempfile
import time

LOOKUP = ("contacts_email", "contacts_phone", "contacts_company")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--page-size", type=int, default=16384)
    args = ap.parse_args()

    src = sqlite3.connect(f"file:{args.store}?mode=ro", uri=True)
    schema = [sql for (sql,) in src.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
    contacts = src.execute("SELECT max(rowid) FROM contacts").fetchone()[0] or 0
    src.close()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "floor.db")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute(f"PRAGMA page_size = {args.page_size}")
        db.execute("PRAGMA journal_mode = TRUNCATE")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("PRAGMA ignore_check_constraints = ON")
        db.execute("PRAGMA cache_size = -32000")
        for sql in schema:
            db.execute(sql)
        for name in LOOKUP:
            db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute("ATTACH ? AS src", (f"file:{args.store}?mode=ro",))

        # The contacts' audit rows, ready to copy by contact rowid (not timed).
        db.execute("CREATE TEMP TABLE contact_audit AS SELECT c.rowid AS contact_row, a.* "
                   "FROM src.contacts c CROSS JOIN src.audit a ON a.record_id = c.id")
        db.execute("CREATE INDEX temp.contact_audit_row ON contact_audit (contact_row)")
        audit_columns = ", ".join(r[1] for r in db.execute("PRAGMA main.table_info(audit)"))

        start = time.perf_counter()
        db.execute("BEGIN")
        db.execute("INSERT INTO main.companies SELECT * FROM src.companies")
        db.execute("INSERT INTO main.audit SELECT * FROM src.audit WHERE entity = 'companies'")
        db.execute("COMMIT")
        step = 10_000
        for low in range(0, contacts, step):
            db.execute("BEGIN")
            db.execute("INSERT INTO main.contacts SELECT * FROM src.contacts WHERE rowid > ? AND rowid <= ?",
                       (low, low + step))
            db.execute(f"INSERT INTO main.audit SELECT {audit_columns} FROM temp.contact_audit "
                       "WHERE contact_row > ? AND contact_row <= ?", (low, low + step))
            db.execute("COMMIT")
        rows = time.perf_counter() - start
        db.execute("PRAGMA cache_size = -2000")
        db.execute(f"PRAGMA threads = {min(os.cpu_count() or 1, 8)}")
        for name, sql in [(n, s) for s in schema for n in LOOKUP if f"INDEX {n} " in s]:
            db.execute(sql)
        total = time.perf_counter() - start
        db.close()
    print(f"{contacts} contacts: rows {rows:.2f} s, indexes {total - rows:.2f} s, total {total:.2f} s")


if __name__ == "__main__":
    main()
