// Signaling and control-channel messages, defined once for the web client.
// They mirror pairview/protocol/signaling.py and pairview/protocol/control.py.

export const PROTOCOL_VERSION = 1;
export const CONTROL_VERSION = 2;

export const ErrorCode = Object.freeze({
  INVALID_MESSAGE: "invalid-message",
  UNKNOWN_TYPE: "unknown-type",
  VERSION_MISMATCH: "version-mismatch",
  NOT_JOINED: "not-joined",
  ALREADY_JOINED: "already-joined",
  ROOM_NOT_FOUND: "room-not-found",
  LINK_EXPIRED: "link-expired",
  ROOM_CLOSED: "room-closed",
  HOST_ALREADY_CONNECTED: "host-already-connected",
  PEER_NOT_FOUND: "peer-not-found",
  FORBIDDEN: "forbidden",
  UNAVAILABLE: "unavailable",
});

// Join errors after which reconnecting cannot help.
export const FATAL_ERRORS = new Set([
  ErrorCode.ROOM_NOT_FOUND,
  ErrorCode.LINK_EXPIRED,
  ErrorCode.ROOM_CLOSED,
  ErrorCode.VERSION_MISMATCH,
]);

export const CloseCode = Object.freeze({
  ROOM_CLOSED: 4000,
  JOIN_REJECTED: 4001,
  REPLACED: 4002,
});

const SERVER_TYPES = new Set([
  "welcome", "ice-servers", "peer-joined", "peer-left", "room-closed", "error", "pong",
  "offer", "answer", "candidate", "bye", "reconnect",
]);

const CONTROL_TYPES = new Set([
  "hello", "goodbye", "ping", "pong", "version-error", "control-state", "view-state", "connection", "cursors",
]);
// The connection classes of the host's "connection" message.
export const CONNECTION_KINDS = new Set(["direct", "nat", "relay"]);

// Limits of control messages, as pairview/protocol/control.py checks them.
// Positions are normalised to the shared screen, (0, 0) top left and (1, 1)
// bottom right; a drag may carry them up to one screen beyond each edge.
export const COORDINATE_MIN = -1;
export const COORDINATE_MAX = 2;
export const MAX_WHEEL_STEPS = 10;
export const CURSOR_COLOURS = 8;

/** Why the host sent a control-state message. */
export const ControlReason = Object.freeze({
  CURRENT: "current",
  PENDING: "pending",
  GRANTED: "granted",
  DECLINED: "declined",
  TIMED_OUT: "timed-out",
  REVOKED: "revoked",
  PANIC: "panic",
  RELEASED: "released",
  UNAVAILABLE: "unavailable",
});

export const MAX_NAME_LENGTH = 64;

/** Return the problem with a display name in plain words, or null when it is fine. */
export function nameProblem(name) {
  if (name.length === 0) return "Enter a name.";
  if (name.length > MAX_NAME_LENGTH) return `Use at most ${MAX_NAME_LENGTH} characters.`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "Use letters, digits and punctuation only.";
  return null;
}

/** A guest's join; `client` describes the browser coarsely, for usage statistics. */
export function join({ room, token, name, resume, client }) {
  return {
    type: "join", version: PROTOCOL_VERSION, room, token, role: "guest", name,
    resume: resume ?? null, client: client ?? null,
  };
}

export function answer(to, connectionId, sdp) {
  return { type: "answer", to, connection_id: connectionId, sdp };
}

/** A trickled candidate; `init` is an RTCIceCandidateInit, or null at the end of candidates. */
export function candidate(to, connectionId, init) {
  const payload = init && init.candidate
    ? { candidate: init.candidate, sdpMid: init.sdpMid ?? null, sdpMLineIndex: init.sdpMLineIndex ?? null }
    : null;
  return { type: "candidate", to, connection_id: connectionId, candidate: payload };
}

export function bye(to, reason = "") {
  return { type: "bye", to, reason };
}

/** Ask the host for a new peer connection; `connectionId` is the one given up on, or null. */
export function reconnect(to, connectionId) {
  return { type: "reconnect", to, connection_id: connectionId ?? null };
}

/** Ask the server for fresh ICE servers, with new TURN credentials. */
export function refreshIce() {
  return { type: "refresh-ice" };
}

export function leave() {
  return { type: "leave" };
}

export function ping() {
  return { type: "ping" };
}

function parseTyped(text, types) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (message === null || typeof message !== "object" || !types.has(message.type)) return null;
  return message;
}

/** Parse a signaling message from the server; null if it is not one this page knows. */
export function parseServerMessage(text) {
  return parseTyped(text, SERVER_TYPES);
}

/** Parse a control-channel message from the host; null if it is not one this page knows. */
export function parseControlMessage(text) {
  return typeof text === "string" ? parseTyped(text, CONTROL_TYPES) : null;
}

export function hello(name) {
  return { type: "hello", version: CONTROL_VERSION, name };
}

function coordinate(value) {
  return Math.min(COORDINATE_MAX, Math.max(COORDINATE_MIN, value));
}

/** The guest's pointer is over the video at normalised (x, y). */
export function pointerMove(x, y) {
  return { type: "pointer-move", x: coordinate(x), y: coordinate(y) };
}

export function pointerLeave() {
  return { type: "pointer-leave" };
}

/** A mouse button (MouseEvent.button, 0 to 4) went down or up at (x, y). */
export function button(number, down, x, y) {
  return { type: "button", button: number, down, x: coordinate(x), y: coordinate(y) };
}

/** Wheel notches at (x, y); positive dy scrolls down, positive dx right. */
export function wheel(dx, dy, x, y) {
  const steps = (value) => Math.max(-MAX_WHEEL_STEPS, Math.min(MAX_WHEEL_STEPS, value));
  return { type: "wheel", dx: steps(dx), dy: steps(dy), x: coordinate(x), y: coordinate(y) };
}

/** A key event: `code` names the physical key, `key` what the guest's layout made of it. */
export function key(code, value, down, repeat = false) {
  return { type: "key", code, key: value, down, repeat };
}

export function controlRequest(pointer = true, keyboard = true) {
  return { type: "control-request", pointer, keyboard };
}

export function controlRelease() {
  return { type: "control-release" };
}

export function pong(sequence) {
  return { type: "pong", sequence };
}

// Chat channel messages, as pairview/protocol/chat.py defines them.

export const CHAT_VERSION = 1;
export const MAX_CHAT_TEXT = 4000;
const CHAT_TYPES = new Set(["hello", "version-error", "chat", "chat-error", "roster"]);
// C0 and C1 controls other than tab and line feed, and bidirectional overrides.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_CHAT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Return the problem with a chat text in plain words, or null when it may be sent. */
export function chatProblem(text) {
  const trimmed = text.trim();
  if (trimmed.length === 0) return "Type a message first.";
  const length = [...trimmed].length;
  if (length > MAX_CHAT_TEXT) return `The message has ${length} characters; the limit is ${MAX_CHAT_TEXT}.`;
  const found = FORBIDDEN_IN_CHAT.exec(trimmed);
  if (found) return `The message contains the control character U+${found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}, which chat does not allow.`;
  return null;
}

export function chatHello() {
  return { type: "hello", version: CHAT_VERSION };
}

export function chatSend(text) {
  return { type: "chat-send", text: text.trim() };
}

/** Parse a chat-channel message from the host; null if it is not one this page knows. */
export function parseChatMessage(text) {
  return typeof text === "string" ? parseTyped(text, CHAT_TYPES) : null;
}

// File transfer messages, as pairview/protocol/transfer.py defines them.

export const TRANSFER_VERSION = 1;
export const FILE_CHANNEL_LABEL = "file";
export const MAX_CHUNK = 64 * 1024;
export const PROGRESS_INTERVAL = 1024 * 1024;
// The page's sending window, smaller than the host's (protocol/transfer.py).
// In the file-transfer benchmark the page never had to wait for it.
export const WINDOW = 8 * 1024 * 1024;
const TRANSFER_TYPES = new Set([
  "file-offer", "file-accept", "file-decline", "file-progress", "file-end",
  "file-complete", "file-cancel", "version-error",
]);

/** Parse a text message of a file channel; null if it is not one this page knows. */
export function parseTransferMessage(text) {
  return typeof text === "string" ? parseTyped(text, TRANSFER_TYPES) : null;
}

export function fileOffer({ id, name, size, mime, to }) {
  return { type: "file-offer", version: TRANSFER_VERSION, id, name, size, mime, to };
}

export function fileAccept() {
  return { type: "file-accept" };
}

export function fileDecline(reason) {
  return { type: "file-decline", reason: reason.slice(0, 300) };
}

export function fileProgress(received) {
  return { type: "file-progress", received };
}

export function fileEnd(sha256) {
  return { type: "file-end", sha256 };
}

export function fileComplete() {
  return { type: "file-complete" };
}

// A page sends no `by`. In the cancels the host sends, `by` names who cancelled:
// "host", or "sender" or "receiver" for the guest at the other end of a file
// that the host passes between guests.
export function fileCancel(reason) {
  return { type: "file-cancel", reason: reason.slice(0, 300) };
}

export function transferVersionError(received) {
  return { type: "version-error", expected: TRANSFER_VERSION, received };
}
