"""A Tk program that fills the screen with four coloured quadrants.

Each line "rotate" on standard input moves every colour one quadrant on;
after each drawing, the program prints "drawn N" with N the number of
rotations so far, once X has the new pixels.
"""

from __future__ import annotations

import sys
import threading
import tkinter

COLOURS = ["#e62828", "#28c83c", "#283cdc", "#f0dc28"]


def main() -> None:
    root = tkinter.Tk()
    width, height = root.winfo_screenwidth(), root.winfo_screenheight()
    root.overrideredirect(True)
    root.geometry(f"{width}x{height}+0+0")
    canvas = tkinter.Canvas(root, width=width, height=height, highlightthickness=0, borderwidth=0)
    canvas.place(x=0, y=0)
    half_w, half_h = width // 2, height // 2
    boxes = [
        canvas.create_rectangle(x, y, x + half_w, y + half_h, width=0)
        for y in (0, half_h)
        for x in (0, half_w)
    ]
    state = {"rotations": 0}

    def draw() -> None:
        for index, box in enumerate(boxes):
            canvas.itemconfigure(box, fill=COLOURS[(index + state["rotations"]) % 4])
        root.update_idletasks()
        root.update()
        # A round trip to the server: the drawing is done once this returns.
        root.winfo_pointerxy()
        print(f"drawn {state['rotations']}", flush=True)

    def rotate() -> None:
        state["rotations"] += 1
        draw()

    def read_commands() -> None:
        for line in sys.stdin:
            if line.strip() == "rotate":
                root.after(0, rotate)
        root.after(0, root.destroy)

    root.after(100, draw)
    threading.Thread(target=read_commands, daemon=True).start()
    root.mainloop()


if __name__ == "__main__":
    main()
