#!/usr/bin/env python3
"""Joins the generator's expected values with each validator's results, line by line, and
prints pass counts. A line passes a validator when the validator accepts it AND decodes the
same fields we encoded. Also checks our own bar the validators do not: name ≤ 25, city ≤ 15.

usage: summarise.py pix expected.jsonl stark.jsonl brutils.jsonl
       summarise.py boleto expected.jsonl brutils.jsonl
Exit status 1 when any line fails."""
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pix(expected, stark, brutils):
    fields = ("name", "city", "amount", "txid", "key", "url")
    counts = {"starkbank-brcode": 0, "@brazilian-utils": 0, "length limits": 0}
    failures = []
    for i, (e, s, b) in enumerate(zip(expected, stark, brutils, strict=True)):
        if s.get("ok") and all(s.get(f) == e.get(f) for f in fields):
            counts["starkbank-brcode"] += 1
        else:
            failures.append(("starkbank-brcode", i, e, s))
        if b.get("ok") and all(b.get(f) == e.get(f) for f in fields):
            counts["@brazilian-utils"] += 1
        else:
            failures.append(("@brazilian-utils", i, e, b))
        if 0 < len(e["name"]) <= 25 and 0 < len(e["city"]) <= 15 and e["name"].isascii() and e["city"].isascii():
            counts["length limits"] += 1
        else:
            failures.append(("length limits", i, e, None))
    return counts, failures


def boleto(expected, brutils):
    counts = {"@brazilian-utils (valid, value, due date)": 0, "boleto-brasileiro-validator": 0}
    failures = []
    for i, (e, b) in enumerate(zip(expected, brutils, strict=True)):
        same = (b.get("amount_cents"), b.get("due_date"), b.get("bank")) == (e["amount_cents"], e["due_date"], e["bank"])
        if b.get("ok") and same:
            counts["@brazilian-utils (valid, value, due date)"] += 1
        else:
            failures.append(("@brazilian-utils", i, e, b))
        if b.get("bbv_ok"):
            counts["boleto-brasileiro-validator"] += 1
        else:
            failures.append(("boleto-brasileiro-validator", i, e, b))
    return counts, failures


def main():
    kind, expected = sys.argv[1], load(sys.argv[2])
    results = [load(p) for p in sys.argv[3:]]
    counts, failures = (pix if kind == "pix" else boleto)(expected, *results)
    for name, n in counts.items():
        print(f"{kind}: {name}: {n}/{len(expected)} passed")
    for name, i, e, got in failures[:10]:
        print(f"  FAIL {name} line {i + 1}: expected {e} got {got}")
    sys.exit(1 if failures else 0)


main()
