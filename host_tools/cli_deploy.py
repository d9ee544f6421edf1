"""`deploy`: put the firmware on a board, on the path that fits the board's heap.

    python -m host_tools deploy --board rp2040|esp32|esp32c3 [--port P] [--method image|romfs|mpy]
                                [--image FILE] [--drive DIR] [--skip-flash] [--builtin-crypto]
                                [--no-reset] [--force] [--dry-run]

Paths (default: `image` when a product image exists for the board, else refused with figures):
  image  Flash the product image, where the firmware is frozen (bytecode stays in flash: importing
         the app costs ~31 KB of heap), then copy only the configuration (firmware/config/*.json
         -> /config/) and the boot selector. Keys and identity: `python -m host_tools provision`.
         RP2040: build/mcu/rp2040/firmware.uf2 (`make images`); `mpremote bootloader` restarts the
         board into its USB boot drive (RPI-RP2) and the UF2 is copied there (--drive, or found
         under /media and /run/media). ESP32: an ESP-IDF build of boards/esp32 (--image
         .../firmware.bin), written with esptool at 0x1000. --skip-flash: the board already runs
         the image (configuration only).
  romfs  For a board whose MicroPython 1.25 has a ROMFS partition (`mpremote romfs query`): the
         firmware (.mpy, with board.py and mcu.py) as a ROMFS image (`mpremote romfs deploy`),
         main.py and the configuration on the filesystem. Bytecode runs in place from a memory-
         mapped ROMFS on the real ports (not measured here; on the emulated M3, which copies it,
         the import costs 52 KB).
  mpy    The firmware as .mpy files on the filesystem: code objects live in the heap. Refused
         when the measured cost (import on the 32-bit build + the app's objects + a margin, see
         host_tools/board_heap.py) exceeds the board's heap (low figure of its range); --force
         copies anyway. Also needs the metercrypto natmod (`make natmod`) unless --builtin-crypto.

Every path puts the boot selector firmware/bootsel.py beside main.py (/bootsel.py, not swapped by
an update: services/update.py): without it an update's slots would never be selected.
--dry-run prints exactly the commands a real run executes (the .mpy files it compiled, the ROMFS
image it built) and what is missing (the product image, the natmod), without touching a board.
Every mpremote call starts with `resume` (no soft reset: a board keeps its mounts and state).
"""
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from host_tools import board_heap
from host_tools.mcu_images import MPY_CROSS, ROOT
from host_tools.update.package import FIXED

ARCH = {"rp2040": "armv6m", "esp32": "xtensawin", "esp32c3": "rv32imc"}
UF2 = os.path.join(ROOT, "build", "mcu", "rp2040", "firmware.uf2")
CONFIG = os.path.join(ROOT, "firmware", "config")


class DeployError(Exception):
    pass


def register(sub):
    p = sub.add_parser("deploy", help="put the firmware on a board (product image, ROMFS or .mpy)")
    p.add_argument("--board", required=True, choices=sorted(ARCH))
    p.add_argument("--port", default="auto", help="serial port of the board (default: mpremote auto)")
    p.add_argument("--method", choices=("image", "romfs", "mpy"), help="default: image")
    p.add_argument("--image", help="product image file (default for rp2040: build/mcu/rp2040/firmware.uf2)")
    p.add_argument("--drive", help="RP2040 boot drive mount point (default: search /media, /run/media)")
    p.add_argument("--skip-flash", action="store_true", help="image path: the board runs it already")
    p.add_argument("--builtin-crypto", action="store_true",
                   help="mpy path: the board's MicroPython has metercrypto compiled in")
    p.add_argument("--no-reset", action="store_true", help="leave the board in its REPL at the end")
    p.add_argument("--force", action="store_true", help="mpy path: copy even if it will not fit the heap")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.set_defaults(func=run)


def _conn(port):
    return ([] if port == "auto" else ["connect", port]) + ["resume"]


def _mkdirs(dirs):
    """One mpremote `exec` creating directories (existing ones are fine)."""
    code = "import os\nfor d in %s:\n    try:\n        os.mkdir(d)\n    except OSError:\n        pass\n" % (
        json.dumps(sorted(dirs, key=lambda d: d.count("/"))),)
    return ["exec", code]


def fixed_files(frozen_main=False):
    """{remote path: local file} of the fixed part beside the slots: main.py (unless the image
    has it frozen) and the boot selector, copied as source like main.py."""
    return {name: os.path.join(ROOT, "firmware", name) for name in FIXED
            if not (frozen_main and name == "main.py")}


def config_steps(port, extra=None):
    """The configuration (and `extra` {remote: local} files) in one mpremote call."""
    files = sorted(glob.glob(os.path.join(CONFIG, "*.json")))
    cmd = _conn(port) + _mkdirs(["/config"])
    for f in files:
        cmd += ["+", "fs", "cp", f, ":/config/" + os.path.basename(f)]
    for rem in sorted(extra or ()):
        cmd += ["+", "fs", "cp", extra[rem], ":/" + rem]
    return [("mpremote", cmd)]


def find_drive():
    for base in ("/media", "/run/media"):
        for p in glob.glob(os.path.join(base, "*", "RPI-RP2")) + glob.glob(os.path.join(base, "RPI-RP2")):
            return p
    return None


def plan_image(args):
    """[(tool, argv)] of the image path; raises DeployError when the image is missing."""
    steps = []
    if not args.skip_flash:
        image = args.image or (UF2 if args.board == "rp2040" else None)
        if not image:
            raise DeployError("no product image for %s: build boards/%s with ESP-IDF (boards/esp32/README.md) "
                              "and pass --image .../firmware.bin" % (args.board, "esp32"))
        if not os.path.exists(image):
            raise DeployError("product image %s missing%s" % (image, " (run `make images`)"
                                                              if image == UF2 else ""))
        if args.board == "rp2040":
            drive = args.drive or find_drive() or "/media/$USER/RPI-RP2"
            steps.append(("mpremote", _conn(args.port) + ["bootloader"]))
            steps.append(("wait-drive", [drive]))
            steps.append(("copy", [image, os.path.join(drive, os.path.basename(image))]))
            steps.append(("wait-port", [args.port]))
        else:
            port = args.port if args.port != "auto" else "/dev/ttyUSB0"
            steps.append(("esptool", ["--chip", args.board, "--port", port, "write_flash", "-z", "0x1000", image]))
    return steps + config_steps(args.port, fixed_files(frozen_main=True))


def _compile(src, out, arch):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run([MPY_CROSS, "-march=" + arch, "-o", out, "-s", os.path.basename(src), src],
                   check=True, capture_output=True)


def firmware_files(board, staging):
    """{remote path: local .mpy}: the meter tree (without the simulation hooks), board.py, mcu.py."""
    out = {}
    base = os.path.join(ROOT, "firmware")
    for src in sorted(glob.glob(os.path.join(base, "meter", "**", "*.py"), recursive=True)):
        rel = os.path.relpath(src, base).replace(os.sep, "/")
        if rel == "meter/app/sim.py":
            continue
        dst = os.path.join(staging, rel[:-3] + ".mpy")
        _compile(src, dst, ARCH[board])
        out[rel[:-3] + ".mpy"] = dst
    bdir = "esp32" if board.startswith("esp32") else board
    for rel, src in (("board.py", os.path.join(ROOT, "boards", bdir, "board.py")),
                     ("mcu.py", os.path.join(ROOT, "boards", "mcu.py"))):
        dst = os.path.join(staging, rel[:-3] + ".mpy")
        _compile(src, dst, ARCH[board])
        out[rel[:-3] + ".mpy"] = dst
    return out


def plan_mpy(args, staging):
    files = firmware_files(args.board, staging)
    files.update(fixed_files())
    missing = []
    if not args.builtin_crypto:
        natmod = os.path.join(ROOT, "build", "natmod", ARCH[args.board], "metercrypto.mpy")
        if not os.path.exists(natmod):
            missing.append("%s (run `make natmod`%s)" % (
                os.path.relpath(natmod, ROOT), "; xtensawin needs ESP-IDF's toolchain" if args.board == "esp32" else ""))
        files["lib/metercrypto.mpy"] = natmod
    dirs = {os.path.dirname(r) for r in files if "/" in r}
    parents = set()
    for d in dirs:
        parts = d.split("/")
        parents.update("/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1))
    cmd = _conn(args.port) + _mkdirs(parents)
    for rem in sorted(files):
        cmd += ["+", "fs", "cp", files[rem], ":/" + rem]
    return [("mpremote", cmd)] + config_steps(args.port), missing


def plan_romfs(args, staging):
    from host_tools.romfs import build_romfs
    files = firmware_files(args.board, os.path.join(staging, "fw"))
    image = os.path.join(staging, "meter.romfs")
    build_romfs(files, ARCH[args.board], image)
    cmd = _conn(args.port) + ["romfs", "deploy", image]
    return [("mpremote", _conn(args.port) + ["romfs", "query"]), ("mpremote", cmd)] + \
        config_steps(args.port, fixed_files())


def fit_report(board):
    """(fits, text) for the plain .mpy path on `board`, with the figures."""
    cost = board_heap.mpy_import_cost()
    need = board_heap.need_bytes(cost)
    low, high = board_heap.BOARDS[board]["heap"]
    frozen = board_heap.need_bytes(board_heap.FROZEN_IMPORT)
    text = ("heap: the firmware as .mpy needs about %d KB (import %d B measured on the 32-bit build + %d B of "
            "app objects + %d B margin); a %s has %d-%d KB (%s). Frozen in the product image it needs about "
            "%d KB." % (need // 1024, cost, board_heap.APP_OBJECTS, board_heap.WORKING_MARGIN, board,
                        low // 1024, high // 1024, board_heap.BOARDS[board]["source"], frozen // 1024))
    return need <= low, text


def _print_step(tool, argv):
    if tool == "mpremote":
        print(shlex.join(["mpremote"] + argv))
    elif tool == "esptool":
        print(shlex.join(["esptool.py"] + argv))
    elif tool == "copy":
        print(shlex.join(["cp"] + argv))
    elif tool == "wait-drive":
        print("# wait for the boot drive %s" % argv[0])
    elif tool == "wait-port":
        print("# wait for the board's serial port to come back")


def execute(steps, runner=None):
    """Run the steps; `runner(tool, argv)` -> exit status (tests pass a recorder)."""
    runner = runner or _run_step
    for tool, argv in steps:
        _print_step(tool, argv)
        rc = runner(tool, argv)
        if rc:
            return rc
    return 0


def _run_step(tool, argv):
    import time
    if tool == "mpremote":
        return subprocess.run([os.path.join(os.path.dirname(sys.executable), "mpremote")] + argv).returncode
    if tool == "esptool":
        return subprocess.run([sys.executable, "-m", "esptool"] + argv).returncode
    if tool == "copy":
        shutil.copyfile(argv[0], argv[1])
        return 0
    if tool in ("wait-drive", "wait-port"):
        path = os.path.expandvars(argv[0])
        for _ in range(300):
            if tool == "wait-port" or os.path.isdir(path):
                time.sleep(3 if tool == "wait-port" else 0)
                return 0
            time.sleep(0.1)
        print("deploy: %s did not appear" % path, file=sys.stderr)
        return 1
    raise DeployError("unknown step " + tool)


def run(args, runner=None):
    method = args.method or "image"
    staging = tempfile.mkdtemp(prefix="meter-deploy-")
    try:
        missing = []
        try:
            if method == "image":
                steps = plan_image(args)
                print("# path: product image (firmware frozen in flash), then configuration only")
            elif method == "romfs":
                steps = plan_romfs(args, staging)
                print("# path: ROMFS image of the firmware (needs a ROMFS partition: `romfs query` checks)")
            else:
                fits, text = fit_report(args.board)
                print("# " + text)
                if not fits and not args.force:
                    print("deploy: refused: the firmware as .mpy files will not fit the %s heap. Flash the "
                          "product image (--method image) or deploy a ROMFS image (--method romfs); "
                          "--force copies anyway." % args.board, file=sys.stderr)
                    return 3
                steps, missing = plan_mpy(args, staging)
                print("# path: .mpy files on the filesystem")
        except DeployError as e:
            print("deploy: " + str(e), file=sys.stderr)
            return 2
        if not args.no_reset:
            steps.append(("mpremote", _conn(args.port) + ["reset"]))
        if missing:
            for m in missing:
                print("deploy: missing " + m, file=sys.stderr)
        if args.dry_run:
            for tool, argv in steps:
                _print_step(tool, argv)
            return 2 if missing else 0
        if missing:
            return 2
        return execute(steps, runner)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
