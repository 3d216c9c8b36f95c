#!/usr/bin/env python3
"""The layering of the source tree (docs/architecture.md): core/ is free of
LLVM and of every other folder; the compiler and the runtime are siblings
that meet only in core/ and include/ (the C ABI); the tools use only core/,
include/ and their own files. Prints each violation; exits 1 if any."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
# folder -> include prefixes it must not use
forbidden = {
    "core": ["compiler/", "runtime/", "tools/", "llvm/", "antlr4"],
    "runtime": ["compiler/", "tools/", "llvm/", "antlr4"],
    "compiler": ["runtime/", "tools/"],
    "tools": ["compiler/", "runtime/", "llvm/", "antlr4"],
    "include": ["core/", "compiler/", "runtime/", "tools/", "llvm/"],
}
include = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]')
bad = 0
for folder, prefixes in forbidden.items():
    for path in sorted((root / folder).rglob("*")):
        if path.suffix not in (".h", ".cpp", ".c", ".def"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            m = include.match(line)
            if m and any(m.group(1).startswith(p) for p in prefixes):
                print(f"{path.relative_to(root)}:{number}: {folder}/ must not include {m.group(1)}")
                bad += 1
print(f"layering: {bad} violation(s)")
sys.exit(1 if bad else 0)
