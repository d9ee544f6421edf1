"""Shared helpers for the CPython STS tests (test_sts_*.py). Holds no tests.

- vectors(): shared/vectors/sts.json, or pytest.skip with where it was looked for.
- Driver: one MicroPython process per interpreter running tests/mp/sts_driver.py, fed a whole
  batch of JSON commands at once (one subprocess per interpreter for many examples).
- fw_key(hex): sts.json prints decoder keys byte-reversed; the natural order is used everywhere else.
"""
import json
import os

import pytest

from conftest import ROOT, run_mp

INTERPS = ("unix", "unix32")


def _vector_dirs():
    env = os.environ.get("METER_SHARED_DIR")
    dirs = [os.path.join(env, "vectors")] if env else []
    # CI: the repo at /work/main, shared at ../shared; a worktree at /work/wt/<name>: ../../shared
    dirs += [os.path.join(ROOT, "..", "shared", "vectors"), os.path.join(ROOT, "..", "..", "shared", "vectors")]
    return [os.path.normpath(d) for d in dirs]


def vectors():
    for d in _vector_dirs():
        p = os.path.join(d, "sts.json")
        if os.path.exists(p):
            with open(p) as f:
                return json.load(f)
    pytest.skip("STS vectors not found (looked for sts.json in %s; set METER_SHARED_DIR)" % ", ".join(_vector_dirs()))


def fw_key(printed_hex):
    """A decoder key as sts.json prints it (byte-reversed) -> most significant byte first."""
    return bytes.fromhex(printed_hex)[::-1]


def key_cmd(mid, key, ea=7, config=None, **params):
    k = dict(ea=ea, key=key.hex(), kt=2, krn=1, ti=1, ken=255, sgc=123456, base=0)
    k.update(params)
    return {"op": "meter", "id": mid, "key": k, "config": config or {}}


def drive(interp, commands, timeout=900):
    """Run the commands in one MicroPython process; returns the list of replies."""
    text = "".join(json.dumps(c) + "\n" for c in commands)
    p = run_mp(interp, [os.path.join(ROOT, "tests", "mp", "sts_driver.py")], timeout=timeout,
               input_data=text, heap="8M")
    lines = p.stdout.splitlines()
    if p.returncode != 0 or not lines or lines[-1] != "@@END":
        raise AssertionError("sts_driver failed in %s (exit %s):\n%s\n%s" % (interp, p.returncode,
                                                                         p.stdout[-2000:], p.stderr[-2000:]))
    replies = [json.loads(x) for x in lines[:-1]]
    assert len(replies) == len(commands), (len(replies), len(commands))
    for c, r in zip(commands, replies):
        assert "error" not in r, (c.get("op"), r)
    return replies
