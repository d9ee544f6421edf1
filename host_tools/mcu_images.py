"""Build recipes of the MicroPython images for microcontrollers, from the project's one MicroPython
source (build/mpsrc/micropython, fetched by host_tools/setup/micropython_src.sh).

    python -m host_tools.mcu_images qemu          the emulated Cortex-M test images (make setup)
    python -m host_tools.mcu_images rp2040        the Raspberry Pi Pico product image (make images)
    python -m host_tools.mcu_images sizes         flash size and heap of every built image

Emulated boards (MicroPython's qemu port, run by host_tools/qemu.py in `make test`):

    name     board       core        metercrypto   firmware frozen   extra
    m3       MPS2_AN385  Cortex-M3   compiled in   yes               FAT (a RAM disk in tests)
    m3-nomc  MPS2_AN385  Cortex-M3   -             -                 loads the armv7m natmod
    m0       MICROBIT    Cortex-M0   compiled in   yes               native emitter on: loads the
                                                                     armv6m natmod (as another name)

Every build runs out of tree (BUILD=build/obj-<image>): the shared MicroPython source is never
written to. make is incremental, so a call with nothing changed takes about a second per image;
builds of one image are serialised with a lock file (pytest-xdist workers may ask together).
"""
import fcntl
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPSRC = os.path.join(ROOT, "build", "mpsrc", "micropython")
MPY_CROSS = os.path.join(MPSRC, "mpy-cross", "build", "mpy-cross")
OUT = os.path.join(ROOT, "build", "mcu")
QEMU_MANIFEST = os.path.join(ROOT, "tests", "qemu", "manifest.py")
# The qemu port's MICROBIT build leaves the native emitter off, so it refuses every natmod.
_EMIT_THUMB = "-DMICROPY_EMIT_THUMB=1 -DMICROPY_EMIT_INLINE_THUMB=1"

QEMU_IMAGES = {
    "m3": {"board": "MPS2_AN385", "machine": "mps2-an385", "arch": "armv7m", "cmod": True,
           "manifest": QEMU_MANIFEST, "cmods": ["tests/qemu/fatglue"],
           "make": ["MICROPY_VFS_FAT=1", "CFLAGS_EXTRA=-DMICROPY_FATFS_NORTC=1 -DMICROPY_FATFS_RPATH=2 -DMICROPY_FATFS_ENABLE_LFN=1"]},
    "m3-nomc": {"board": "MPS2_AN385", "machine": "mps2-an385", "arch": "armv7m", "cmod": False,
                "manifest": "", "make": []},
    "m0": {"board": "MICROBIT", "machine": "microbit", "arch": "armv6m", "cmod": True,
           "manifest": QEMU_MANIFEST, "make": ["CFLAGS_EXTRA=" + _EMIT_THUMB]},
}


class BuildError(Exception):
    pass


def _run_make(args, what):
    r = subprocess.run(["nice", "make", "-s", "-j%d" % (os.cpu_count() or 2)] + args,
                       capture_output=True, text=True)
    if r.returncode:
        raise BuildError("building %s failed:\n%s%s" % (what, r.stdout[-3000:], r.stderr[-3000:]))


def _fresh_if_changed(obj, args):
    """make does not track its command line: a build directory whose flags changed starts over."""
    stamp = os.path.join(obj, ".make-args")
    text = "\n".join(args) + "\n"
    old = None
    if os.path.exists(stamp):
        with open(stamp) as f:
            old = f.read()
    if old != text:
        for n in os.listdir(obj):
            if n != ".lock":
                p = os.path.join(obj, n)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        with open(stamp, "w") as f:
            f.write(text)


def _cmod_dir(obj, dirs):
    """USER_C_MODULES takes one directory whose subdirectories are the modules: one of symlinks."""
    d = os.path.join(obj + "-cmods")
    os.makedirs(d, exist_ok=True)
    for rel in dirs:
        link = os.path.join(d, os.path.basename(rel))
        if not os.path.islink(link):
            os.symlink(os.path.join(ROOT, rel), link)
    return d


def qemu_elf(name):
    return os.path.join(OUT, "qemu-" + name, "firmware.elf")


_checked = set()  # images this process already brought up to date


def build_qemu(name):
    """Build (incrementally) the qemu image `name` of QEMU_IMAGES; returns its firmware.elf."""
    if name in _checked and os.path.exists(qemu_elf(name)):
        return qemu_elf(name)
    spec = QEMU_IMAGES[name]
    obj = os.path.join(ROOT, "build", "obj-qemu-" + name)
    os.makedirs(obj, exist_ok=True)
    with open(os.path.join(obj, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        args = ["-C", os.path.join(MPSRC, "ports", "qemu"), "BOARD=" + spec["board"], "BUILD=" + obj,
                "FROZEN_MANIFEST=" + spec["manifest"]] + spec["make"]
        cmods = (["firmware/metercrypto"] if spec["cmod"] else []) + spec.get("cmods", [])
        if cmods:
            args.append("USER_C_MODULES=" + _cmod_dir(obj, cmods))
        _fresh_if_changed(obj, args)
        _run_make(args, "the qemu image " + name)
        built = os.path.join(obj, "firmware.elf")
        dest = qemu_elf(name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if not os.path.exists(dest) or os.path.getmtime(built) != os.path.getmtime(dest):
            shutil.copy2(built, dest + ".tmp")
            shutil.copy2(os.path.join(obj, "firmware.map"), os.path.join(os.path.dirname(dest), "firmware.map"))
            os.replace(dest + ".tmp", dest)
    _checked.add(name)
    return dest


def build_all_qemu():
    return [build_qemu(n) for n in QEMU_IMAGES]


def symbols(elf):
    """{name: address} of an ELF's symbols (arm-none-eabi-nm)."""
    out = subprocess.run(["arm-none-eabi-nm", elf], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return syms


def section_sizes(elf):
    """(text, data, bss) in bytes (arm-none-eabi-size, Berkeley format)."""
    out = subprocess.run(["arm-none-eabi-size", elf], capture_output=True, text=True, check=True).stdout
    text, data, bss = (int(x) for x in out.splitlines()[1].split()[:3])
    return text, data, bss


def qemu_heap(name):
    """The GC heap of a qemu image in bytes: the size of main.c's static gc_heap array."""
    out = subprocess.run(["arm-none-eabi-nm", "-S", qemu_elf(name)], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == "gc_heap":
            return int(parts[1], 16)
    raise BuildError("no gc_heap symbol in " + qemu_elf(name))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    what = argv[0] if argv else "qemu"
    if what == "qemu":
        for n in QEMU_IMAGES:
            print("build: qemu image %s (%s)" % (n, QEMU_IMAGES[n]["board"]))
            build_qemu(n)
    elif what == "rp2040":
        from host_tools import rp2040_image
        rp2040_image.main(argv[1:])
    elif what == "sizes":
        for n in QEMU_IMAGES:
            if os.path.exists(qemu_elf(n)):
                text, data, bss = section_sizes(qemu_elf(n))
                print("qemu %-8s flash %7d B (text+data)  heap %7d B" % (n, text + data, qemu_heap(n)))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
