// The guest's remote input: pointer, buttons, wheel and keys over the video,
// sent to the host in coordinates normalised to the shared screen. The host
// decides what it injects. This page only avoids sending what the host has
// not granted, and releases its keys and buttons when it loses a grant or focus.

import * as protocol from "./protocol.js";

// Wheel distances: one notch is about 100 CSS pixels or 3 lines in Chromium
// and Firefox on Linux and Windows.
const PIXELS_PER_NOTCH = 100;
const PIXELS_PER_LINE = 100 / 3;
const PIXELS_PER_PAGE = 800;
const MOVE_INTERVAL_MS = 16;

/**
 * Return the part of a video element that shows the picture, in client
 * (CSS pixel) coordinates: with object-fit: contain the picture is scaled to
 * fit and centred, leaving bars on two sides. Null until the video has a size.
 */
export function pictureRect(video) {
  const width = video.videoWidth;
  const height = video.videoHeight;
  if (!width || !height) return null;
  const box = video.getBoundingClientRect();
  const scale = Math.min(box.width / width, box.height / height);
  const shownWidth = width * scale;
  const shownHeight = height * scale;
  return {
    left: box.left + (box.width - shownWidth) / 2,
    top: box.top + (box.height - shownHeight) / 2,
    width: shownWidth,
    height: shownHeight,
  };
}

/** Return client coordinates as a position on the shared screen, or null. */
export function normalise(video, clientX, clientY) {
  const rect = pictureRect(video);
  if (rect === null || rect.width === 0 || rect.height === 0) return null;
  return { x: (clientX - rect.left) / rect.width, y: (clientY - rect.top) / rect.height };
}

function inside(position) {
  return position.x >= 0 && position.x <= 1 && position.y >= 0 && position.y <= 1;
}

export class RemoteInput {
  /**
   * @param {HTMLElement} stage  the focusable element around the video, for keys
   * @param {HTMLVideoElement} video
   * @param {(message: object) => boolean} send  sends a control message to the host
   */
  constructor(stage, video, send) {
    this.stage = stage;
    this.video = video;
    this.send = send;
    this.pointer = false;
    this.keyboard = false;
    this.buttons = new Set();
    this.keys = new Map();
    this.wheelX = 0;
    this.wheelY = 0;
    this.lastMove = 0;
    this.pendingMove = null;
    this.moveTimer = null;
    this.lastKnown = { x: 0.5, y: 0.5 };
    this.listen();
  }

  /** Apply the grants the host reports; input the host took back is released here too. */
  setGrants({ pointer, keyboard }) {
    if (this.pointer && !pointer) this.buttons.clear();
    if (this.keyboard && !keyboard) this.keys.clear();
    this.pointer = pointer;
    this.keyboard = keyboard;
    this.stage.dataset.pointer = pointer ? "granted" : "";
  }

  listen() {
    const video = this.video;
    video.addEventListener("pointermove", (event) => this.onMove(event));
    video.addEventListener("pointerleave", () => {
      this.pendingMove = null;
      this.send(protocol.pointerLeave());
    });
    video.addEventListener("mousedown", (event) => this.onButton(event, true));
    window.addEventListener("mouseup", (event) => this.onButton(event, false));
    video.addEventListener("contextmenu", (event) => {
      if (this.pointer) event.preventDefault();
    });
    video.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    this.stage.addEventListener("keydown", (event) => this.onKey(event, true));
    this.stage.addEventListener("keyup", (event) => this.onKey(event, false));
    this.stage.addEventListener("blur", () => this.releaseAll());
    window.addEventListener("blur", () => this.releaseAll());
  }

  onMove(event) {
    const position = normalise(this.video, event.clientX, event.clientY);
    if (position === null) return;
    if (!inside(position) && this.buttons.size === 0) {
      // Over the bars beside the picture: not on the shared screen.
      this.send(protocol.pointerLeave());
      return;
    }
    this.pendingMove = position;
    this.lastKnown = position;
    const wait = this.lastMove + MOVE_INTERVAL_MS - performance.now();
    if (wait <= 0) this.flushMove();
    else if (this.moveTimer === null) this.moveTimer = setTimeout(() => this.flushMove(), wait);
  }

  flushMove() {
    this.moveTimer = null;
    if (this.pendingMove === null) return;
    const { x, y } = this.pendingMove;
    this.pendingMove = null;
    this.lastMove = performance.now();
    this.send(protocol.pointerMove(x, y));
  }

  onButton(event, down) {
    if (event.button < 0 || event.button > 4) return;
    if (down) {
      this.stage.focus({ preventScroll: true });
      if (!this.pointer) return;
    } else if (!this.buttons.has(event.button)) {
      return;
    }
    const position = normalise(this.video, event.clientX, event.clientY);
    if (position === null || (down && !inside(position))) return;
    event.preventDefault();
    this.lastKnown = position;
    if (down) this.buttons.add(event.button);
    else this.buttons.delete(event.button);
    this.send(protocol.button(event.button, down, position.x, position.y));
  }

  onWheel(event) {
    if (!this.pointer) return;
    const position = normalise(this.video, event.clientX, event.clientY);
    if (position === null || !inside(position)) return;
    event.preventDefault();
    const unit = [1, PIXELS_PER_LINE, PIXELS_PER_PAGE][event.deltaMode] ?? 1;
    this.wheelX += event.deltaX * unit;
    this.wheelY += event.deltaY * unit;
    const dx = Math.trunc(this.wheelX / PIXELS_PER_NOTCH);
    const dy = Math.trunc(this.wheelY / PIXELS_PER_NOTCH);
    if (dx === 0 && dy === 0) return;
    this.wheelX -= dx * PIXELS_PER_NOTCH;
    this.wheelY -= dy * PIXELS_PER_NOTCH;
    this.send(protocol.wheel(dx, dy, position.x, position.y));
  }

  onKey(event, down) {
    // NOTE: text from an input method (IME composition) or from a virtual keyboard
    // that reports no KeyboardEvent.code is not forwarded.
    if (!this.keyboard || !event.code || event.isComposing || event.key === "Process") return;
    event.preventDefault();
    if (down) {
      this.keys.set(event.code, event.key);
    } else if (this.keys.has(event.code)) {
      this.keys.delete(event.code);
    } else {
      return;
    }
    this.send(protocol.key(event.code, event.key, down, event.repeat));
  }

  /** Let go of every key and button, for example when the page loses focus. */
  releaseAll() {
    for (const [code, value] of this.keys) this.send(protocol.key(code, value, false));
    this.keys.clear();
    const { x, y } = this.lastKnown;
    for (const number of this.buttons) this.send(protocol.button(number, false, x, y));
    this.buttons.clear();
  }
}
