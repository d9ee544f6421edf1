# A fake `rp2` with the argument rules of ports/rp2/rp2_flash.c (MicroPython 1.25): start and len
# are offsets inside the flash storage region (1408 KB on the Pico), block-aligned, never negative.
from _blockdev import RamBlocks

STORAGE_BYTES = 1408 * 1024
BLOCK = 4096


class Flash(RamBlocks):
    def __init__(self, start=-1, len=-1):
        if start == -1:
            start = 0
        elif not (0 <= start < STORAGE_BYTES and start % BLOCK == 0):
            raise ValueError("invalid start")
        if len == -1:
            len = STORAGE_BYTES - start
        elif not (0 < len and start + len <= STORAGE_BYTES and len % BLOCK == 0):
            raise ValueError("invalid len")
        self.start = start
        super().__init__(len, BLOCK)
