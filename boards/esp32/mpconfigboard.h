// ESP32 meter module (boards/esp32/mpconfigboard.cmake). Bluetooth is left out of the image
// (sdkconfig.ble is not among the SDKCONFIG_DEFAULTS) to leave the heap to the firmware.
#define MICROPY_HW_BOARD_NAME "OMT meter (ESP32)"
#define MICROPY_HW_MCU_NAME "ESP32"
