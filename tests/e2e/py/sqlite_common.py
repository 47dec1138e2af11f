"""Shared by the sqlite_*.py end-to-end helpers: JSON doubles as the driver writes them."""
import json
import math
import sys


def to_json_number(v):
    """A float as the driver's JSON carries it: non-finite values as strings."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def from_json_number(v):
    return float(v) if isinstance(v, str) else float(v)


def same_float(a, b):
    """Exact equality, NaN equal to NaN.  -0.0 equals 0.0: SQLite stores a
    REAL that is a whole number as an integer, so no SQL store keeps the sign
    of zero (MLflow's own writes lose it the same way)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


class Checker:
    def __init__(self):
        self.failures = 0

    def eq(self, what, got, want):
        if got == want:
            print(f"ok - {what}")
        else:
            self.failures += 1
            g, w = repr(got), repr(want)
            print(f"not ok - {what}: got {g[:300]}, wanted {w[:300]}")

    def true(self, what, cond, detail=""):
        if cond:
            print(f"ok - {what}")
        else:
            self.failures += 1
            print(f"not ok - {what} {detail}")

    def finish(self):
        sys.exit(1 if self.failures else 0)


def load(path):
    with open(path) as f:
        return json.load(f)
