"""Write the mip package descriptions of the firmware (MicroPython's package manager):

    package.json                 the whole `meter` package (without the simulation hooks)
    firmware/dsmr.json           the P1 telegram builder core (meter/cores/dsmr) + what it imports
    firmware/iec62056_21.json    the IEC 62056-21 meter-side session core + what it imports

    .venv/bin/python -m host_tools.gen_mip          rewrite them (tests/test_mip.py checks they
                                                    are current)

Install with mpremote from the repository, e.g.
    mpremote mip install github:<owner>/<repo>                     (package.json)
    mpremote mip install github:<owner>/<repo>/firmware/dsmr.json
URLs are relative to the .json file (mpremote resolves them; the on-device `mip` needs absolute
URLs: install from the host). Every part needs `metercrypto`, a native module that mip cannot
install: use MicroPython firmware with it compiled in, or copy build/natmod/<arch>/metercrypto.mpy
(`make natmod`) to the board's /lib.
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FW = os.path.join(ROOT, "firmware")
VERSION = "0.1.0"
SIM_ONLY = ("meter/app/sim.py",)

# json file (relative to the repository) -> the package directories it starts from
PACKAGES = {
    "package.json": ["meter"],
    "firmware/dsmr.json": ["meter/cores/dsmr"],
    "firmware/iec62056_21.json": ["meter/cores/iec62056_21"],
}

_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(meter(?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|[\w \t,]+)"
                     r"|import[ \t]+(meter(?:\.\w+)*))", re.M)


def _module_file(dotted):
    """firmware-relative path of a dotted meter module or package, or None."""
    rel = dotted.replace(".", "/")
    if os.path.isfile(os.path.join(FW, rel + ".py")):
        return rel + ".py"
    if os.path.isfile(os.path.join(FW, rel, "__init__.py")):
        return rel + "/__init__.py"
    return None


def _imports(path):
    with open(os.path.join(FW, path)) as f:
        src = f.read()
    out = set()
    for m in _IMPORT.finditer(src):
        mod = m.group(1) or m.group(3)
        f = _module_file(mod)
        if f:
            out.add(f)
        if m.group(1):  # `from meter.common import timeutil`: a submodule, or a name in the package
            for name in re.split(r"[\s,()]+", m.group(2).strip()):
                sub = _module_file(mod + "." + name) if name else None
                if sub:
                    out.add(sub)
    return out


def closure(roots):
    """Every firmware file (relative to firmware/) the packages under `roots` need: their files,
    what they import from `meter`, transitively, and the __init__.py of every package on the way."""
    todo = set()
    for r in roots:
        for d, subdirs, names in os.walk(os.path.join(FW, r)):
            subdirs.sort()
            todo.update(os.path.relpath(os.path.join(d, n), FW).replace(os.sep, "/")
                        for n in names if n.endswith(".py"))
    done = set()
    while todo:
        p = todo.pop()
        if p in done or p in SIM_ONLY:
            continue
        done.add(p)
        todo |= _imports(p)
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            init = "/".join(parts[:i]) + "/__init__.py"
            if os.path.exists(os.path.join(FW, init)):
                todo.add(init)
    return sorted(done)


def describe(json_rel, roots):
    base = os.path.dirname(os.path.join(ROOT, json_rel))
    urls = []
    for f in closure(roots):
        url = os.path.relpath(os.path.join(FW, f), base).replace(os.sep, "/")
        urls.append([f, url])
    return {"urls": urls, "deps": [], "version": VERSION}


def main(argv=None):
    for rel, roots in PACKAGES.items():
        with open(os.path.join(ROOT, rel), "w") as f:
            json.dump(describe(rel, roots), f, indent=1)
            f.write("\n")
        print("wrote " + rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
