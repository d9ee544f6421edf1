# ESP32 meter module (ESP32-DevKitC, WROOM-32, 4 MB flash) for MicroPython 1.25's esp32 port:
#   make -C ports/esp32 BOARD_DIR=<repo>/boards/esp32 \
#        USER_C_MODULES=<repo>/firmware/metercrypto/micropython.cmake
# NOT built or tested here (no ESP-IDF on this machine): see boards/esp32/README.md.
set(IDF_TARGET esp32)

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

# The partition table with the `meter` data partition: ESP-IDF resolves a relative file name
# against ports/esp32, so the board's own table is named by its absolute path.
set(MICROPY_BOARD_PARTITION_TABLE ${MICROPY_BOARD_DIR}/partitions-meter.csv)
file(WRITE ${CMAKE_BINARY_DIR}/sdkconfig.partitions
     "CONFIG_PARTITION_TABLE_CUSTOM_FILENAME=\"${MICROPY_BOARD_PARTITION_TABLE}\"\n")
list(APPEND SDKCONFIG_DEFAULTS ${CMAKE_BINARY_DIR}/sdkconfig.partitions)

set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
