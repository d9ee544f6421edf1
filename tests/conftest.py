"""pytest plumbing.

MicroPython tests live in tests/mp/mpt_*.py. Each file runs once per interpreter (64-bit and 32-bit
Unix builds), in a subprocess, and every `test_*` function in it becomes a pytest item named
`mpt_file.py::test_name[unix]` / `[unix32]`.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

INTERPRETERS = {
    "unix": os.path.join(ROOT, "build", "unix", "micropython"),
    "unix32": os.path.join(ROOT, "build", "unix32", "micropython"),
}
MP_DIR = os.path.join(ROOT, "tests", "mp")


def mp_env(extra_path=()):
    env = dict(os.environ)
    paths = [".frozen", os.path.join(ROOT, "firmware"), MP_DIR] + list(extra_path)
    env["MICROPYPATH"] = ":".join(paths)
    return env


def run_mp(interp, args, timeout=600, heap=None, extra_path=(), input_data=None):
    cmd = [INTERPRETERS[interp]]
    if heap:
        cmd += ["-X", "heapsize=" + heap]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=mp_env(extra_path),
                          input=input_data, cwd=ROOT)


_cache = {}


def parse_runner_output(stdout):
    """{test name: (PASS|FAIL|SKIP, message, output)} from the lines tests/mp/_runner.py printed;
    "__import__" when the module did not import, "__done__" when the runner finished."""
    results, cur, out = {}, None, []
    for line in stdout.splitlines():
        if line.startswith("@@BEGIN "):
            cur, out = line[8:], []
        elif line.startswith(("@@PASS ", "@@FAIL ", "@@SKIP ")):
            kind, _, rest = line[2:].partition(" ")
            name, _, msg = rest.partition(" ")
            results[name] = (kind, msg.replace("\\n", "\n"), "\n".join(out))
        elif line.startswith("@@IMPORTERROR"):
            results["__import__"] = ("FAIL", line[14:].replace("\\n", "\n"), "")
        elif line == "@@DONE":
            results["__done__"] = True
        else:
            out.append(line)
    return results


def _run_file(interp, modname, heap):
    key = (interp, modname)
    if key not in _cache:
        p = run_mp(interp, [os.path.join(MP_DIR, "_runner.py"), modname], heap=heap)
        results = parse_runner_output(p.stdout)
        results["__proc__"] = (p.returncode, p.stderr[-4000:], p.stdout[-2000:])
        _cache[key] = results
    return _cache[key]


class MpFile(pytest.File):
    def collect(self):
        # Test names are read from the source so collection needs no interpreter.
        names = []
        heap = None
        with open(self.path) as f:
            for line in f:
                if line.startswith("def test_"):
                    names.append(line[4:line.index("(")])
                if line.startswith("# mp-heap:"):
                    heap = line.split(":", 1)[1].strip()
        only = None
        with open(self.path) as f:
            src = f.read()
        if "# mp-only: unix32" in src:
            only = ("unix32",)
        elif "# mp-only: unix" in src:
            only = ("unix",)
        for interp in only or ("unix", "unix32"):
            for n in names:
                yield MpItem.from_parent(self, name="%s[%s]" % (n, interp), interp=interp, func=n, heap=heap)


class MpFailure(Exception):
    pass


class MpItem(pytest.Item):
    def __init__(self, *, interp, func, heap, **kw):
        super().__init__(**kw)
        self.interp, self.func, self.heap = interp, func, heap

    def runtest(self):
        modname = self.path.stem
        res = _run_file(self.interp, modname, self.heap)
        if "__import__" in res:
            raise MpFailure("import failed in %s:\n%s" % (self.interp, res["__import__"][1]))
        r = res.get(self.func)
        if r is None:
            rc, err, out = res["__proc__"]
            raise MpFailure("no result for %s (interpreter exit %s)\nstderr:\n%s\nstdout tail:\n%s"
                            % (self.func, rc, err, out))
        kind, msg, out = r
        if kind == "SKIP":
            pytest.skip(msg)
        if kind == "FAIL":
            raise MpFailure(msg + ("\n--- output ---\n" + out if out else ""))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MpFailure):
            return "[%s] %s" % (self.interp, excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, "mp: %s [%s]" % (self.func, self.interp)


# The longest test files (seconds of one worker, measured with --durations), started first: xdist
# hands out whole files (--dist loadfile) in collection order, so a long file collected last keeps
# one core busy alone at the end (longest-first scheduling shortens `make test` by that tail).
LONGEST_FIRST = ("test_rig_metrology_exact.py", "test_rig_tariff.py", "test_rig_metrology_powercut.py",
                 "test_rig_prepayment.py", "test_rig_optical.py", "test_rig_p1_cadence.py",
                 "test_rig_p1.py", "test_rig_dlms.py", "test_rig_oms.py", "test_qemu_m3.py",
                 "test_qemu_m0.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name.startswith("test_rig_"):
            item.add_marker(pytest.mark.rig)
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda it: rank.get(it.path.name, len(rank)))  # stable: file order kept otherwise


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".py" and file_path.name.startswith("mpt_"):
        return MpFile.from_parent(parent, path=file_path)


class _NotPython(pytest.File):
    def collect(self):
        return []


def pytest_pycollect_makemodule(module_path, parent):
    # MicroPython test files named on the command line are not CPython test modules.
    if module_path.name.startswith("mpt_"):
        return _NotPython.from_parent(parent, path=module_path)
