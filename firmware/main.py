# Entry point on every board: pick the board adapter, build the app, run it.
# On a device, `board.py` is the board adapter copied from boards/<name>/ by the deploy tool; in the
# simulation the rig puts boards/unix_sim/ on the path.
import asyncio

import board
from meter.app import App


def main():
    b = board.make()
    app = App(b)
    asyncio.run(app.run())


main()
