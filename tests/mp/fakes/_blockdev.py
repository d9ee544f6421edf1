# A RAM block device with MicroPython's extended block protocol (readblocks/writeblocks with an
# offset, ioctl 4 = block count, 5 = block size, 6 = erase), behind the rp2 and esp32 fakes. The RAM
# is taken at the first access: a board only sizing the region (rp2.Flash().ioctl(4, 0)) costs none.
class RamBlocks:
    def __init__(self, size, block=4096):
        self.block = block
        self.size = size
        self._data = None

    def _mem(self):
        if self._data is None:
            self._data = bytearray(b"\xff" * self.size)
        return self._data

    def readblocks(self, n, buf, off=0):
        a = n * self.block + off
        buf[:] = self._mem()[a:a + len(buf)]

    def writeblocks(self, n, buf, off=0):
        a = n * self.block + off
        self._mem()[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return self.size // self.block
        if op == 5:
            return self.block
        if op == 6:
            a = arg * self.block
            self._mem()[a:a + self.block] = b"\xff" * self.block
            return 0
        return None
