// metercrypto: stub (foundation). The full crypto core replaces this file.
#include "py/runtime.h"
#include "py/obj.h"

static uint16_t crc16_arc(const uint8_t *p, size_t n) {
    uint16_t crc = 0;
    while (n--) {
        crc ^= *p++;
        for (int i = 0; i < 8; i++) {
            crc = (crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
        }
    }
    return crc;
}

static mp_obj_t mc_crc16_arc(mp_obj_t data) {
    mp_buffer_info_t b;
    mp_get_buffer_raise(data, &b, MP_BUFFER_READ);
    return MP_OBJ_NEW_SMALL_INT(crc16_arc(b.buf, b.len));
}
static MP_DEFINE_CONST_FUN_OBJ_1(mc_crc16_arc_obj, mc_crc16_arc);

static const mp_rom_map_elem_t mc_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_metercrypto) },
    { MP_ROM_QSTR(MP_QSTR_crc16_arc), MP_ROM_PTR(&mc_crc16_arc_obj) },
};
static MP_DEFINE_CONST_DICT(mc_globals, mc_globals_table);

const mp_obj_module_t metercrypto_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mc_globals,
};
MP_REGISTER_MODULE(MP_QSTR_metercrypto, metercrypto_user_cmodule);
