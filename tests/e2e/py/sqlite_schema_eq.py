"""Compare two SQLite schemas object by object.  MLflow's own migrations emit
table constraints and indexes in a varying order from one run to the next
(set iteration in alembic's batch mode), so each statement is compared as the
sorted list of its lines, without trailing commas.

usage: sqlite_schema_eq.py A.db B.db     exit 0 when equal, else prints the differences
"""
import sqlite3
import sys


def schema(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out = {}
    for typ, name, tbl, sql in db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"):
        lines = sorted(l.strip().rstrip(",").strip() for l in (sql or "").splitlines())
        out[(typ, name, tbl)] = lines
    return out


a, b = schema(sys.argv[1]), schema(sys.argv[2])
bad = 0
for k in sorted(set(a) | set(b)):
    if a.get(k) != b.get(k):
        bad += 1
        print(f"differs: {k}: {a.get(k)} vs {b.get(k)}")
print(f"{len(a)} and {len(b)} objects, {bad} differ")
sys.exit(1 if bad else 0)
