"""The RP2040 product image: MicroPython 1.25's rp2 port for the Raspberry Pi Pico (BOARD=RPI_PICO)
with the firmware frozen in (boards/rp2040/manifest.py) and metercrypto compiled in
(firmware/metercrypto/micropython.cmake). `make images` runs it; build/mcu/rp2040/ gets
firmware.uf2, firmware.elf and firmware.map, and the figures are printed.

Pinned inputs, all from Debian trixie through host_tools/setup/debian_src.sh (private apt
configuration, files checked against the signed archive index):
    micropython 1.25.0+ds-1   the same source as every other build (build/mpsrc/micropython)
    pico-sdk-source 2.1.1-1   the SDK version MicroPython 1.25 pins (lib/pico-sdk = 2.1.1)
    tinyusb-source 0.18.0+dfsg-1
                              MicroPython 1.25 pins tinyusb 0.17.0 (lib/tinyusb at 5217cee5,
                              the 0.17.0 release); Debian has 0.18.0 only, the version
                              pico-sdk 2.1.1 itself pins. Used as it is.
    picotool 2.1.1+dfsg-1     upstream tarball, built without USB (UF2 conversion only): the SDK
                              would otherwise download it at configure time.
    mbedtls 3.6.6             upstream tarball: the rp2 port always links mbedtls (its `ssl`,
                              hashlib); MicroPython 1.25 pins a 3.6 LTS commit (107ea89d).
The archive mirror here lacks the Debian packaging files of the pico-sdk/tinyusb/picotool source
packages, so the binary *-source packages (the same trees) and picotool's upstream tarball are used.

The MicroPython source stays untouched: the rp2 port reads its SDK and tinyusb from lib/ of its
own tree, so the build runs in a tree of symlinks (build/rp2src) whose lib/pico-sdk,
lib/tinyusb and lib/mbedtls point at the Debian trees; cmake builds out of tree (build/obj-rp2040).
"""
import os
import shutil
import subprocess
import sys

from host_tools import mcu_images
from host_tools.mcu_images import ROOT, MPSRC, BuildError

PINS = {"pico-sdk-source": "2.1.1-1", "tinyusb-source": "0.18.0+dfsg-1", "picotool": "2.1.1+dfsg-1",
        "mbedtls": "3.6.6-0.1~deb13u1"}
SDK = os.path.join(ROOT, "build", "mpsrc", "pico", "usr", "src", "pico-sdk")
TUSB = os.path.join(ROOT, "build", "mpsrc", "tinyusb", "usr", "src", "tinyusb")
MBEDTLS = os.path.join(ROOT, "build", "mpsrc", "mbedtls")
PICOTOOL_SRC = os.path.join(ROOT, "build", "mpsrc", "picotool")
PICOTOOL = os.path.join(ROOT, "build", "obj-picotool")
TREE = os.path.join(ROOT, "build", "rp2src")
OBJ = os.path.join(ROOT, "build", "obj-rp2040")
OUT = os.path.join(ROOT, "build", "mcu", "rp2040")
MANIFEST = os.path.join(ROOT, "boards", "rp2040", "manifest.py")
FLASH_BYTES = 2 * 1024 * 1024  # the Pico's W25Q16
STORAGE_BYTES = 1408 * 1024  # MICROPY_HW_FLASH_STORAGE_BYTES of RPI_PICO


def _run(cmd, what, cwd=None):
    # the frozen code is compiled by the project's mpy-cross (same source), not a second build
    env = dict(os.environ, MICROPY_MPYCROSS=mcu_images.MPY_CROSS)
    r = subprocess.run(["nice"] + cmd, capture_output=True, text=True, cwd=cwd or ROOT, env=env)
    if r.returncode:
        raise BuildError("%s failed:\n%s%s" % (what, r.stdout[-4000:], r.stderr[-4000:]))
    return r.stdout


def fetch():
    script = os.path.join(ROOT, "host_tools", "setup", "debian_src.sh")
    for pkg, dest, mode in (("pico-sdk-source", "pico", "deb"), ("tinyusb-source", "tinyusb", "deb"),
                            ("picotool", "picotool", "orig"), ("mbedtls", "mbedtls", "orig")):
        env = dict(os.environ, MODE=mode)
        r = subprocess.run(["sh", script, pkg, PINS[pkg], os.path.join("build", "mpsrc", dest)], cwd=ROOT,
                           env=env, capture_output=True, text=True)
        if r.returncode:
            raise BuildError("fetching %s %s failed:\n%s%s" % (pkg, PINS[pkg], r.stdout, r.stderr))


def build_picotool():
    """picotool without USB, installed into build/obj-picotool/install (its cmake package)."""
    inst = os.path.join(PICOTOOL, "install")
    cfg = os.path.join(inst, "lib", "cmake", "picotool")
    if os.path.exists(os.path.join(cfg, "picotoolConfig.cmake")):
        return cfg
    _run(["cmake", "-S", PICOTOOL_SRC, "-B", PICOTOOL, "-DPICO_SDK_PATH=" + SDK, "-DPICOTOOL_NO_LIBUSB=1",
          "-DCMAKE_INSTALL_PREFIX=" + inst, "-DCMAKE_BUILD_TYPE=Release"], "configuring picotool")
    _run(["cmake", "--build", PICOTOOL, "-j2"], "building picotool")
    _run(["cmake", "--install", PICOTOOL], "installing picotool")
    return cfg


def symlink_tree():
    """build/rp2src: MicroPython's tree as symlinks, with lib/pico-sdk and lib/tinyusb replaced."""
    stamp = os.path.join(TREE, ".tree-ok")
    if os.path.exists(stamp):
        return TREE
    shutil.rmtree(TREE, ignore_errors=True)
    _run(["cp", "-as", MPSRC, TREE], "making the rp2 source tree")
    for name, target in (("pico-sdk", SDK), ("tinyusb", TUSB), ("mbedtls", MBEDTLS)):
        link = os.path.join(TREE, "lib", name)
        shutil.rmtree(link, ignore_errors=True)
        os.symlink(target, link)
    # Debian's +ds source keeps a subset of micropython-lib; the image requires none of it, but
    # the build insists on an initialised submodule (its README.md)
    readme = os.path.join(TREE, "lib", "micropython-lib", "README.md")
    with open(readme, "w") as f:
        f.write("micropython-lib subset of Debian's micropython 1.25.0+ds source (not a checkout)\n")
    open(stamp, "w").close()
    return TREE


def build():
    fetch()
    cfg = build_picotool()
    tree = symlink_tree()
    os.makedirs(OBJ, exist_ok=True)
    args = ["cmake", "-S", os.path.join(tree, "ports", "rp2"), "-B", OBJ, "-DMICROPY_BOARD=RPI_PICO",
            "-DPICO_BUILD_DOCS=0", "-Dpicotool_DIR=" + cfg,
            "-DUSER_C_MODULES=" + os.path.join(ROOT, "firmware", "metercrypto", "micropython.cmake"),
            "-DMICROPY_FROZEN_MANIFEST=" + MANIFEST]
    mcu_images._fresh_if_changed(OBJ, args)
    _run(args, "configuring the rp2 port")
    _run(["cmake", "--build", OBJ, "-j%d" % (os.cpu_count() or 2)], "building the RP2040 image")
    os.makedirs(OUT, exist_ok=True)
    for ext in ("uf2", "elf", "elf.map", "bin"):
        src = os.path.join(OBJ, "firmware." + ext)
        if os.path.exists(src):
            shutil.copy2(src, os.path.join(OUT, "firmware." + ext))
    return os.path.join(OUT, "firmware.elf")


def figures(elf):
    """{flash, heap, ...}: the image's flash use and the GC heap the rp2 port gives at boot (its
    main.c: gc_init(&__GcHeapStart, &__GcHeapEnd), the RAM between .bss and the stacks)."""
    syms = mcu_images.symbols(elf)
    text, data, bss = mcu_images.section_sizes(elf)
    fig = {"text": text, "data": data, "bss": bss, "flash": text + data,
           "uf2": os.path.getsize(elf[:-3] + "uf2") if os.path.exists(elf[:-3] + "uf2") else 0}
    if "__GcHeapStart" in syms and "__GcHeapEnd" in syms:
        fig["heap"] = syms["__GcHeapEnd"] - syms["__GcHeapStart"]
    fig["flash_free_for_fs"] = FLASH_BYTES - STORAGE_BYTES - fig["flash"]
    return fig


def check_uf2(path):
    """(blocks, payload bytes) of a UF2 file for the RP2040, checking every block's magic numbers,
    the RP2040 family ID (0xe48bff56) and that the payload lands in the XIP flash window."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % 512:
        raise BuildError("%s: not a whole number of 512-byte UF2 blocks" % path)
    n = len(data) // 512
    total = 0
    for i in range(n):
        m0, m1, flags, addr, size, seq, count, family = struct.unpack_from("<8I", data, i * 512)
        end, = struct.unpack_from("<I", data, i * 512 + 508)
        if (m0, m1, end) != (0x0A324655, 0x9E5D5157, 0x0AB16F30) or seq != i or count != n:
            raise BuildError("%s: block %d is not a valid UF2 block" % (path, i))
        if not flags & 0x2000 or family != 0xE48BFF56 or not 0x10000000 <= addr < 0x10000000 + FLASH_BYTES:
            raise BuildError("%s: block %d is not for the RP2040's flash" % (path, i))
        total += size
    return n, total


def main(argv=None):
    elf = build()
    fig = figures(elf)
    print("rp2040 image: %s" % os.path.relpath(os.path.join(OUT, "firmware.uf2"), ROOT))
    print("  flash used by the image (text+data): %d B of %d B before the %d KB filesystem region (%d B left)"
          % (fig["flash"], FLASH_BYTES - STORAGE_BYTES, STORAGE_BYTES // 1024, fig["flash_free_for_fs"]))
    blocks, payload = check_uf2(os.path.join(OUT, "firmware.uf2"))
    print("  UF2 file: %d B, %d blocks for the RP2040 family, %d B of flash payload" % (fig["uf2"], blocks, payload))
    if "heap" in fig:
        print("  GC heap (__GcHeapEnd - __GcHeapStart): %d B" % fig["heap"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
