"""Runs a command and succeeds only if it exits with the expected code.
Usage: exitcode.py EXPECTED COMMAND [ARGS...]"""
import subprocess
import sys

expected = int(sys.argv[1])
code = subprocess.run(sys.argv[2:]).returncode
if code != expected:
    print(f"exit code {code}, expected {expected}", file=sys.stderr)
    sys.exit(1)
