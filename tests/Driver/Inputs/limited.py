"""Runs a command under an address-space limit and prints its stderr and
its exit status (a signal as a negative number): running out of memory
must be an error message and exit 1, never an abort.
Usage: limited.py MEGABYTES COMMAND [ARGS...]"""
import resource
import subprocess
import sys

limit = int(sys.argv[1]) << 20


def cap():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


run = subprocess.run(sys.argv[2:], preexec_fn=cap, stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE, text=True)
print(run.stderr.strip())
print(f"exit {run.returncode}")
