// Everyone else's cursors over the video: each guest's, labelled with its
// name and coloured, and the host's own pointer, which the video does not
// show. Positions arrive normalised to the shared screen.

import { CURSOR_COLOURS } from "./protocol.js";
import { pictureRect } from "./control.js";

// The palette the host's colour indexes refer to; index 0 is the host's.
const PALETTE = ["#ffffff", "#4c8bf5", "#ea4335", "#34a853", "#fbbc04", "#a142f4", "#f06292", "#24c1e0"];

export class CursorLayer {
  /**
   * @param {HTMLElement} layer  an element covering the stage, above the video
   * @param {HTMLVideoElement} video
   */
  constructor(layer, video) {
    this.layer = layer;
    this.video = video;
    this.cursors = new Map();
    window.addEventListener("resize", () => this.layout());
    video.addEventListener("resize", () => this.layout());
  }

  /** Apply a `cursors` message from the host. */
  update(message) {
    for (const cursor of message.cursors) this.place(cursor);
    for (const id of message.removed) this.remove(id);
  }

  place(cursor) {
    let entry = this.cursors.get(cursor.id);
    if (!entry) {
      const element = document.createElement("div");
      element.className = "cursor";
      element.dataset.peerId = cursor.id;
      const arrow = document.createElement("div");
      arrow.className = "cursor-arrow";
      const label = document.createElement("span");
      label.className = "cursor-label";
      element.append(arrow, label);
      this.layer.append(element);
      entry = { element, label, cursor };
      this.cursors.set(cursor.id, entry);
    }
    entry.cursor = cursor;
    const colour = PALETTE[Math.abs(cursor.colour) % CURSOR_COLOURS] ?? PALETTE[1];
    entry.element.style.setProperty("--cursor-colour", colour);
    entry.element.dataset.role = cursor.role;
    entry.element.dataset.control = cursor.control ? "yes" : "no";
    entry.label.textContent = cursor.role === "host" ? `${cursor.name} (host)` : cursor.name;
    this.position(entry);
  }

  position(entry) {
    const { x, y } = entry.cursor;
    const rect = pictureRect(this.video);
    if (x === null || y === null || rect === null) {
      entry.element.hidden = true;
      return;
    }
    const origin = this.layer.getBoundingClientRect();
    const left = rect.left - origin.left + x * rect.width;
    const top = rect.top - origin.top + y * rect.height;
    entry.element.hidden = false;
    entry.element.style.transform = `translate(${left}px, ${top}px)`;
    entry.element.dataset.x = x.toFixed(4);
    entry.element.dataset.y = y.toFixed(4);
  }

  remove(id) {
    const entry = this.cursors.get(id);
    if (!entry) return;
    entry.element.remove();
    this.cursors.delete(id);
  }

  layout() {
    for (const entry of this.cursors.values()) this.position(entry);
  }

  clear() {
    for (const id of [...this.cursors.keys()]) this.remove(id);
  }
}
