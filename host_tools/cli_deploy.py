"""`deploy`: copy the firmware onto a board running stock MicroPython, with mpremote.

    python -m host_tools deploy --board rp2040 [--port /dev/ttyACM0] [--no-compile] [--dry-run]

What goes onto the board's filesystem:
    /main.py                      firmware/main.py
    /board.py                     boards/<board>/board.py (pins, wiring, calibration)
    /mcu.py                       boards/mcu.py (HAL pieces shared by the MCU boards)
    /meter/*.mpy                  firmware/meter/ compiled with mpy-cross (or .py with --no-compile)
    /config/*.json                firmware/config/ (tariff calendar, options)
    /lib/metercrypto.mpy          build/natmod/<arch>/metercrypto.mpy (`make natmod`), unless the
                                  board's firmware has metercrypto built in (--builtin-crypto)
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCH = {"rp2040": "armv6m", "esp32": "xtensawin", "esp32c3": "rv32imc"}
MPY_CROSS = os.path.join(ROOT, "build", "mpsrc", "micropython", "mpy-cross", "build", "mpy-cross")


def register(sub):
    p = sub.add_parser("deploy", help="put the firmware on a board with mpremote")
    p.add_argument("--board", required=True, choices=sorted(ARCH))
    p.add_argument("--port", default="auto", help="serial port of the board (default: mpremote auto)")
    p.add_argument("--no-compile", action="store_true", help="copy .py sources instead of .mpy")
    p.add_argument("--builtin-crypto", action="store_true",
                   help="the board firmware has metercrypto compiled in (cmake user module)")
    p.add_argument("--dry-run", action="store_true", help="print the mpremote commands only")
    p.set_defaults(func=run)


def plan(board, port="auto", compile_=True, builtin_crypto=False, staging=None):
    """The list of (local path, remote path) copies and the mpremote argument lists."""
    board_dir = "esp32" if board.startswith("esp32") else board
    copies = [(os.path.join(ROOT, "firmware", "main.py"), ":main.py"),
              (os.path.join(ROOT, "boards", board_dir, "board.py"), ":board.py"),
              (os.path.join(ROOT, "boards", "mcu.py"), ":mcu.py")]
    for src in sorted(glob.glob(os.path.join(ROOT, "firmware", "meter", "**", "*.py"), recursive=True)):
        rel = os.path.relpath(src, os.path.join(ROOT, "firmware"))
        if compile_ and staging:
            out = os.path.join(staging, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.check_call([MPY_CROSS, "-march=" + ("armv6m" if board == "rp2040" else ARCH[board]),
                                   "-o", out, src])
            copies.append((out, ":" + rel[:-3] + ".mpy"))
        else:
            copies.append((src, ":" + rel))
    for src in sorted(glob.glob(os.path.join(ROOT, "firmware", "config", "*.json"))):
        copies.append((src, ":config/" + os.path.basename(src)))
    if not builtin_crypto:
        mpy = os.path.join(ROOT, "build", "natmod", ARCH[board], "metercrypto.mpy")
        copies.append((mpy, ":lib/metercrypto.mpy"))
    dirs = sorted({os.path.dirname(r[1:]) for _, r in copies if "/" in r})
    conn = [] if port == "auto" else ["connect", port]
    cmds = []
    for d in dirs:
        parts = d.split("/")
        for i in range(1, len(parts) + 1):
            cmd = conn + ["fs", "mkdir", ":" + "/".join(parts[:i])]
            if cmd not in cmds:
                cmds.append(cmd)
    for src, dst in copies:
        cmds.append(conn + ["fs", "cp", src, dst])
    cmds.append(conn + ["reset"])
    return copies, cmds


def run(args):
    staging = tempfile.mkdtemp(prefix="meter-deploy-")
    try:
        compile_ = not args.no_compile and os.path.exists(MPY_CROSS) and not args.dry_run
        copies, cmds = plan(args.board, args.port, compile_, args.builtin_crypto, staging)
        missing = [s for s, _ in copies if not os.path.exists(s)]
        if missing and not args.dry_run:
            print("deploy: missing files (run `make natmod` for metercrypto.mpy):", file=sys.stderr)
            for m in missing:
                print("  " + m, file=sys.stderr)
            return 2
        mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
        for c in cmds:
            print("mpremote " + " ".join(c))
            if not args.dry_run:
                r = subprocess.run([mpremote] + c)
                if r.returncode != 0 and c[-2:-1] != ["mkdir"] and "mkdir" not in c:
                    return r.returncode
        return 0
    finally:
        shutil.rmtree(staging, ignore_errors=True)
