# User C module: metercrypto, for the CMake-based ports (esp32, rp2).
#
#   esp32:  make -C ports/esp32 BOARD=ESP32_GENERIC_C3 \
#               USER_C_MODULES=/abs/path/firmware/metercrypto/micropython.cmake
#   rp2:    make -C ports/rp2 BOARD=RPI_PICO \
#               USER_C_MODULES=/abs/path/firmware/metercrypto/micropython.cmake
#
# (or include() this file from a top-level micropython.cmake that lists several modules).
# The same two sources as the make-based build (micropython.mk) and the native .mpy (natmod.mk).
add_library(usermod_metercrypto INTERFACE)

target_sources(usermod_metercrypto INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modmetercrypto.c
    ${CMAKE_CURRENT_LIST_DIR}/mc_core.c
)

target_include_directories(usermod_metercrypto INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_link_libraries(usermod INTERFACE usermod_metercrypto)
