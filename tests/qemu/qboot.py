# Test-only boot of the emulated boards, imported by host_tools/qemu.py after it mounted the ROMFS.
# On the m3 image (FAT compiled in) a FAT RAM disk is made and mounted at / (with /tmp), as a board's
# littlefs: the firmware and the tests need a writable filesystem, which the qemu port lacks. The disk lives in the MPS2-AN385's
# PSRAM above the ROMFS preload area, outside the GC heap, so heap figures stay those of a board.
import vfs
import uctypes

DISK_ADDR = 0x21800000
DISK_SIZE = 4 << 20
BLOCK = 512


class RamDisk:
    def __init__(self, addr, size):
        self.mem = memoryview(uctypes.bytearray_at(addr, size))
        self.count = size // BLOCK

    def readblocks(self, n, buf):
        o = n * BLOCK
        buf[:] = self.mem[o:o + len(buf)]

    def writeblocks(self, n, buf):
        o = n * BLOCK
        self.mem[o:o + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.count
        if op == 5:  # block size
            return BLOCK
        return 0


if hasattr(vfs, "VfsFat"):
    _disk = RamDisk(DISK_ADDR, DISK_SIZE)
    vfs.VfsFat.mkfs(_disk)
    vfs.mount(vfs.VfsFat(_disk), "/")
    import os
    os.mkdir("/tmp")
