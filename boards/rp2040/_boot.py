# Frozen as _boot.py in the RP2040 product image (boards/rp2040/manifest.py), in place of the
# port's, which puts littlefs on the whole flash storage region (1408 KB on the Pico). Here the
# last RAW_BYTES of it stay raw for the meter's journal and rings (board.py opens them with
# rp2.Flash(start=<storage size - RAW_BYTES>, len=RAW_BYTES)); littlefs gets the rest. A board
# that ran another image before is formatted at the first boot (its littlefs had another size).
import vfs
import rp2

RAW_BYTES = 256 * 1024

bdev = rp2.Flash(start=0, len=rp2.Flash().ioctl(4, 0) * 4096 - RAW_BYTES)
try:
    fs = vfs.VfsLfs2(bdev, progsize=256)
except OSError:
    vfs.VfsLfs2.mkfs(bdev, progsize=256)
    fs = vfs.VfsLfs2(bdev, progsize=256)
vfs.mount(fs, "/")
del vfs, rp2, bdev, fs
