# NOR flash emulators for tests and benches (not part of a board image): the board HAL `storage`
# contract (size, block_size, read, write with NOR semantics, erase) with power-cut injection.


class PowerCut(Exception):
    """Raised by the flash emulators when an injected power cut interrupts a write or erase."""


class RamFlash:
    """NOR flash emulator in RAM. Power cuts: set `cut_after` to the number of bytes the next
    writes may still program; the write that crosses it programs that prefix, leaves the bits set
    in `cut_bits` of the next byte unprogrammed (0xFF: the byte is untouched, else it is partly
    programmed) and raises PowerCut. `erase_cut` makes the next erase stop half way."""

    def __init__(self, size=256 * 1024, block_size=4096):
        if size % block_size:
            raise ValueError("size must be a multiple of block_size")
        self.size = size
        self.block_size = block_size
        self.mem = bytearray(size)
        ff = b"\xff" * block_size
        mv = memoryview(self.mem)
        for off in range(0, size, block_size):
            mv[off:off + block_size] = ff
        self.cut_after = -1
        self.cut_bits = 0xFF
        self.erase_cut = False
        self.writes = 0
        self.erases = [0] * (size // block_size)
        self.bytes_written = 0

    def read(self, offset, buf):
        n = len(buf)
        if offset < 0 or offset + n > self.size:
            raise ValueError("read out of range")
        buf[:] = self.mem[offset:offset + n]

    def write(self, offset, data):
        n = len(data)
        if offset < 0 or offset + n > self.size:
            raise ValueError("write out of range")
        mem = self.mem
        limit = n
        cut = False
        if self.cut_after >= 0:
            if n > self.cut_after:
                limit = self.cut_after
                cut = True
            self.cut_after -= limit
        for i in range(limit):
            mem[offset + i] &= data[i]
        self.writes += 1
        self.bytes_written += limit
        if cut:
            mem[offset + limit] &= data[limit] | self.cut_bits
            self.cut_after = -1
            raise PowerCut("power cut during write at %d+%d" % (offset, limit))

    def erase(self, block):
        if not 0 <= block < len(self.erases):
            raise ValueError("erase out of range")
        bs = self.block_size
        self.erases[block] += 1
        if self.erase_cut:
            self.erase_cut = False
            for i in range(block * bs, block * bs + bs // 2):
                self.mem[i] = 0xFF
            raise PowerCut("power cut during erase of block %d" % block)
        for i in range(block * bs, block * bs + bs):
            self.mem[i] = 0xFF


class FileFlash(RamFlash):
    """RamFlash persisted to a file (unix_sim board storage): every write/erase goes to the file."""

    def __init__(self, path, size=256 * 1024, block_size=4096):
        RamFlash.__init__(self, size, block_size)
        self.path = path
        try:
            with open(path, "rb") as f:
                data = f.read()
            if len(data) == size:
                self.mem[:] = data
            else:
                raise OSError
        except OSError:
            with open(path, "wb") as f:
                f.write(self.mem)
        self._f = open(path, "r+b")

    def _sync(self, offset, n):
        f = self._f
        f.seek(offset)
        f.write(self.mem[offset:offset + n])
        f.flush()

    def write(self, offset, data):
        try:
            RamFlash.write(self, offset, data)
        finally:
            self._sync(offset, len(data))

    def erase(self, block):
        try:
            RamFlash.erase(self, block)
        finally:
            self._sync(block * self.block_size, self.block_size)

    def close(self):
        self._f.close()
