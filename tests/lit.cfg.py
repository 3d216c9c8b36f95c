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
config.substitutions.append(("%python", config.python))
for tool in ("gradcheck", "abicheck"):
    config.substitutions.append(("%" + tool, os.path.join(config.rslc_bin_dir, tool)))
config.substitutions.append(("%train", os.path.join(config.rslc_bin_dir, "rslc-train")))
config.environment["PATH"] = os.pathsep.join(
    [config.llvm_tools_dir, config.rslc_bin_dir, config.environment.get("PATH", "")])
