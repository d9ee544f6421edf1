# Test-only glue for the FAT RAM disk of the emulated MPS2 image (host_tools/mcu_images.py): the
# qemu port compiles neither MicroPython's time helpers that extmod/vfs_fat.c calls nor FatFs's
# relative paths (enabled with -DMICROPY_FATFS_RPATH=2 next to this). Not a module: no Python API.
SRC_USERMOD_C += $(TOP)/shared/timeutils/timeutils.c
