#!/usr/bin/env python3
"""Checks docs/operations.md's troubleshooting tables against the source tree.

Every row of a table under "## Troubleshooting" whose first cell is a `code span` is an error
message the connector prints. `<...>` in it stands for a run-time part. The message must occur
in the connector's part of src/ (everything but src/emulator and the emulator's main; one file, one line after joining adjacent C++ string literals), where a run-time part
may be a fmt placeholder `{}`, the end of one string literal and the start of the next
expression (`"x: " + e.message`), or anything else on that line. Each message also needs a
literal part of at least 8 characters, so a row cannot match by accident.

Also checks metadata.yaml against ./VERSION and docker/Dockerfile (image tag, repository label).

Prints undocumented messages (string literals passed to config_error / transient_error /
system_error in src/) as information; they do not fail the test.

usage: check_troubleshooting.py <repository root>
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
problems = []


def source_files():
    files = {}
    # The connector's code only: the emulator's messages are not the connector's.
    for path in sorted((root / "src").rglob("*")):
        if path.suffix not in (".cpp", ".hpp", ".h", ".cc"):
            continue
        rel = path.relative_to(root).as_posix()
        if rel.startswith("src/emulator/") or rel == "src/cli/vtgate_emulator.cpp":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r'"\s*\n\s*"', "", text)  # "abc"\n  "def" -> "abcdef"
        text = text.replace('\\"', '"').replace("{{", "{").replace("}}", "}")
        files[path.relative_to(root)] = text
    return files


def documented_messages(doc):
    text = doc.read_text(encoding="utf-8")
    start = text.find("\n## Troubleshooting")
    if start < 0:
        problems.append(f"{doc}: no '## Troubleshooting' section")
        return []
    section = text[start:]
    end = re.search(r"\n## (?!#)", section[1:])
    if end:
        section = section[: end.start() + 1]
    messages = []
    for line in section.split("\n"):
        m = re.match(r"\|\s*`([^`]+)`", line)
        if m and not line.startswith("|---"):
            messages.append(m.group(1))
    return messages


def pattern_of(message):
    parts = re.split(r"<[^<>]*>", message)
    literal = max((len(p) for p in parts), default=0)
    regex = ".*?".join(re.escape(p) for p in parts)
    return re.compile(regex), literal


def main():
    doc = root / "docs" / "operations.md"
    messages = documented_messages(doc)
    if len(messages) < 20:
        problems.append(f"{doc}: only {len(messages)} messages found in the troubleshooting tables")
    files = source_files()
    lines = [(path, line) for path, text in files.items() for line in text.split("\n")]
    for message in messages:
        regex, literal = pattern_of(message)
        if literal < 8:
            problems.append(f"documented message has no literal part of 8+ characters: `{message}`")
            continue
        if any(regex.search(line) for _, line in lines):
            continue
        # A message assembled from several formats (a prefix added by a caller, a run-time part
        # formatted first): every literal part of 3+ characters in one file.
        parts = [p.strip() for p in re.split(r"<[^<>]*>", message)]
        parts = [p for p in parts if len(p) >= 3]
        if any(all(p in text for p in parts) for text in files.values()):
            continue
        problems.append(f"documented message not found in src/: `{message}`")

    # Information: error literals in src/ that no documented message covers.
    documented = [pattern_of(m)[0] for m in messages]
    undocumented = set()
    for path, line in lines:
        for m in re.finditer(r'(?:config_error|transient_error|system_error)\(\s*(?:fmt::format\(\s*)?"([^"]{8,})', line):
            lit = re.sub(r"\{[^{}]*\}", "<x>", m.group(1))
            probe = re.split(r"<x>", lit)[0] or lit
            if not any(r.search(lit) or probe in r.pattern.replace("\\", "") for r in documented):
                undocumented.add(f"{path}: {m.group(1)}")
    for u in sorted(undocumented):
        print(f"info: not in the troubleshooting table: {u}")

    # metadata.yaml agrees with VERSION and the Dockerfile.
    version = (root / "VERSION").read_text().strip()
    meta = (root / "metadata.yaml").read_text()
    tag = re.search(r"^\s*dockerImageTag:\s*\"?([^\"\s]+)", meta, re.M)
    repo = re.search(r"^\s*dockerRepository:\s*\"?([^\"\s]+)", meta, re.M)
    if not tag or tag.group(1) != version:
        problems.append(f"metadata.yaml dockerImageTag {tag and tag.group(1)} != VERSION {version}")
    dockerfile = (root / "docker" / "Dockerfile").read_text()
    label = re.search(r'io\.airbyte\.name="([^"]+)"', dockerfile)
    if not repo or not label or repo.group(1) != label.group(1):
        problems.append("metadata.yaml dockerRepository differs from the Dockerfile's io.airbyte.name label")
    entry = re.search(r'^ENTRYPOINT \["([^"]+)"\]', dockerfile, re.M)
    env = re.search(r'^ENV AIRBYTE_ENTRYPOINT="([^"]+)"', dockerfile, re.M)
    if not entry or not env or entry.group(1) != env.group(1) or not entry.group(1).startswith("/"):
        problems.append("Dockerfile: AIRBYTE_ENTRYPOINT must equal the absolute ENTRYPOINT")

    for p in problems:
        print(f"FAIL: {p}")
    print(f"{len(messages)} documented messages checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
