# Test-only glue for the FAT RAM disk of the emulated MPS2 image (host_tools/mcu_images.py): the
# qemu port compiles neither MicroPython's time helpers that extmod/vfs_fat.c calls nor FatFs's
# relative paths and long names (-DMICROPY_FATFS_RPATH=2 -DMICROPY_FATFS_ENABLE_LFN=1, set in
# host_tools/mcu_images.py). Not a module: no Python API.
# (an absolute path: a TOP-relative one would put the object file outside the build directory)
SRC_USERMOD_C += $(abspath $(TOP))/shared/timeutils/timeutils.c
