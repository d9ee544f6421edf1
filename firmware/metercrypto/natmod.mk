# Dynamic native module (.mpy) build of metercrypto, out of tree.
#
# Not used directly: host_tools/setup/natmod.sh writes build/natmod/<arch>/Makefile containing
#   MC_DIR := <abs path of this directory>
#   MPY_DIR := <abs path of the MicroPython source>
#   ARCH := <x64|armv6m|armv7m|rv32imc|xtensawin>
#   include $(MC_DIR)/natmod.mk
# and runs make there, so every build product (objects, config header, .mpy) stays under
# build/natmod/<arch>/. dynruntime.mk's rules need a file named Makefile in the working directory.
#
# The same sources as the user C module are compiled: modmetercrypto.c sees
# MICROPY_ENABLE_DYNRUNTIME=1 (set by dynruntime.mk) and registers its functions in mpy_init().

MOD = metercrypto
SRC = modmetercrypto.c mc_core.c
vpath %.c $(MC_DIR)
vpath %.h $(MC_DIR)

# mc_core.c avoids division and variable 64-bit shifts, so no libgcc helpers are needed and
# LINK_RUNTIME stays off. -fno-tree-loop-distribute-patterns stops GCC from turning byte loops
# into memset/memcpy calls (the binding provides those as mp_fun_table shims anyway).
CFLAGS_EXTRA += -I$(MC_DIR) -fno-tree-loop-distribute-patterns -Wextra -Wno-unused-parameter

include $(MPY_DIR)/py/dynruntime.mk
