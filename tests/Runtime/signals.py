"""Nothing lost: rslc-train under SIGINT, SIGKILL and a full disk.

  signals.py interrupt TRAIN...     SIGINT once training runs: exit 130, and
                                    the checkpoint (--checkpoint) resumes
  signals.py kill N CKPT CHECK -- TRAIN...
                                    N times: start TRAIN (which checkpoints
                                    to CKPT every step), SIGKILL it while it
                                    writes (its CKPT.tmp.PID exists); CHECK
                                    (a command resuming from CKPT) must then
                                    succeed
  signals.py diskfull BYTES CKPT -- TRAIN...
                                    TRAIN with files limited to BYTES (as
                                    on a full disk): it must fail with a
                                    message, and CKPT stay byte-identical
  signals.py filesize BYTES CKPT -- TRAIN...
                                    the same under `ulimit -f` as a shell
                                    sets it: SIGXFSZ at its default action
                                    (which ends the process) unless rslc
                                    holds it back; no stale temporary file
"""
import hashlib
import os
import random
import resource
import signal
import subprocess
import sys
import time


def wait_for_output(proc, path, timeout=60):
    """Waits until the log file `path` has a metrics line (training has
    begun; the first line is the run's provenance)."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if '"step"' in open(path).read():
                return
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            sys.exit(f"FAIL: training ended early ({proc.returncode})")
        time.sleep(0.05)
    sys.exit("FAIL: training did not start")


cmd = sys.argv[1]
if cmd == "interrupt":
    argv = sys.argv[2:]
    log = argv[argv.index("--log") + 1]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    wait_for_output(proc, log)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    print(err.strip().splitlines()[-1] if err.strip() else "")
    print(f"{'ok' if proc.returncode == 130 else 'FAIL'} interrupted: exit status {proc.returncode}")
elif cmd == "kill":
    n, ckpt, check = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    argv = sys.argv[sys.argv.index("--") + 1:]
    rng = random.Random(7)
    good = midwrite = 0
    for k in range(n):
        proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        partial = f"{ckpt}.tmp.{proc.pid}"
        end = time.time() + 30
        while time.time() < end and not os.path.exists(partial):
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.005))  # somewhere inside the write
        midwrite += os.path.exists(partial)
        proc.kill()
        proc.wait()
        if os.path.exists(partial):
            os.unlink(partial)
        resume = subprocess.run(check, shell=True, capture_output=True, text=True)
        if resume.returncode != 0:
            print(f"FAIL: after kill {k}: {resume.stderr.strip()}")
            sys.exit(1)
        good += 1
    ok = midwrite > 0
    print(f"{'ok' if ok else 'FAIL'} killed {n} times, {midwrite} in the middle of a checkpoint write; "
          f"the previous checkpoint resumed every time ({good}/{n})")
    sys.exit(not ok)
elif cmd in ("diskfull", "filesize"):
    limit, ckpt = int(sys.argv[2]), sys.argv[3]
    argv = sys.argv[sys.argv.index("--") + 1:]
    before = hashlib.sha256(open(ckpt, "rb").read()).hexdigest()

    def limited():
        # diskfull: writes past `limit` bytes fail with EFBIG; filesize: the
        # kernel also raises SIGXFSZ, whose default action ends the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN if cmd == "diskfull" else signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = subprocess.run(argv, preexec_fn=limited, capture_output=True, text=True)
    after = hashlib.sha256(open(ckpt, "rb").read()).hexdigest()
    folder = os.path.dirname(os.path.abspath(ckpt))
    stale = [f for f in os.listdir(folder) if f.startswith(os.path.basename(ckpt) + ".tmp")]
    print(run.stderr.strip())
    ok = run.returncode == 1 and before == after and not stale
    print(f"{'ok' if ok else 'FAIL'} {'full disk' if cmd == 'diskfull' else 'file size limit'}: "
          f"exit status {run.returncode}, checkpoint {'unchanged' if before == after else 'CHANGED'}"
          f"{', stale ' + ' '.join(stale) if stale else ''}")
    sys.exit(not ok)
else:
    sys.exit(f"unknown command {cmd}")
if cmd == "interrupt":
    sys.exit(proc.returncode != 130)
