"""The mip package descriptions (package.json, firmware/dsmr.json, firmware/iec62056_21.json):
current with the tree (host_tools/gen_mip.py), in the format mip reads (micropython-lib's mip and
mpremote's: "urls" [[target, url]], "deps" [[name, version]], "version"), and self-contained:
installed the way mpremote does (relative URLs against the .json's location) into an empty
directory, each part imports and works on the 32-bit interpreter with nothing else on its path."""
import json
import os
import re
import shutil
import subprocess

import pytest

from host_tools import gen_mip

ROOT = gen_mip.ROOT
UNIX32 = os.path.join(ROOT, "build", "unix32", "micropython")

SMOKE = {
    "firmware/dsmr.json": "from meter.cores.dsmr.builder import P1Builder\nb = P1Builder('dsmr5', {})\n"
                          "print('ok', b.max_frame > 500)\n",
    "firmware/iec62056_21.json": "from meter.cores.iec62056_21 import session\nprint('ok', hasattr(session, 'Session'))\n",
    "package.json": "import meter.app\nfrom meter.app import App\nprint('ok', App is not None)\n",
}


def load(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return json.load(f)


@pytest.mark.parametrize("rel", list(gen_mip.PACKAGES))
def test_description_is_current(rel):
    assert load(rel) == gen_mip.describe(rel, gen_mip.PACKAGES[rel]), \
        "%s is stale: run .venv/bin/python -m host_tools.gen_mip" % rel


@pytest.mark.parametrize("rel", list(gen_mip.PACKAGES))
def test_mip_format(rel):
    pkg = load(rel)
    assert set(pkg) <= {"urls", "hashes", "deps", "version"}, set(pkg)
    assert isinstance(pkg["version"], str) and re.fullmatch(r"\d+\.\d+\.\d+", pkg["version"])
    assert isinstance(pkg["deps"], list)
    for dep in pkg["deps"]:
        assert isinstance(dep, list) and len(dep) == 2 and all(isinstance(x, str) for x in dep)
    assert pkg["urls"]
    targets = set()
    for entry in pkg["urls"]:
        assert isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry), entry
        target, url = entry
        assert target.endswith(".py") and not target.startswith("/") and ".." not in target.split("/")
        assert target not in targets
        targets.add(target)
        assert not url.startswith(("/", "http:", "https:")), url  # relative to the .json
        src = os.path.normpath(os.path.join(ROOT, os.path.dirname(rel), url))
        assert os.path.isfile(src), url
        assert src == os.path.join(ROOT, "firmware", target)  # installed where the source lives
    assert "meter/app/sim.py" not in targets


@pytest.mark.parametrize("rel", list(gen_mip.PACKAGES))
def test_installed_part_is_self_contained(rel, tmp_path):
    pkg = load(rel)
    lib = tmp_path / "lib"
    base = os.path.join(ROOT, os.path.dirname(rel))
    for target, url in pkg["urls"]:
        dst = lib / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os.path.join(base, url), dst)  # mpremote: f"{base_url}/{url}"
    # only the installed files (and the interpreter's frozen asyncio): no firmware/ on the path
    p = subprocess.run([UNIX32, "-c", SMOKE[rel]], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MICROPYPATH=".frozen:" + str(lib)), cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split() == ["ok", "True"], p.stdout
