# SSD1306 128x64 monochrome OLED over I2C (address 0x3C), the common part on meter dev boards.
# A frame buffer (framebuf, MONO_VLSB: one byte = 8 vertical pixels, which is the controller's page
# layout) is drawn in RAM and sent whole by show().
#
#   d = SSD1306(i2c, addr=0x3C)     init sequence per the SSD1306 datasheet (rev 1.1, 8.9 and the
#                                   application note's "software initialization" flow), internal
#                                   charge pump (VCC from 3.3 V)
#   d.fb                            the framebuf.FrameBuffer to draw on (fill, text, rect, ...)
#   d.show()                        send the buffer (1024 bytes, horizontal addressing mode)
#   d.power(on)                     display on/off (0xAF / 0xAE)
# Buffers are allocated once; show() allocates nothing.
import framebuf

WIDTH = 128
HEIGHT = 64

# (command bytes) sent with control byte 0x00 (Co = 0, D/C# = 0), datasheet table 9-1
_INIT = (
    b"\xAE",          # display off
    b"\xD5\x80",      # clock divide ratio / oscillator frequency: reset value
    b"\xA8\x3F",      # multiplex ratio 64
    b"\xD3\x00",      # display offset 0
    b"\x40",          # start line 0
    b"\x8D\x14",      # charge pump on (no external VCC)
    b"\x20\x00",      # memory addressing: horizontal
    b"\xA1",          # segment remap: column 127 -> SEG0 (module wiring)
    b"\xC8",          # COM scan direction: remapped
    b"\xDA\x12",      # COM pins: alternative, no left/right remap (128x64 modules)
    b"\x81\xCF",      # contrast
    b"\xD9\xF1",      # pre-charge period (internal charge pump)
    b"\xDB\x40",      # VCOMH deselect level
    b"\xA4",          # display follows RAM
    b"\xA6",          # normal (not inverted)
    b"\xAF",          # display on
)


class SSD1306:
    def __init__(self, i2c, addr=0x3C):
        self.i2c = i2c
        self.addr = addr
        self.buf = bytearray(WIDTH * HEIGHT // 8)
        self.fb = framebuf.FrameBuffer(self.buf, WIDTH, HEIGHT, framebuf.MONO_VLSB)
        self._cmd = bytearray(4)
        self._window = b"\x00\x21\x00\x7F\x22\x00\x07"  # columns 0..127, pages 0..7
        self._vec = (b"\x40", self.buf)  # control byte Co = 0, D/C# = 1 (display data), then the RAM
        for c in _INIT:
            self._command(c)

    def _command(self, c):
        cmd = self._cmd
        cmd[0] = 0x00
        n = len(c)
        cmd[1:1 + n] = c
        self.i2c.writeto(self.addr, memoryview(cmd)[:1 + n])

    def power(self, on):
        self._command(b"\xAF" if on else b"\xAE")

    def show(self):
        self.i2c.writeto(self.addr, self._window)
        self.i2c.writevto(self.addr, self._vec)
