"""ROMFS images (MicroPython 1.25's read-only filesystem in memory-mapped flash): the emulated
boards' test files (host_tools/qemu.py) and the firmware for `deploy --method romfs`.

    build_romfs({device path: host path}, arch, out_path) -> size     .py compiled for `arch`
    tree(host_dir, device_dir, exts=(".py",)) -> {device path: host path}
"""
import contextlib
import io
import os
import shutil
import subprocess
import tempfile

from host_tools import mcu_images


class RomfsError(Exception):
    pass


def build_romfs(files, arch, out_path):
    """Write a ROMFS image of `files` ({device path: host path}) to out_path, .py files compiled
    to .mpy with mpy-cross for `arch`. Returns the image size."""
    from mpremote.romfs import make_romfs
    stage = tempfile.mkdtemp(prefix="meter-romfs-")
    try:
        for dev, host in files.items():
            dst = os.path.join(stage, dev)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if host.endswith(".py"):
                dst = dst[:-3] + ".mpy"
                r = subprocess.run([mcu_images.MPY_CROSS, "-march=" + arch, "-o", dst, "-s",
                                    os.path.basename(dev), host], capture_output=True, text=True)
                if r.returncode:
                    raise RomfsError("mpy-cross %s: %s" % (host, r.stderr.strip()))
            else:
                shutil.copyfile(host, dst)
        with contextlib.redirect_stdout(io.StringIO()):  # make_romfs prints the tree
            image = make_romfs(stage, mpy_cross=False)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    with open(out_path, "wb") as f:
        f.write(image)
    return len(image)


def tree(host_dir, dev_dir, exts=(".py",)):
    """{device path: host path} of the files under host_dir with the given extensions."""
    out = {}
    for d, subdirs, names in os.walk(host_dir):
        subdirs[:] = sorted(s for s in subdirs if s != "__pycache__")
        for n in sorted(names):
            if n.endswith(exts):
                host = os.path.join(d, n)
                out[dev_dir + "/" + os.path.relpath(host, host_dir).replace(os.sep, "/")] = host
    return out


