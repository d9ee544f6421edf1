"""Build, sign, read and install update packages (format: firmware/meter/services/update.py).

    tree = compile_tree(board)                     {path: .mpy bytes} of firmware/meter + the board
    data = build(tree, board, version, counter, legal_changed=False, base=None, next_key=None)
    data = sign(data, private_key, key_id=KEY_FIRMWARE)                          adds a signature
    hdr, manifest, sigs, body = parse(data)
    install(data, slot_dir)                        factory install of a package into a slot (deploy)
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPY_CROSS = os.path.join(ROOT, "build", "mpsrc", "micropython", "mpy-cross", "build", "mpy-cross")
FW = os.path.join(ROOT, "firmware")
if FW not in sys.path:
    sys.path.insert(0, FW)
from meter.common import legal  # noqa: E402  (the firmware's own definition of the legal part)

MAGIC = b"MUP1"
KEY_FIRMWARE = 1
KEY_METROLOGY = 2
# files beside the slots (never swapped): the script and the boot selector
FIXED = ("main.py", "bootsel.py")


class PackageError(Exception):
    pass


def mpy_cross_version():
    """(MicroPython version 'x.y.z', mpy version 'v.s') that mpy-cross emits."""
    out = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"MicroPython v(\d+\.\d+\.\d+).*mpy v(\d+\.\d+)", out)
    if not m:
        raise PackageError("cannot read the mpy-cross version: %r" % out)
    return m.group(1), m.group(2)


def _sources(board):
    """(tree path, source file) of everything in a slot: firmware/meter and the board's modules."""
    out = []
    for dirpath, dirnames, files in os.walk(os.path.join(FW, "meter")):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                src = os.path.join(dirpath, name)
                out.append((os.path.relpath(src, FW).replace(os.sep, "/"), src))
    bdir = os.path.join(ROOT, "boards", board)
    if not os.path.isdir(bdir):
        raise PackageError("no board %s" % board)
    for name in sorted(os.listdir(bdir)):
        if name.endswith(".py") and name not in ("manifest.py", "_boot.py"):
            out.append((name, os.path.join(bdir, name)))
    return out


def compile_tree(board="unix_sim", override=None):
    """{tree path '.mpy': bytes}. override: {tree path '.py': source text} replacing files (tests)."""
    if not os.path.exists(MPY_CROSS):
        raise PackageError("mpy-cross not built: run `make setup`")
    tree = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rel, src in _sources(board):
            if override and rel in override:
                src = os.path.join(tmp, rel.replace("/", "_"))
                with open(src, "w") as f:
                    f.write(override[rel])
            out = os.path.join(tmp, "out.mpy")
            r = subprocess.run([MPY_CROSS, "-msmall-int-bits=31", "-o", out, "-s", rel, src],
                               capture_output=True, text=True)
            if r.returncode:
                raise PackageError("mpy-cross %s: %s" % (rel, r.stderr))
            with open(out, "rb") as f:
                tree[rel[:-3] + ".mpy"] = f.read()
    return tree


def legal_checksum(tree):
    d = {}
    for path, data in tree.items():
        m = legal.module_of(path)
        if m is not None:
            d[m] = (path, hashlib.sha256(data).digest())
    return legal.checksum(d)


def _header(mbytes, sigs):
    out = bytearray(MAGIC + len(mbytes).to_bytes(4, "little") + bytes([len(sigs)]))
    for kid, sig in sigs:
        out += bytes([kid]) + sig
    return bytes(out) + mbytes


def build(tree, board, version, counter, legal_changed=False, base=None, micropython=None, mpy=None,
          next_key=None):
    """An unsigned package of `tree`. base: the manifest (dict) of the firmware on the meter; files
    it has with the same hash become delta entries (not sent, copied on the meter). next_key: the
    next firmware public key (64 hex), rotated in when this firmware is confirmed on the meter."""
    if micropython is None or mpy is None:
        micropython, mpy = mpy_cross_version()
    have = {}
    if base is not None:
        have = {f[0]: f[2] for f in base["files"]}
    files = []
    body = bytearray()
    for path in sorted(tree):
        data = tree[path]
        h = hashlib.sha256(data).hexdigest()
        if have.get(path) == h:
            files.append([path, len(data), h, "same"])
        else:
            files.append([path, len(data), h])
            body += data
    man = {"format": 1, "board": board, "micropython": micropython, "mpy": mpy,
           "version": version, "counter": int(counter),
           "legal": {"version": legal.VERSION, "checksum": legal_checksum(tree),
                     "changed": bool(legal_changed)},
           "files": files}
    if next_key is not None:
        try:
            ok = len(bytes.fromhex(next_key)) == 32
        except ValueError:
            ok = False
        if not ok:
            raise PackageError("next key: 64 hex digits (an Ed25519 public key)")
        man["next_key"] = next_key.lower()
    mbytes = json.dumps(man, separators=(",", ":"), sort_keys=True).encode()
    return _header(mbytes, []) + bytes(body)


def parse(data):
    """(header length, manifest dict, manifest bytes, [(key id, sig)], body bytes); PackageError."""
    if len(data) < 9 or data[:4] != MAGIC:
        raise PackageError("not an update package")
    n = int.from_bytes(data[4:8], "little")
    k = data[8]
    sigs = [(data[9 + 65 * i], data[10 + 65 * i:74 + 65 * i]) for i in range(k)]
    end = 9 + 65 * k + n
    mbytes = data[end - n:end]
    return end, json.loads(mbytes), mbytes, sigs, data[end:]


def with_manifest(data, man, sigs=()):
    """The package with another manifest (tests: tampering) and the given signatures."""
    _, _, _, _, body = parse(data)
    mbytes = json.dumps(man, separators=(",", ":"), sort_keys=True).encode()
    return _header(mbytes, list(sigs)) + body


def sign(data, private_key, key_id=KEY_FIRMWARE):
    """Add (or replace) the signature of key_id; private_key: cryptography Ed25519PrivateKey."""
    _, _, mbytes, sigs, body = parse(data)
    sigs = [s for s in sigs if s[0] != key_id] + [(key_id, private_key.sign(mbytes))]
    sigs.sort()
    return _header(mbytes, sigs) + body


def install(data, slot_dir):
    """Write a full package's files and manifest into slot_dir (the lab's factory deploy; the meter
    checks everything itself on an update)."""
    _, man, mbytes, _, body = parse(data)
    off = 0
    for f in man["files"]:
        if len(f) == 4:
            raise PackageError("a delta package cannot be deployed")
        part = body[off:off + f[1]]
        off += f[1]
        if hashlib.sha256(part).hexdigest() != f[2]:
            raise PackageError("%s does not match its hash" % f[0])
        path = os.path.join(slot_dir, f[0])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(part)
    with open(os.path.join(slot_dir, "manifest.json"), "wb") as fh:
        fh.write(mbytes)
    return man
