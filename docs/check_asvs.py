#!/usr/bin/env python3
"""Checks docs/asvs.md: every requirement of the shared ASVS list appears exactly once, and
every test it names exists (a Rust `path::function` has that `fn`; a script path exists).

usage: docs/check_asvs.py [ASVS_LIST]   (default ../shared/asvs-5.0.md beside the project)
"""
import os
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
shared = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "asvs-5.0.md"
mapped = (root / "docs" / "asvs.md").read_text()

errors = []
ids = re.findall(r"^\| (V\d+\.\d+\.\d+) \|", mapped, re.M)
if shared.is_file():
    wanted = re.findall(r"^\| (V\d+\.\d+\.\d+) \|", shared.read_text(), re.M)
    for id_ in wanted:
        if ids.count(id_) != 1:
            errors.append(f"{id_} appears {ids.count(id_)} times in docs/asvs.md")
elif os.environ.get("CI") == "true":
    errors.append(f"{shared} not found (CI=true)")
else:
    print(f"SKIPPED the completeness check: {shared} not found")

checked = 0
for ref in sorted(set(re.findall(r"`((?:crates|fuzz)/[^`\s]+)`", mapped))):
    path, _, function = ref.partition("::")
    file = root / path
    if not file.is_file():
        errors.append(f"{ref}: no such file")
    elif function and not re.search(rf"\bfn {re.escape(function)}\b", file.read_text()):
        errors.append(f"{ref}: no fn {function} in {path}")
    checked += 1

headings = set()
documents = [root / "docs/security.md", *sorted((root / "book/src").glob("*.md"))]
for document in documents:
    headings |= set(re.findall(r"^#+ (.+)$", document.read_text(), re.M))
for section in sorted(set(re.findall(r"§ (.+?)(?= \(| and §|;| \||$)", mapped, re.M))):
    if not any(section.startswith(heading) for heading in headings):
        errors.append(f"neither the book nor docs/security.md has a section '{section.strip()}'")

for line in mapped.splitlines():
    if line.startswith("| V") and "| proved:" in line and "`" not in line:
        errors.append(f"{line.split('|')[1].strip()}: proved by no named test")

if errors:
    print("docs/asvs.md:\n  " + "\n  ".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"docs/asvs.md: {len(ids)} requirements, {checked} named tests and scripts all exist")
