// The guest's peer connection to the host. The host always makes the offer;
// the guest answers and trickles its candidates. A new offer with another
// connection id replaces the previous peer connection.
//
// The host pings every second on the control channel. When the pings stop
// for LOSS_TIMEOUT_MS, or ICE fails, this page emits "lost" and the room
// asks the host for a new connection, because the host's WebRTC stack
// cannot restart ICE on the old one.

import * as protocol from "./protocol.js";
import { sendrecvAudioMid } from "./audio.js";

const LOSS_TIMEOUT_MS = 2500;
const WATCH_INTERVAL_MS = 500;
// While a connection stays lost, ask again this often.
const LOST_REPEAT_MS = 3000;
// A new connection that has not opened its control channel by then is lost too.
const SETUP_TIMEOUT_MS = 10000;

/**
 * Run `action` once, when `channel` is open: at once if it already is.
 *
 * A channel that the host opens arrives already open, so the page does not
 * rely on its "open" event alone.
 */
export function whenOpen(channel, action) {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    action();
  };
  channel.addEventListener("open", once);
  if (channel.readyState === "open") once();
}

export class HostConnection extends EventTarget {
  /**
   * @param {import("./signaling.js").Signaling} signaling
   * @param {string} name  this guest's display name, sent in the control hello
   */
  constructor(signaling, name) {
    super();
    this.signaling = signaling;
    this.name = name;
    this.iceServers = [];
    this.pc = null;
    this.hostId = null;
    this.connectionId = null;
    this.control = null;
    // Whether the host's hello arrived on this connection's control channel,
    // and what waits for it.
    this.greeted = false;
    this.afterGreeting = [];
    this.connectionType = null;
    this.createdAt = 0;
    this.lastPing = null;
    this.lostAt = null;
    this.lostAskedAt = 0;
    this.chat = null;
    this.microphone = null;
    this.microphoneSender = null;
    this.watch = setInterval(() => this.watchConnection(), WATCH_INTERVAL_MS);
  }

  /** True while the host's pings arrive, or while a new connection is still setting up. */
  get healthy() {
    if (!this.pc || this.pc.connectionState === "failed" || this.pc.connectionState === "closed") return false;
    const now = performance.now();
    if (this.lastPing === null) return now - this.createdAt < SETUP_TIMEOUT_MS;
    return now - this.lastPing < LOSS_TIMEOUT_MS;
  }

  watchConnection() {
    if (!this.pc) return;
    if (this.healthy) {
      this.lostAt = null;
      return;
    }
    const now = performance.now();
    const first = this.lostAt === null;
    if (first) this.lostAt = now;
    if (now - this.lostAskedAt < LOST_REPEAT_MS) return;
    this.lostAskedAt = now;
    this.emit("lost", { connectionId: this.connectionId, first });
  }

  /** Ask the host for a new peer connection. */
  requestReconnect() {
    if (this.hostId) this.signaling.send(protocol.reconnect(this.hostId, this.connectionId));
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Run `action` once the host's hello has arrived on this connection. */
  whenGreeted(action) {
    if (this.greeted) action();
    else this.afterGreeting.push(action);
  }

  async handleOffer(message) {
    if (message.connection_id === this.connectionId) return;
    this.close();
    this.hostId = message.from;
    this.connectionId = message.connection_id;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.createdAt = performance.now();
    this.lastPing = null;
    this.lostAskedAt = 0;
    const connectionId = this.connectionId;

    pc.addEventListener("track", (event) => {
      if (event.track.kind === "audio") {
        this.emit("audio-track", { track: event.track, mid: event.transceiver.mid });
        return;
      }
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      this.emit("stream", { stream });
    });
    pc.addEventListener("icecandidate", (event) => {
      const init = event.candidate ? event.candidate.toJSON() : null;
      this.signaling.send(protocol.candidate(this.hostId, connectionId, init));
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      this.emit("state", { state: pc.connectionState });
    });
    pc.addEventListener("datachannel", (event) => {
      const label = event.channel.label;
      if (label === "control") this.attachControl(event.channel);
      else if (label === "chat") this.attachChat(event.channel);
      else if (label === protocol.FILE_CHANNEL_LABEL) this.emit("file-channel", { channel: event.channel });
    });

    await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
    // The host's sound arrives, and this guest's microphone leaves, on one transceiver.
    const mid = sendrecvAudioMid(message.sdp);
    const audio = pc.getTransceivers().find((transceiver) => transceiver.mid === mid);
    this.microphoneSender = null;
    if (audio) {
      audio.direction = "sendrecv";
      this.microphoneSender = audio.sender;
      if (this.microphone) await audio.sender.replaceTrack(this.microphone);
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    this.signaling.send(protocol.answer(this.hostId, connectionId, pc.localDescription.sdp));
    this.emit("state", { state: pc.connectionState });
  }

  async handleCandidate(message) {
    if (!this.pc || message.connection_id !== this.connectionId || message.candidate === null) return;
    try {
      await this.pc.addIceCandidate(message.candidate);
    } catch (error) {
      console.warn("Ignoring an ICE candidate the browser rejected:", error.message);
    }
  }

  attachControl(channel) {
    this.control = channel;
    whenOpen(channel, () => { this.lastPing = performance.now(); });
    channel.addEventListener("close", () => {
      if (channel === this.control) this.emit("control-closed", {});
    });
    channel.addEventListener("message", (event) => {
      const message = protocol.parseControlMessage(event.data);
      if (message === null) return;
      if (channel === this.control) this.lastPing = performance.now();
      if (message.type === "ping") {
        if (channel.readyState === "open") channel.send(JSON.stringify(protocol.pong(message.sequence)));
      } else if (message.type === "hello") {
        // The page sends its hello in reply: a hello sent as soon as the
        // channel arrived now and then never reached the host (roughly one
        // join in a hundred in the browser tests), and the host starts a
        // guest only on its hello.
        if (channel === this.control && !this.greeted) {
          channel.send(JSON.stringify(protocol.hello(this.name)));
          this.greeted = true;
          for (const action of this.afterGreeting.splice(0)) action();
        }
        if (message.version !== protocol.CONTROL_VERSION) {
          this.emit("version-error", { host: message.version, page: protocol.CONTROL_VERSION });
        } else {
          this.emit("host", { name: message.name });
        }
      } else if (message.type === "goodbye") {
        this.emit("ended", {});
      } else if (message.type === "version-error") {
        this.emit("version-error", { host: message.expected, page: message.received });
      } else if (message.type === "control-state") {
        this.emit("control-state", message);
      } else if (message.type === "view-state") {
        this.emit("view-state", message);
      } else if (message.type === "connection") {
        // The host classifies the connection, because it can compare addresses
        // with its own networks, and Chromium hides this page's behind mDNS names.
        if (channel !== this.control || !protocol.CONNECTION_KINDS.has(message.kind)) return;
        this.connectionType = message.kind;
        this.emit("connection-type", { type: message.kind, connectionId: this.connectionId });
      } else if (message.type === "cursors") {
        this.emit("cursors", message);
      }
    });
  }

  attachChat(channel) {
    this.chat = channel;
    // Sent after the host's control hello, for the same reason as the page's own.
    whenOpen(channel, () => this.whenGreeted(() => {
      if (channel === this.chat && channel.readyState === "open") channel.send(JSON.stringify(protocol.chatHello()));
    }));
    channel.addEventListener("message", (event) => {
      const message = protocol.parseChatMessage(event.data);
      if (message === null) return;
      if (message.type === "hello") {
        if (message.version !== protocol.CHAT_VERSION) {
          this.emit("version-error", { host: message.version, page: protocol.CHAT_VERSION });
        } else {
          this.emit("chat-hello", message);
        }
      } else if (message.type === "version-error") {
        this.emit("version-error", { host: message.expected, page: message.received });
      } else {
        this.emit(message.type, message);
      }
    });
  }

  /** Send a chat-channel message to the host; dropped while the channel is not open. */
  sendChat(message) {
    if (this.chat && this.chat.readyState === "open") {
      this.chat.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  /** Send this microphone track to the host, now and on every later connection. */
  async setMicrophone(track) {
    this.microphone = track;
    if (this.microphoneSender) await this.microphoneSender.replaceTrack(track);
  }

  /** Send a control-channel message to the host; dropped while the channel is not open. */
  sendControl(message) {
    if (this.control && this.control.readyState === "open") {
      this.control.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  /** Close the peer connection, for example when the host left or sent bye. */
  close() {
    if (this.pc) {
      this.pc.close();
      this.pc = null;
      this.emit("state", { state: "closed" });
    }
    this.control = null;
    this.chat = null;
    this.greeted = false;
    this.afterGreeting = [];
    this.microphoneSender = null;
    this.connectionId = null;
    this.connectionType = null;
    this.lostAt = null;
  }

  /** Close for good: also stop watching for lost connections. */
  stop() {
    clearInterval(this.watch);
    this.close();
  }
}
