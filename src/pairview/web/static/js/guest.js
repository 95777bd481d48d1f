// The guest's peer connection to the host. The host always makes the offer;
// the guest answers and trickles its candidates. A new offer with another
// connection id replaces the previous peer connection.

import * as protocol from "./protocol.js";
import { sendrecvAudioMid } from "./audio.js";

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
    this.chat = null;
    this.microphone = null;
    this.microphoneSender = null;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async handleOffer(message) {
    if (message.connection_id === this.connectionId) return;
    this.close();
    this.hostId = message.from;
    this.connectionId = message.connection_id;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
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
      if (pc === this.pc) this.emit("state", { state: pc.connectionState });
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
    channel.addEventListener("open", () => channel.send(JSON.stringify(protocol.hello(this.name))));
    channel.addEventListener("close", () => {
      if (channel === this.control) this.emit("control-closed", {});
    });
    channel.addEventListener("message", (event) => {
      const message = protocol.parseControlMessage(event.data);
      if (message === null) return;
      if (message.type === "hello") {
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
      } else if (message.type === "cursors") {
        this.emit("cursors", message);
      }
    });
  }

  attachChat(channel) {
    this.chat = channel;
    channel.addEventListener("open", () => channel.send(JSON.stringify(protocol.chatHello())));
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
    this.microphoneSender = null;
    this.connectionId = null;
  }
}
