# Meter firmware: setup, build, simulate, test.
# `make sim` and `make test` do all setup themselves (idempotent, a second run skips what is done).

SHELL := /bin/bash
ROOT := $(abspath .)
MPSRC := build/mpsrc/micropython
MPSTAMP := $(MPSRC)/.unpacked-1.25.0+ds-1
MPY_CROSS := $(MPSRC)/mpy-cross/build/mpy-cross
VENV := .venv
PY := $(VENV)/bin/python
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMOD_SRC := $(wildcard firmware/metercrypto/*.c firmware/metercrypto/*.h firmware/metercrypto/*.mk)
UNIX_FLAGS := MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_BTREE=0 \
	FROZEN_MANIFEST=$(ROOT)/host_tools/setup/manifest.py USER_C_MODULES=$(ROOT)/firmware
P1_PORT ?= 8088
PYTEST_ARGS ?=
# pytest workers (pytest-xdist): one per core; every test starts its own rig on its own ports and
# files, and a MicroPython test file runs whole in one worker (--dist loadfile)
TEST_WORKERS ?= $(JOBS)
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: all setup deps venv interpreters frozen32 sim test test-fast bench natmod clean distclean qemu images

all: setup

setup: deps venv interpreters qemu

deps: build/.apt-ok

build/.apt-ok: host_tools/setup/apt_packages.sh
	@mkdir -p build
	@sh host_tools/setup/apt_packages.sh
	@touch $@

venv: $(VENV)/.ok

$(VENV)/.ok: host_tools/requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "setup: installing Python packages into $(VENV)"
	@$(PY) -m pip install -q -r host_tools/requirements.txt
	@touch $@

$(MPSTAMP): host_tools/setup/micropython_src.sh | build/.apt-ok
	@sh host_tools/setup/micropython_src.sh $(MPSRC)

$(MPY_CROSS): $(MPSTAMP)
	@echo "build: mpy-cross"
	@$(MAKE) -s -C $(MPSRC)/mpy-cross -j$(JOBS) >/dev/null

interpreters: build/unix/micropython build/unix32/micropython frozen32

# The 32-bit interpreter with the firmware frozen in (bytecode in ROM, as on a product image): the
# memory proxy for the 96 KB heap tests. Incremental; the recipe lives in host_tools/rig.py.
frozen32: build/unix32/micropython $(VENV)/.ok
	@$(PY) -c "from host_tools.rig import build_frozen_interp; build_frozen_interp()"

build/unix/micropython: $(MPY_CROSS) $(CMOD_SRC) host_tools/setup/manifest.py
	@echo "build: unix 64-bit interpreter"
	@$(MAKE) -s -C $(MPSRC)/ports/unix -j$(JOBS) VARIANT=standard BUILD=$(ROOT)/build/obj-unix $(UNIX_FLAGS) >/dev/null
	@mkdir -p $(@D) && cp build/obj-unix/micropython $@.tmp && mv -f $@.tmp $@

build/unix32/micropython: $(MPY_CROSS) $(CMOD_SRC) host_tools/setup/manifest.py
	@echo "build: unix 32-bit interpreter"
	@$(MAKE) -s -C $(MPSRC)/ports/unix -j$(JOBS) VARIANT=standard BUILD=$(ROOT)/build/obj-unix32 $(UNIX_FLAGS) \
		MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_SSL=0 >/dev/null
	@mkdir -p $(@D) && cp build/obj-unix32/micropython $@.tmp && mv -f $@.tmp $@

sim: setup
	@P1_PORT=$(P1_PORT) $(PY) -m host_tools.sim

test: setup
	@$(PYTEST) $(PYTEST_ARGS)

# the edit-test loop: everything but the rig tests (tests/test_rig_*.py, marker "rig")
test-fast: setup
	@$(PYTEST) -m "not rig" $(PYTEST_ARGS)

bench: setup
	@$(PY) -m host_tools.bench

clean:
	rm -rf build/obj-* build/unix build/unix32 build/natmod build/mcu

distclean:
	rm -rf build $(VENV)

natmod: setup
	@bash host_tools/setup/natmod.sh

# --- MCU images (recipes in host_tools/mcu_images.py; out of tree, build/obj-qemu-*, build/obj-rp2040)
# qemu: the emulated Cortex-M3/M0 test images `make test` runs on (incremental, ~2 s when current).
# images: the product images that can be built here (RP2040 UF2; ESP32 needs ESP-IDF: boards/esp32/).
qemu: $(MPY_CROSS) $(VENV)/.ok
	@$(PY) -m host_tools.mcu_images qemu

images: setup
	@$(PY) -m host_tools.mcu_images rp2040
