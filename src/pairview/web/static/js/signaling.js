// The guest's signaling WebSocket. It reconnects by itself with exponential
// backoff and full jitter, and rejoins with its resume token so that the
// peer connection to the host carries on undisturbed.

import { browserClient } from "./client-info.js";
import { CloseCode, FATAL_ERRORS, join, leave, parseServerMessage, ping } from "./protocol.js";

const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_INTERVAL_MS = 15000;
const PONG_TIMEOUT_MS = 10000;
// After a network change the old socket can look open for minutes; a quick
// check gives up on it when the server does not answer within this time.
const CHECK_TIMEOUT_MS = 1500;
const MAX_QUEUED = 200;

export class Signaling extends EventTarget {
  /**
   * @param {string} url  the ws: or wss: URL of the server's /ws endpoint
   * @param {{room: string, token: string, name: string}} params
   */
  constructor(url, params) {
    super();
    this.url = url;
    this.params = params;
    this.resume = null;
    this.peerId = null;
    this.socket = null;
    this.queue = [];
    this.joined = false;
    this.stopped = false;
    this.delay = BACKOFF_INITIAL_MS;
    this.pingTimer = null;
    this.pongTimer = null;
    this.checkTimer = null;
    window.addEventListener("online", () => this.check());
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  /**
   * Make sure the socket still reaches the server, for example after the
   * media path broke: without an answer soon, reconnect at once.
   */
  check() {
    if (this.stopped || !this.socket || this.checkTimer !== null) return;
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify(ping()));
    this.checkTimer = setTimeout(() => {
      this.checkTimer = null;
      if (socket !== this.socket) return;
      this.delay = BACKOFF_INITIAL_MS;
      this.abandon(socket, 4101, "no answer to a check");
    }, CHECK_TIMEOUT_MS);
  }

  /** Leave the room on purpose, so that the others hear of it at once. */
  stop() {
    this.stopped = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      if (this.joined) this.socket.send(JSON.stringify(leave()));
      this.socket.close(1000, "leaving");
    }
  }

  send(message) {
    const text = JSON.stringify(message);
    if (this.joined && this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(text);
    } else if (this.queue.length < MAX_QUEUED) {
      this.queue.push(text);
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  connect() {
    this.emit("status", { state: this.resume ? "reconnecting" : "connecting" });
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify(join({ ...this.params, resume: this.resume, client: browserClient() })));
      this.startPinging(socket);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  receive(text) {
    clearTimeout(this.pongTimer);
    clearTimeout(this.checkTimer);
    this.checkTimer = null;
    const message = parseServerMessage(text);
    if (message === null) return;
    if (message.type === "welcome") {
      this.resume = message.resume;
      this.peerId = message.peer_id;
      this.joined = true;
      this.delay = BACKOFF_INITIAL_MS;
      for (const queued of this.queue.splice(0)) this.socket.send(queued);
    }
    if (message.type === "error" && FATAL_ERRORS.has(message.code)) {
      this.stopped = true;
      this.emit("fatal", { code: message.code, message: message.message });
      return;
    }
    if (message.type === "room-closed") {
      this.stopped = true;
    }
    this.emit("message", message);
  }

  startPinging(socket) {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify(ping()));
      clearTimeout(this.pongTimer);
      // No answer at all: the connection is dead even if the browser has not noticed.
      this.pongTimer = setTimeout(() => this.abandon(socket, 4100, "no pong"), PONG_TIMEOUT_MS);
    }, PING_INTERVAL_MS);
  }

  /** Give up on a socket that stopped answering and reconnect; its close event may take long. */
  abandon(socket, code, reason, immediately = false) {
    if (socket !== this.socket) return;
    this.closed(socket, { code }, immediately);
    this.socket = null;
    socket.close(code, reason);
  }

  /**
   * Reconnect at once, for example when the media path broke: after a
   * network change the old socket may look open for a long time.
   */
  reconnectNow() {
    if (this.stopped || !this.socket) return;
    clearTimeout(this.checkTimer);
    this.checkTimer = null;
    this.delay = BACKOFF_INITIAL_MS;
    this.abandon(this.socket, 4102, "reconnecting after a network change", true);
  }

  closed(socket, event, immediately = false) {
    if (socket !== this.socket) return;
    this.joined = false;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    if (event.code === CloseCode.REPLACED) {
      this.stopped = true;
      this.emit("fatal", { code: "replaced", message: "This room was opened in another tab or window." });
      return;
    }
    if (this.stopped || event.code === CloseCode.ROOM_CLOSED) return;
    const wait = immediately ? 0 : Math.random() * this.delay;
    this.delay = Math.min(BACKOFF_MAX_MS, this.delay * 2);
    this.emit("status", { state: "disconnected", retryMs: wait });
    setTimeout(() => { if (!this.stopped) this.connect(); }, wait);
  }
}
