#!/usr/bin/env python3
"""Changes one character of every input line (stdin → stdout), so run.sh can show the
validators reject what they should: a pass count means little from a rubber stamp.
pix: one character of the body (before the CRC) → the CRC no longer matches.
boleto: one digit of the linha (the reference date after a tab is kept)."""
import random
import sys

kind = sys.argv[1]
rng = random.Random(7)
for line in sys.stdin:
    line = line.rstrip("\n")
    value, sep, rest = line.partition("\t")
    if kind == "pix":
        i = rng.randrange(len(value) - 4)
        new = "X" if value[i] != "X" else "Y"
    else:
        i = rng.randrange(len(value))
        new = str((int(value[i]) + rng.randrange(1, 10)) % 10)
    print(value[:i] + new + value[i + 1 :] + sep + rest)
