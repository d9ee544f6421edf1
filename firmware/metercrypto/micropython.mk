# User C module: metercrypto (make-based ports, e.g. the Unix port).
METERCRYPTO_MOD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(METERCRYPTO_MOD_DIR)/modmetercrypto.c $(METERCRYPTO_MOD_DIR)/mc_core.c
CFLAGS_USERMOD += -I$(METERCRYPTO_MOD_DIR)
