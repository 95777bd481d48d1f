"""A Tk program that covers the screen and reports the input it receives.

Each event becomes one JSON line on standard output, stamped with the wall
clock (`time`, seconds since the epoch):

    {"event": "ready"}
    {"event": "press", "button": 1, "x": 640, "y": 360, "time": ...}
    {"event": "release", "button": 1, "x": 640, "y": 360, "time": ...}
    {"event": "key", "char": "@", "keysym": "at", "time": ...}

`x` and `y` are screen coordinates; `char` is the text Tk made of the key
press with the keyboard layout in force, empty for keys such as Shift.
"""

from __future__ import annotations

import json
import time
import tkinter


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    root = tkinter.Tk()
    width, height = root.winfo_screenwidth(), root.winfo_screenheight()
    root.overrideredirect(True)
    root.geometry(f"{width}x{height}+0+0")
    root.configure(background="#3050a0")

    def on_press(event: tkinter.Event[tkinter.Misc]) -> None:
        emit(event="press", button=event.num, x=event.x_root, y=event.y_root, time=time.time())

    def on_release(event: tkinter.Event[tkinter.Misc]) -> None:
        emit(event="release", button=event.num, x=event.x_root, y=event.y_root, time=time.time())

    def on_key(event: tkinter.Event[tkinter.Misc]) -> None:
        emit(event="key", char=event.char, keysym=event.keysym, time=time.time())

    root.bind_all("<ButtonPress>", on_press)
    root.bind_all("<ButtonRelease>", on_release)
    root.bind_all("<KeyPress>", on_key)

    def ready() -> None:
        root.focus_force()
        root.update()
        emit(event="ready")

    root.wait_visibility(root)
    root.after(100, ready)
    root.mainloop()


if __name__ == "__main__":
    main()
