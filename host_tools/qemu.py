"""An emulated Cortex-M board: MicroPython's qemu port (images of host_tools/mcu_images.py) under
qemu-system-arm, its REPL on a pty of its own, driven with mpremote's serial transport.

    with QemuBoard("m3", files={"tests/mp/mpt_p1.py": path, ...}) as b:
        out = b.exec("import mpt_p1")           # stdout of the code; DeviceError on an exception
        b.soft_reset()                          # fresh interpreter, ROMFS and RAM disk mounted again

Files reach the device in a ROMFS image (.py compiled to .mpy for the core's architecture) that
qemu preloads into memory (`-device loader`); `boot()` mounts it at /rom, makes /rom the working
directory and puts tests/qemu (the test-only stand-ins for what the port lacks: time, select,
os.getenv/urandom) and tests/mp on sys.path. On the m3 image tests/qemu/qboot.py also mounts a
FAT RAM disk outside the heap at / (with /tmp). The port has no `mpremote mount` (no select) and no
`mpremote cp` (no writable filesystem), hence the ROMFS.

Parallel-safe: every board has its own qemu process, pty and temporary files; close() stops the
process (also on an exception, and at interpreter exit for a board never closed).
`icount=True` runs qemu with -icount shift=0: the virtual clock advances 1 ns per instruction, so
the MPS2 timer read by tests/qemu/insn.py counts ARM instructions (host_tools/bench_arm.py).
"""
import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading

from host_tools import mcu_images
from host_tools.romfs import build_romfs, tree  # noqa: F401 (tree: for callers)

ROOT = mcu_images.ROOT

# Where the ROMFS image is preloaded: MPS2-AN385 has 16 MB of PSRAM at 0x21000000 that the
# firmware does not use; the micro:bit has only its flash (set to 2 MB with -global: the frozen
# firmware's ELF image, text plus the load image of .data/.bss, reaches ~580 KB), so the image goes
# into the upper megabyte.
MACHINES = {
    "mps2-an385": {"romfs": (0x21000000, 8 << 20), "args": []},
    "microbit": {"romfs": (0x00100000, 1 << 20),
                 "args": ["-global", "nrf51-soc.flash-size=2097152", "-global", "nrf51-soc.sram-size=262144"]},
}

_live = set()


@atexit.register
def _stop_all():
    for b in list(_live):
        b.close()


class QemuError(Exception):
    pass


class DeviceError(QemuError):
    """The code raised an exception on the device; .output holds its stdout, .error the traceback."""

    def __init__(self, output, error):
        super().__init__(error.strip().splitlines()[-1] if error.strip() else "device error")
        self.output, self.error = output, error


def device_files():
    """{device path: host path} of the files the emulated boards' tests read, at their repository
    paths (the tests open e.g. "firmware/config/tariff.json" relative to /rom): the test-only
    stand-ins (tests/qemu), tests/mp, boards/ and the configuration files. Manifests stay out."""
    files = tree(os.path.join(ROOT, "tests", "qemu"), "tests/qemu")
    files.update(tree(os.path.join(ROOT, "tests", "mp"), "tests/mp"))
    files.update(tree(os.path.join(ROOT, "boards"), "boards"))
    files.update(tree(os.path.join(ROOT, "firmware", "config"), "firmware/config", (".json",)))
    return {d: h for d, h in files.items() if not d.endswith(("/manifest.py", "/_boot.py"))}


class QemuBoard:
    def __init__(self, image, files=None, icount=False, exec_timeout=300):
        self.image = image
        self.spec = mcu_images.QEMU_IMAGES[image]
        self.machine = MACHINES[self.spec["machine"]]
        self.files = dict(files or {})
        self.icount = icount
        self.exec_timeout = exec_timeout
        self.proc = self.transport = None
        self.tmp = None
        self.romfs_size = 0
        self.pty = None
        self._log = []

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        from mpremote.transport_serial import SerialTransport
        elf = mcu_images.build_qemu(self.image)
        self.tmp = tempfile.mkdtemp(prefix="meter-qemu-")
        args = ["qemu-system-arm", "-machine", self.spec["machine"], "-nographic", "-monitor", "none",
                "-semihosting", "-serial", "pty", "-kernel", elf] + self.machine["args"]
        if self.icount:
            args += ["-icount", "shift=0,align=off,sleep=off"]
        if self.files:
            addr, limit = self.machine["romfs"]
            img = os.path.join(self.tmp, "files.romfs")
            self.romfs_size = build_romfs(self.files, self.spec["arch"], img)
            if self.romfs_size > limit:
                raise QemuError("ROMFS image of %d B exceeds the %d B preload area" % (self.romfs_size, limit))
            args += ["-device", "loader,file=%s,addr=0x%x,force-raw=on" % (img, addr)]
        _live.add(self)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"(/dev/pts/\d+)", line)
        if not m:
            rest = self.proc.stdout.read() if self.proc.poll() is not None else ""
            self.close()
            raise QemuError("qemu did not offer a pty: %s%s" % (line, rest))
        self.pty = m.group(1)
        # keep draining qemu's own output so it never blocks on a full pipe
        threading.Thread(target=self._drain, daemon=True).start()
        self.transport = SerialTransport(self.pty, baudrate=115200)
        self.transport.enter_raw_repl(soft_reset=False)
        if self.files:
            self.boot()

    def _drain(self):
        for line in self.proc.stdout:
            self._log.append(line)

    def close(self):
        _live.discard(self)
        if self.transport is not None:
            try:
                self.transport.close()
            except OSError:
                pass
            self.transport = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def release(self):
        """Let another program (mpremote itself) open the pty; the board keeps running."""
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def reattach(self):
        from mpremote.transport_serial import SerialTransport
        self.transport = SerialTransport(self.pty, baudrate=115200)
        self.transport.enter_raw_repl(soft_reset=False)

    # ------------------------------------------------------------------ device access
    def exec(self, code, timeout=None):
        """Run `code` in the raw REPL; returns its stdout (str). DeviceError if it raised."""
        out, err = self.transport.exec_raw(code, timeout=timeout or self.exec_timeout)
        out = out.decode("utf-8", "replace").replace("\r\n", "\n")
        err = err.decode("utf-8", "replace").replace("\r\n", "\n")
        if err:
            raise DeviceError(out, err)
        return out

    def eval(self, expr):
        return eval(self.exec("print(repr(%s))" % expr).strip())

    def boot(self):
        """Mount the ROMFS at /rom and set the working directory and sys.path for the tests."""
        addr, _ = self.machine["romfs"]
        self.exec("import vfs, uctypes, sys, os\n"
                  "vfs.mount(vfs.VfsRom(uctypes.bytearray_at(0x%x, %d)), '/rom')\n"
                  "os.chdir('/rom')\n"
                  "sys.path[:] = ['', '.frozen', '/rom/tests/qemu', '/rom/tests/mp']\n"
                  "import qboot\n" % (addr, self.romfs_size))

    def soft_reset(self):
        """A fresh interpreter (the heap is swept, mounts are gone): mount everything again."""
        self.transport.exit_raw_repl()
        self.transport.enter_raw_repl(soft_reset=True)
        if self.files:
            self.boot()

    def heap(self):
        """(free, allocated) bytes of the GC heap after a collection."""
        out = self.exec("import gc\ngc.collect()\nprint(gc.mem_free(), gc.mem_alloc())")
        free, alloc = out.split()
        return int(free), int(alloc)
