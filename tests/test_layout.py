"""The firmware's layer rule (firmware/meter/README.md): imports run one way only,
app -> ports -> services -> cores -> drivers -> common. A module may import its own layer and the
layers below it, never one above; common imports only common. Checked on every import statement of
every module under firmware/meter (also those inside functions), with the standard library's ast.
"""
import ast
import os

from conftest import ROOT

METER = os.path.join(ROOT, "firmware", "meter")
RANK = {"common": 0, "drivers": 1, "cores": 2, "services": 3, "ports": 4, "app": 5}


def layer_of(modname):
    """Layer of a module path 'meter.<layer>....', or None for meter itself / other packages."""
    parts = modname.split(".")
    if parts[0] != "meter" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else "?" + parts[1]


def imports_of(path):
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "meter":  # from meter import <layer>
                out += [(node.lineno, "meter." + a.name) for a in node.names]
            else:
                out.append((node.lineno, node.module))
    return out


def violations(src_layer, imports):
    bad = []
    for line, mod in imports:
        dst = layer_of(mod)
        if dst is None:
            continue
        if dst.startswith("?"):
            bad.append((line, mod, "not a layer package"))
        elif src_layer == "common" and dst != "common":
            bad.append((line, mod, "common imports only common"))
        elif RANK[dst] > RANK[src_layer]:
            bad.append((line, mod, "%s may not import %s (imports run downwards)" % (src_layer, dst)))
    return bad


def scan():
    found = {}
    modules = 0
    for dirpath, dirnames, files in os.walk(METER):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        rel = os.path.relpath(dirpath, METER)
        for name in files:
            if not name.endswith(".py"):
                continue
            modules += 1
            if rel == ".":
                assert name == "__init__.py", "modules belong in a layer package, not %s" % name
                continue
            layer = rel.split(os.sep)[0]
            assert layer in RANK, "unknown package firmware/meter/%s" % layer
            path = os.path.join(dirpath, name)
            v = violations(layer, imports_of(path))
            if v:
                found[os.path.relpath(path, ROOT)] = v
    return modules, found


def test_imports_run_one_way():
    modules, found = scan()
    assert modules > 30  # the scan saw the tree
    assert not found, "layer rule broken:\n" + "\n".join(
        "%s:%d: %s (%s)" % (p, line, mod, why) for p, v in sorted(found.items()) for line, mod, why in v)


def test_scanner_catches_an_upward_import():
    # the checker itself must be able to fail: an import from a core into a service, a common module
    # into a driver, and an unknown package are all reported
    assert violations("cores", [(3, "meter.services.clock")])
    assert violations("common", [(1, "meter.drivers.afe")])
    assert violations("services", [(7, "meter.misc")])
    assert not violations("ports", [(1, "meter.services.clock"), (2, "meter.cores.dsmr.builder"),
                                    (3, "struct"), (4, "meter.ports.p1")])
    tree_imports = imports_of(os.path.join(METER, "ports", "optical.py"))
    assert any(m.startswith("meter.cores.") for _, m in tree_imports)  # the parser sees real imports
