"""`python -m host_tools update keygen|build|sign|show` (host_tools/cli_update.py): the key files,
the package a build makes, and its signatures checked with `cryptography` (independent of the
meter's verifier)."""
import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import ROOT
from host_tools.update import package as P

pytestmark = pytest.mark.skipif(not os.path.exists(P.MPY_CROSS), reason="mpy-cross not built")


def cli(*args):
    r = subprocess.run([sys.executable, "-m", "host_tools", "update"] + list(args), cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_keygen_build_sign_show(tmp_path):
    fw, met = str(tmp_path / "fw"), str(tmp_path / "met")
    cli("keygen", fw)
    cli("keygen", met)
    assert stat.S_IMODE(os.stat(fw + ".key").st_mode) == 0o600
    r = subprocess.run([sys.executable, "-m", "host_tools", "update", "keygen", fw], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode != 0 and "exists" in r.stderr  # never overwrites a key
    pkg = str(tmp_path / "p.mup")
    cli("build", pkg, "--version", "2.0.0", "--counter", "7", "--legal-changed")
    cli("sign", pkg, "--key", fw + ".key")
    cli("sign", pkg, "--key", met + ".key", "--metrology")
    with open(pkg, "rb") as f:
        data = f.read()
    end, man, mbytes, sigs, body = P.parse(data)
    assert [k for k, _ in sigs] == [1, 2]
    for (kid, sig), base in zip(sigs, (fw, met)):
        pub = bytes.fromhex(open(base + ".pub").read().strip())
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, mbytes)  # raises if bad
    assert man["version"] == "2.0.0" and man["counter"] == 7 and man["legal"]["changed"] is True
    assert man["board"] == "unix_sim" and man["mpy"] == "6.3"
    # every file of firmware/meter is there, compiled, with its size and hash; the body is them
    paths = [f[0] for f in man["files"]]
    assert "meter/services/update.mpy" in paths and "board.mpy" in paths
    off = 0
    for path, size, h in man["files"]:
        part = body[off:off + size]
        assert part[:1] == b"M" and hashlib.sha256(part).hexdigest() == h, path  # .mpy magic
        off += size
    assert off == len(body)
    shown = json.loads(cli("show", pkg))
    assert shown["signatures"] == [1, 2] and shown["files"] == len(paths)
    # a delta against itself sends nothing but the manifest
    cli("build", str(tmp_path / "d.mup"), "--version", "2.0.1", "--counter", "8", "--base", pkg)
    with open(tmp_path / "d.mup", "rb") as f:
        _, dman, _, _, dbody = P.parse(f.read())
    assert dbody == b"" and all(len(f) == 4 for f in dman["files"])


def test_build_next_key_rotation(tmp_path):
    """--next-key puts the new firmware public key into the manifest (signed by the current key)."""
    fw, nxt = str(tmp_path / "fw"), str(tmp_path / "next")
    cli("keygen", fw)
    cli("keygen", nxt)
    pkg = str(tmp_path / "r.mup")
    out = cli("build", pkg, "--version", "2.1.0", "--counter", "9", "--next-key", nxt + ".pub")
    pub = open(nxt + ".pub").read().strip()
    assert "rotates the firmware key to " + pub in out
    cli("sign", pkg, "--key", fw + ".key")
    with open(pkg, "rb") as f:
        _, man, mbytes, sigs, _ = P.parse(f.read())
    assert man["next_key"] == pub and json.loads(cli("show", pkg))["next_key"] == pub
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(open(fw + ".pub").read().strip())).verify(
        sigs[0][1], mbytes)
    with open(tmp_path / "bad.pub", "w") as f:
        f.write("abcd\n")
    r = subprocess.run([sys.executable, "-m", "host_tools", "update", "build", str(tmp_path / "x.mup"),
                        "--version", "2.1.0", "--counter", "9", "--next-key", str(tmp_path / "bad.pub")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: next key"), r.stderr
