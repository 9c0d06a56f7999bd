"""Reference: the pandas script CRM data-sync articles teach, all columns as text."""
import sys

import pandas as pd

src, dst, fmt = sys.argv[1], sys.argv[2], sys.argv[3]
if src.endswith(".ndjson"):
    df = pd.read_json(src, lines=True, dtype=False)
else:
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
if fmt == "ndjson":
    df.to_json(dst, orient="records", lines=True, force_ascii=False)
elif fmt == "json":
    df.to_json(dst, orient="records", force_ascii=False)
elif fmt == "csv":
    df.to_csv(dst, index=False)
elif fmt == "xlsx":
    df.to_excel(dst, index=False, engine="xlsxwriter")
else:
    raise SystemExit(f"unknown format {fmt}")
