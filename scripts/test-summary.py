#!/usr/bin/env python3
"""Counts the test cases in meson's testlog.json files and prints the line
CI reads last: 'N passed, N failed' (', N skipped' when any were skipped).

Every TAP line of every test program counts as one case.  A program that
died before reporting (a crash, a timeout, a bail-out) counts as one more
failure, so that a dead program can never look like a pass."""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            ok = nok = 0
            for tap in (t.get("stdout") or "").splitlines():
                if re.match(r"^ok \d+", tap):
                    if "# SKIP" in tap:
                        skipped += 1
                    else:
                        ok += 1
                elif re.match(r"^not ok \d+", tap):
                    if "# TODO" in tap:
                        skipped += 1
                    else:
                        nok += 1
            if t.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") and nok == 0:
                nok = 1
            if ok == 0 and nok == 0 and t.get("result") == "OK":
                ok = 1      # a program without TAP cases that passed
            if t.get("result") == "SKIP":
                skipped += 1
            passed += ok
            failed += nok
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
