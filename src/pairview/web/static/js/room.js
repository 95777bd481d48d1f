// The room page: asks for a name, joins the room and shows the host's screen.

import { ControlReason, ErrorCode, controlRelease, controlRequest, nameProblem, refreshIce } from "./protocol.js";
import { Signaling } from "./signaling.js";
import { HostConnection } from "./guest.js";
import { RemoteInput } from "./control.js";
import { CursorLayer } from "./cursors.js";
import { ChatPanel } from "./chat.js";
import { FileTransfers } from "./files.js";
import { Voices } from "./audio.js";
import { sha256Fingerprint, shortAuthenticationString } from "./sas.js";

const NAME_KEY = "pairview.name";

const elements = {
  body: document.body,
  nameForm: document.getElementById("name-form"),
  securityCode: document.getElementById("security-code"),
  nameInput: document.getElementById("name-input"),
  problem: document.getElementById("problem"),
  problemTitle: document.getElementById("problem-title"),
  problemText: document.getElementById("problem-text"),
  stage: document.getElementById("stage"),
  video: document.getElementById("screen"),
  waiting: document.getElementById("waiting"),
  hiddenNotice: document.getElementById("hidden-notice"),
  statusBar: document.getElementById("status-bar"),
  status: document.getElementById("status"),
  hostName: document.getElementById("host-name"),
  cursors: document.getElementById("cursors"),
  controlStatus: document.getElementById("control-status"),
  controlButton: document.getElementById("control-button"),
  panel: document.getElementById("panel"),
};

const PROBLEMS = {
  [ErrorCode.ROOM_NOT_FOUND]: ["Room not found", "No room matches this link. Check that you copied all of it, or ask the host for a new one."],
  [ErrorCode.LINK_EXPIRED]: ["Link expired", "This link is no longer valid. Ask the host for a new one."],
  [ErrorCode.ROOM_CLOSED]: ["The host ended the screen share", "You can close this page."],
  [ErrorCode.VERSION_MISMATCH]: ["Page out of date", "This page is older than the server. Reload it to continue."],
  replaced: ["Opened elsewhere", "This room was opened in another tab or window of this browser."],
  incomplete: ["Incomplete link", "This link is missing its secret part, after the # sign. Copy the whole link from the host."],
};

function setState(state) {
  elements.body.dataset.state = state;
}

function setStatus(text, level = "") {
  elements.status.textContent = text;
  elements.status.dataset.level = level;
}

function showProblem(code, fallback) {
  const [title, text] = PROBLEMS[code] ?? ["Something went wrong", fallback ?? "Reload the page to try again."];
  elements.problemTitle.textContent = title;
  elements.problemText.textContent = text;
  elements.problem.dataset.code = code;
  elements.problem.hidden = false;
  elements.nameForm.hidden = true;
  elements.stage.hidden = true;
  elements.statusBar.hidden = true;
  elements.panel.hidden = true;
  setState("error");
}

// What the page says about remote control after each control-state reason.
const CONTROL_NEWS = {
  [ControlReason.PENDING]: ["Asked the host for control…", "warn"],
  [ControlReason.DECLINED]: ["The host declined your request for control.", ""],
  [ControlReason.TIMED_OUT]: ["The host did not answer your request for control.", ""],
  [ControlReason.REVOKED]: ["The host took back control.", "warn"],
  [ControlReason.PANIC]: ["The host took back control.", "warn"],
  [ControlReason.RELEASED]: ["You gave back control.", ""],
  [ControlReason.UNAVAILABLE]: ["Remote control is not available on this host.", ""],
};

function describeGrants(state) {
  const parts = [];
  if (state.pointer) parts.push("pointer");
  if (state.keyboard) parts.push("keyboard");
  return parts;
}

/** Show the grants and the latest news about them, and offer the matching button. */
function showControl(state) {
  const granted = describeGrants(state);
  elements.body.dataset.control = state.pending ? "pending" : granted.join(" ") || "none";
  let [text, level] = CONTROL_NEWS[state.reason] ?? ["", ""];
  if (granted.length > 0) {
    const typing = state.keyboard ? " Click the screen, then type." : "";
    text = `You control the host's ${granted.join(" and ")}.${typing}`;
    level = "ok";
  }
  elements.controlStatus.textContent = text;
  elements.controlStatus.dataset.level = level;
  elements.controlButton.hidden = state.reason === ControlReason.UNAVAILABLE || state.pending;
  elements.controlButton.textContent = granted.length > 0 ? "Give back control" : "Request control";
  elements.controlButton.dataset.action = granted.length > 0 ? "release" : "request";
}

/**
 * Show the short authentication string of `pc`, the connection to the host,
 * once it is known; the host's terminal prints the same code.
 */
async function showSecurityCode(pc, current) {
  const hostFingerprint = sha256Fingerprint(pc.remoteDescription?.sdp ?? "");
  const ownFingerprint = sha256Fingerprint(pc.localDescription?.sdp ?? "");
  if (hostFingerprint === null || ownFingerprint === null) {
    console.warn("No SHA-256 certificate fingerprint in the descriptions; no security code to show");
    return;
  }
  const code = await shortAuthenticationString(hostFingerprint, ownFingerprint);
  if (code === null || !current()) return;
  elements.securityCode.textContent = `Security code ${code}`;
  elements.securityCode.hidden = false;
  elements.body.dataset.securityCode = code;
}

function parseLink() {
  const match = /^\/r\/([A-Za-z0-9_-]+)$/.exec(location.pathname);
  const token = decodeURIComponent(location.hash.slice(1));
  return match && token ? { room: match[1], token } : null;
}

// The name chosen on the share page when joining through an invitation, used once.
function presetName(room) {
  const preset = JSON.parse(sessionStorage.getItem("pairview.join") ?? "null");
  sessionStorage.removeItem("pairview.join");
  return preset?.room === room && !nameProblem(preset.name) ? preset.name : null;
}

function askName() {
  return new Promise((resolve) => {
    elements.nameInput.value = localStorage.getItem(NAME_KEY) ?? "";
    elements.nameForm.hidden = false;
    setState("name");
    elements.nameForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = elements.nameInput.value.trim();
      const problem = nameProblem(name);
      elements.nameInput.setCustomValidity(problem ?? "");
      if (problem) {
        elements.nameInput.reportValidity();
        return;
      }
      localStorage.setItem(NAME_KEY, name);
      elements.nameForm.hidden = true;
      resolve(name);
    });
  });
}

function signalingUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

const CONNECTION_TYPES = {
  direct: "Connected directly",
  nat: "Connected through NAT",
  relay: "Connected through a relay",
};

function describeConnection(state) {
  switch (state) {
    case "new":
    case "connecting":
      return ["Connecting to the host…", "warn"];
    case "connected":
      return ["Connected", "ok"];
    case "disconnected":
      return ["Connection to the host interrupted; waiting for it to come back…", "warn"];
    case "failed":
      return ["Could not connect to the host", "bad"];
    default:
      return ["Not connected to the host", "warn"];
  }
}

async function main() {
  const link = parseLink();
  if (link === null) {
    showProblem("incomplete");
    return;
  }
  const name = presetName(link.room) ?? (await askName());

  elements.stage.hidden = false;
  elements.statusBar.hidden = false;
  elements.panel.hidden = false;
  setState("connecting");
  setStatus("Connecting to the server…", "warn");

  const signaling = new Signaling(signalingUrl(), { room: link.room, token: link.token, name });
  const host = new HostConnection(signaling, name);
  const input = new RemoteInput(elements.stage, elements.video, (message) => host.sendControl(message));
  const cursors = new CursorLayer(elements.cursors, elements.video);
  const byId = (id) => document.getElementById(id);
  const chat = new ChatPanel(
    { list: byId("messages"), form: byId("chat-form"), input: byId("chat-input"), error: byId("chat-error") },
    (message) => host.sendChat(message),
  );
  const files = new FileTransfers(
    { list: byId("transfers"), input: byId("file-input"), target: byId("file-target"), drop: byId("drop-zone"), error: byId("file-error") },
    () => host.pc,
  );
  const voices = new Voices(
    { list: byId("participants"), micButton: byId("mic-button"), micStatus: byId("mic-status"), sounds: byId("sounds") },
    host,
  );
  let hostPeerId = null;
  let ended = false;
  let refreshTimer = null;

  // Ask for fresh TURN credentials when a quarter of their lifetime is left.
  const scheduleIceRefresh = (expiresAt) => {
    clearTimeout(refreshTimer);
    if (!expiresAt) return;
    const remainingMs = expiresAt * 1000 - Date.now();
    refreshTimer = setTimeout(() => signaling.send(refreshIce()), Math.max(5000, remainingMs * 0.75));
  };

  const showConnected = () => {
    const text = CONNECTION_TYPES[host.connectionType] ?? describeConnection("connected")[0];
    setStatus(text, "ok");
  };

  let signalingJoined = false;
  let connectionState = "new";

  const hostLeft = (text, status) => {
    host.close();
    elements.video.srcObject = null;
    elements.waiting.hidden = false;
    elements.waiting.textContent = text;
    setState("host-left");
    setStatus(status, "bad");
  };

  // A host app that dies takes its embedded server along, so no peer-left
  // ever arrives. A failed connection to the host while the server is
  // unreachable as well means the host is gone.
  const checkHostReachable = () => {
    if (ended || connectionState !== "failed" || signalingJoined) return;
    hostLeft("The host can no longer be reached. This page reconnects if they come back.", "The host is unreachable");
  };

  const end = (code) => {
    ended = true;
    clearTimeout(refreshTimer);
    signaling.stop();
    host.stop();
    elements.video.srcObject = null;
    showProblem(code);
    // The status bar is hidden with the stage, but must not claim a connection.
    setStatus(PROBLEMS[code]?.[0] ?? "Not connected", "bad");
    setState("ended");
  };

  signaling.addEventListener("status", ({ detail }) => {
    if (ended) return;
    signalingJoined = false;
    if (detail.state === "disconnected") {
      if (elements.body.dataset.state !== "host-left") setStatus("Lost the server; reconnecting…", "warn");
      elements.body.dataset.signaling = "disconnected";
    } else {
      elements.body.dataset.signaling = detail.state;
    }
    checkHostReachable();
  });

  signaling.addEventListener("fatal", ({ detail }) => {
    if (detail.code === ErrorCode.ROOM_CLOSED) end(detail.code);
    else {
      ended = true;
      host.stop();
      showProblem(detail.code, detail.message);
    }
  });

  signaling.addEventListener("message", ({ detail: message }) => {
    if (ended) return;
    switch (message.type) {
      case "welcome": {
        signalingJoined = true;
        elements.body.dataset.signaling = "joined";
        elements.body.dataset.peerId = message.peer_id;
        host.iceServers = message.ice_servers;
        scheduleIceRefresh(message.ice_expires_at);
        const present = message.peers.find((peer) => peer.role === "host");
        // A host that left while this page was reconnecting is missing from
        // the welcome, and its departure was never delivered to this page.
        // A host still answering pings is only slower to rejoin a restarted
        // server, and keeps its connection.
        const missed = !present
          && !(host.pc !== null && host.healthy)
          && (hostPeerId !== null || host.pc !== null || elements.body.dataset.state === "host-left");
        hostPeerId = present ? present.peer_id : null;
        if (present) elements.hostName.textContent = `Sharing: ${present.name}`;
        if (missed) {
          hostLeft("The host has left. This page reconnects when they come back.", "The host has left");
        } else if (!host.pc) {
          setState("waiting");
          setStatus(present ? "Waiting for the host's screen…" : "The host is not here yet. This page connects when they arrive.", "warn");
        } else if (host.healthy) {
          // Back after a signaling outage; the picture never depended on it.
          if (host.pc.connectionState === "connected") showConnected();
        } else if (present) {
          host.requestReconnect();
        }
        break;
      }
      case "ice-servers":
        host.iceServers = message.ice_servers;
        scheduleIceRefresh(message.expires_at);
        break;
      case "peer-joined":
        if (message.peer.role === "host") {
          hostPeerId = message.peer.peer_id;
          elements.hostName.textContent = `Sharing: ${message.peer.name}`;
          if (!host.healthy) setStatus("The host is here; connecting…", "warn");
        }
        break;
      case "peer-left":
        if (message.peer_id === hostPeerId) {
          hostLeft("The host has left. This page reconnects when they come back.", "The host has left");
        }
        break;
      case "offer":
        host.handleOffer(message).catch((error) => {
          console.error("Could not answer the host's offer:", error);
          setStatus("Could not set up the connection to the host", "bad");
        });
        break;
      case "candidate":
        host.handleCandidate(message);
        break;
      case "bye":
        host.close();
        break;
      case "room-closed":
        end(ErrorCode.ROOM_CLOSED);
        break;
      case "error":
        console.warn(`Server reported ${message.code}: ${message.message}`);
        break;
      default:
        break;
    }
  });

  host.addEventListener("stream", ({ detail }) => {
    elements.video.srcObject = detail.stream;
    elements.video.play().catch(() => {});
  });
  host.addEventListener("state", ({ detail }) => {
    if (ended) return;
    connectionState = detail.state;
    elements.body.dataset.connectionState = detail.state;
    if (detail.state === "connected") {
      showConnected();
      const pc = host.pc;
      if (pc) {
        showSecurityCode(pc, () => host.pc === pc && !ended).catch((error) => {
          console.error("Could not compute the security code:", error);
        });
      }
    } else {
      const [text, level] = describeConnection(detail.state);
      setStatus(text, level);
    }
    checkHostReachable();
  });
  host.addEventListener("connection-type", ({ detail }) => {
    if (ended) return;
    elements.body.dataset.connectionType = detail.type;
    elements.body.dataset.connectionId = detail.connectionId;
    showConnected();
  });
  host.addEventListener("lost", ({ detail }) => {
    if (ended) return;
    elements.body.dataset.connectionState = "lost";
    setStatus("Connection to the host lost; reconnecting…", "warn");
    // A lost media path often means this machine's network changed, and
    // then the signaling socket is stale too: start a fresh one at once.
    if (detail.first) signaling.reconnectNow();
    else signaling.check();
    host.requestReconnect();
  });
  // The host stops sending frames to a guest it hides the screen from; the
  // page also covers the last frame it showed.
  const showView = (visible) => {
    elements.body.dataset.view = visible ? "visible" : "hidden";
    if (!visible && elements.body.dataset.state === "playing") setState("hidden");
    if (visible && elements.body.dataset.state === "hidden") setState("playing");
    elements.hiddenNotice.hidden = visible;
    elements.video.style.visibility = visible ? "" : "hidden";
  };
  host.addEventListener("host", ({ detail }) => {
    elements.hostName.textContent = `Sharing: ${detail.name}`;
    // Every new control channel starts visible. For a hidden guest, the host sends view-state next.
    showView(true);
  });
  host.addEventListener("view-state", ({ detail }) => showView(detail.visible === true));
  host.addEventListener("ended", () => end(ErrorCode.ROOM_CLOSED));
  host.addEventListener("control-state", ({ detail }) => {
    input.setGrants(detail);
    showControl(detail);
  });
  host.addEventListener("cursors", ({ detail }) => cursors.update(detail));
  host.addEventListener("chat-hello", ({ detail }) => files.setLimit(detail.max_file_size));
  host.addEventListener("chat", ({ detail }) => chat.add(detail));
  host.addEventListener("chat-error", ({ detail }) => chat.showError(detail.message));
  host.addEventListener("roster", ({ detail }) => {
    chat.selfId = detail.you;
    files.setRoster(detail);
    voices.setRoster(detail);
  });
  host.addEventListener("file-channel", ({ detail }) => files.incoming(detail.channel));
  host.addEventListener("audio-track", ({ detail }) => voices.addTrack(detail.track, detail.mid));
  host.addEventListener("control-closed", () => {
    input.setGrants({ pointer: false, keyboard: false });
    cursors.clear();
    elements.controlButton.hidden = true;
    elements.body.dataset.control = "none";
  });
  elements.controlButton.addEventListener("click", () => {
    const release = elements.controlButton.dataset.action === "release";
    host.sendControl(release ? controlRelease() : controlRequest());
  });
  host.addEventListener("version-error", ({ detail }) => {
    showProblem(ErrorCode.VERSION_MISMATCH, `The host speaks version ${detail.host}, this page ${detail.page}.`);
  });

  elements.video.addEventListener("playing", () => {
    elements.waiting.hidden = true;
    setState(elements.body.dataset.view === "hidden" ? "hidden" : "playing");
  });

  window.addEventListener("pagehide", () => signaling.stop());
  signaling.start();
}

main();
