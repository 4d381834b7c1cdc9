#!/usr/bin/env python3
"""tests/e2e: reads a CSV file written by `source-vitess extract` back with Python's csv module (a
standard RFC 4180 parser) and checks that it is well formed. Used by test_extract.cpp.

Usage: extract_csv_check.py FILE.csv
Prints one JSON object: {"header": [...], "rows": [[...], ...], "problems": [...]}; each row is the
list of field values as csv.reader returns them. Problems: a record with a field count other than
the header's, a line end that is not CRLF (outside quoted fields), no CRLF at the end of the file,
or a parse error of the strict reader.
"""
import csv
import io
import json
import re
import sys


def main() -> int:
    with open(sys.argv[1], "rb") as f:
        raw = f.read().decode("utf-8")
    problems = []
    # Line ends outside quoted fields must all be CRLF: drop the quoted fields, then look for a
    # bare LF or a bare CR in what is left.
    unquoted = re.sub(r'"(?:[^"]|"")*"', "", raw)
    if re.search(r"(?<!\r)\n", unquoted):
        problems.append("a record ends with LF, not CRLF")
    if re.search(r"\r(?!\n)", unquoted):
        problems.append("a bare CR outside a quoted field")
    if raw and not raw.endswith("\r\n"):
        problems.append("the file does not end with CRLF")
    header, rows = [], []
    try:
        reader = csv.reader(io.StringIO(raw, newline=""), strict=True)
        for i, record in enumerate(reader):
            if i == 0:
                header = record
                continue
            if len(record) != len(header):
                problems.append(f"record {i} has {len(record)} fields, the header {len(header)}")
            rows.append(record)
    except csv.Error as e:
        problems.append(f"csv.Error: {e}")
    json.dump({"header": header, "rows": rows, "problems": problems}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
