"""python/rslc/_abi.py is include/rslc.h: regenerating it changes nothing,
and the C compiler agrees with ctypes on every struct's size and offsets
(a mirror that is too short once let rslc_default_train_options write past
it)."""
import ctypes
import os
import subprocess
import sys

from conftest import ROOT

from rslc import _abi

HEADER = os.path.join(ROOT, "include", "rslc.h")


def test_generated_mirror_is_up_to_date():
    fresh = subprocess.run([sys.executable, os.path.join(ROOT, "python", "gen_abi.py"), HEADER],
                           check=True, capture_output=True, text=True).stdout
    with open(os.path.join(ROOT, "python", "rslc", "_abi.py")) as f:
        assert f.read() == fresh, "run: python/gen_abi.py include/rslc.h > python/rslc/_abi.py"


def test_layout_matches_the_c_compiler(tmp_path):
    lines = []
    for cls, cname in ((_abi.Metrics, "rslc_metrics"), (_abi.TrainOptions, "rslc_train_options")):
        lines.append(f'printf("{cname} %zu\\n", sizeof({cname}));')
        for field, _ in cls._fields_:
            lines.append(f'printf("{cname}.{field} %zu\\n", offsetof({cname}, {field}));')
    src = tmp_path / "layout.c"
    src.write_text('#include <stddef.h>\n#include <stdio.h>\n#include "rslc.h"\nint main(void) {\n'
                   + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / "layout"
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-I", os.path.join(ROOT, "include"), str(src), "-o", str(exe)], check=True)
    c = dict(line.rsplit(" ", 1) for line in subprocess.run(
        [str(exe)], check=True, capture_output=True, text=True).stdout.splitlines())
    for cls, cname in ((_abi.Metrics, "rslc_metrics"), (_abi.TrainOptions, "rslc_train_options")):
        assert int(c[cname]) == ctypes.sizeof(cls), cname
        for field, _ in cls._fields_:
            assert int(c[f"{cname}.{field}"]) == getattr(cls, field).offset, f"{cname}.{field}"


def test_every_function_of_the_header_is_typed():
    with open(HEADER) as f:
        text = f.read()
    import re
    declared = set(re.findall(r"\b(rslc_[a-z_]+)\(", text)) - {"rslc_callback"}
    assert declared == set(_abi.FUNCTIONS)
