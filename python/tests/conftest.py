"""Shared fixtures: the examples and test blueprints compiled once per
session into a temporary directory (rslc from $RSLC_BIN or build/bin)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))

import rslc  # noqa: E402


@pytest.fixture(scope="session")
def build(tmp_path_factory):
    """build(blueprint relative to the repository, **compile options) -> .so path."""
    out = tmp_path_factory.mktemp("libs")
    cache = {}

    def make(blueprint, **options):
        key = (blueprint, tuple(sorted((k, str(v)) for k, v in options.items())))
        if key not in cache:
            name = f"lib{len(cache)}"
            cache[key] = rslc.compile(os.path.join(ROOT, blueprint), out=str(out / name), **options)
        return cache[key]

    return make
