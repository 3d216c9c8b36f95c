# lit configuration for rslc. Run through ctest (see tests/CMakeLists.txt),
# which passes --param rslc_site=<build>/tests/lit.site.cfg.py.
import os
import lit.formats

config.name = "rslc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".rsl", ".test"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)

site = lit_config.params.get("rslc_site")
if not site:
    lit_config.fatal("run the tests through ctest, or pass --param rslc_site=<build>/tests/lit.site.cfg.py")
exec(open(site).read())
config.test_exec_root = os.path.join(config.rslc_obj_root, "tests")

project = os.path.dirname(config.test_source_root)
config.substitutions.append(("%rslc", os.path.join(config.rslc_bin_dir, "rslc")))
config.substitutions.append(("%examples", os.path.join(project, "examples")))
# In a sanitizer build (RSLC_SANITIZE) generated libraries hold an
# instrumented runtime: python preloads the shared sanitizer runtime, and C
# programs are built with the same sanitizers.
if config.sanitize:
    config.substitutions.append(("%python", "env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 %s"
                                 % (config.asan_runtime, config.python)))
    config.substitutions.append(("%cc", "%s -fsanitize=%s -shared-libsan -Wl,-rpath,%s"
                                 % (config.cc, config.sanitize, os.path.dirname(config.asan_runtime))))
    config.available_features.add("sanitizer")
    config.environment["LSAN_OPTIONS"] = "suppressions=" + os.path.join(config.test_source_root, "lsan.supp")
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if name in os.environ:
            config.environment[name] = os.environ[name]
else:
    config.substitutions.append(("%python", config.python))
    config.substitutions.append(("%cc", config.cc))
for tool in ("gradcheck", "abicheck"):
    config.substitutions.append(("%" + tool, os.path.join(config.rslc_bin_dir, tool)))
config.substitutions.append(("%train", os.path.join(config.rslc_bin_dir, "rslc-train")))
config.substitutions.append(("%bindir", config.rslc_bin_dir))
config.substitutions.append(("%builddir", config.rslc_obj_root))
# Tests whose kernels target x86-64-v3 (AVX2, FMA) run where the CPU has it.
try:
    flags = set(next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split())
    if {"avx2", "fma", "bmi2", "movbe", "f16c"} <= flags:
        config.available_features.add("x86-64-v3")
    if "apx_f" in flags or "apx" in flags:  # Intel APX (extended registers)
        config.available_features.add("apx")
except (OSError, StopIteration):
    pass
# Real data from Debian's dataset-fashion-mnist (scripts/setup.sh installs it).
if os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    config.available_features.add("fashion-mnist")
# Tests run side by side: waiting OpenMP threads sleep rather than spin
# (rslc-train's default short spin is for a quiet machine, docs/runtime.md).
config.environment["OMP_WAIT_POLICY"] = "passive"
config.environment["PATH"] = os.pathsep.join(
    [config.llvm_tools_dir, config.rslc_bin_dir, config.environment.get("PATH", "")])

# Data-parallel tests: mpirun as root (the CI machine's user) on one machine.
# Under sanitizers, leak checks are off there: Open MPI's plugins keep memory
# until exit and are unloaded by then, so no suppression can name them.
if config.mpi:
    config.available_features.add("mpi")
    config.substitutions.append(("%mpirun", "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 %s"
                                 "%s --oversubscribe --bind-to none"
                                 % ("ASAN_OPTIONS=detect_leaks=0 " if config.sanitize else "", config.mpiexec)))

# Tests of unreadable files: root reads every file, so under root they run
# the tool as 'nobody' (when setpriv can switch to it); otherwise as is.
unprivileged = None
if os.geteuid() != 0:
    unprivileged = ""
else:
    import shutil
    import subprocess
    setpriv = shutil.which("setpriv")
    drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if setpriv else None
    if drop and subprocess.run(drop + ["true"], capture_output=True).returncode == 0:
        unprivileged = " ".join(drop)
if unprivileged is not None:
    config.available_features.add("unreadable-files")
    config.substitutions.append(("%unprivileged", unprivileged))
