"""Every example checks, and its checked form is a fixed point: checking the
printed blueprint again prints the same text. Usage: roundtrip.py RSLC DIR"""
import pathlib
import subprocess
import sys

rslc, examples = sys.argv[1], pathlib.Path(sys.argv[2])
files = sorted(examples.glob("*.rsl"))
assert files, f"no examples in {examples}"
failures = 0
for f in files:
    first = subprocess.run([rslc, str(f), "--emit=checked"], capture_output=True, text=True)
    if first.returncode != 0:
        print(f"FAIL {f.name}: rslc exited {first.returncode}\n{first.stderr}")
        failures += 1
        continue
    second = subprocess.run([rslc, "-", "--emit=checked"], input=first.stdout,
                            capture_output=True, text=True)
    if second.returncode != 0 or second.stdout != first.stdout:
        print(f"FAIL {f.name}: checked form is not a fixed point\n{second.stderr}")
        failures += 1
        continue
    print(f"ok {f.name}: {first.stdout.count(' -> ')} edge lines")
print(f"{len(files) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
