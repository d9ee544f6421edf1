# Text on the meter's display: up to LINES lines of COLS characters (the 8x8 font of framebuf on a
# 128x64 panel). The board HAL's `display` is an object with this show(lines) interface: a
# TextDisplay over the SSD1306 on MCU boards, a display that reports to the rig on unix_sim.
#
#   d = TextDisplay(ssd1306_device)
#   d.show(("CREDIT", "  123.4 kWh"))   draws and sends the lines (longer lines are cut)
#   d.lines                             what is shown (a list of LINES strings)
LINES = 8
COLS = 16


class TextDisplay:
    def __init__(self, device):
        self.dev = device
        self.lines = [""] * LINES

    def show(self, lines):
        fb = self.dev.fb
        fb.fill(0)
        for i in range(LINES):
            text = lines[i] if i < len(lines) else ""
            if len(text) > COLS:
                text = text[:COLS]
            self.lines[i] = text
            if text:
                fb.text(text, 0, 8 * i, 1)
        self.dev.show()
