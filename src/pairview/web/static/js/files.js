// File transfers in the page: one data channel per file, as
// pairview/protocol/transfer.py describes. Sending leaves the reading and
// hashing of the file to a worker (file-reader.js), so that the main thread
// only moves blocks into the channel and keeps its bufferedAmount low.
// Receiving keeps the chunks in memory, checks size and SHA-256 at the end,
// then hands the file to the browser's downloads.
//
// crypto.subtle hashes a whole buffer at once, natively and fast, so files
// up to NATIVE_HASH_LIMIT are hashed with it. Larger files, and every file on
// a page that is not a secure context (where crypto.subtle is missing), are
// hashed chunk by chunk in JavaScript.

import * as protocol from "./protocol.js";
import { hashesNatively, nativeSha256, Sha256 } from "./sha256.js";

const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const CLOSE_DELAY_MS = 1000;
// A progress bar is redrawn at most this often, although acknowledgements
// arrive for every 1 MiB, 20 to 30 times a second on a fast link.
const PROGRESS_REDRAW_MS = 100;
// Blocks the page requests from the reader before it sends any: 4 MiB.
const BLOCKS_AHEAD = 4;

/**
 * One worker that reads and hashes one file for one or more FileSources,
 * one for each receiver. A file that the worker hashes in JavaScript has a
 * reading for each receiver (see file-reader.js).
 */
class FileReading {
  constructor(file) {
    this.sources = [];
    this.closed = 0;
    this.worker = new Worker(new URL("./file-reader.js", import.meta.url), { type: "module" });
    this.worker.addEventListener("message", (event) => {
      const message = event.data;
      if (message.type === "block") this.sources[message.consumer]?.receive(message);
      else for (const source of this.sources) source.receive(message);
    });
    this.worker.addEventListener("error", (event) => {
      event.preventDefault();
      for (const source of this.sources) source.fail(event.message || "the file reader stopped");
    });
    this.worker.postMessage({ type: "start", file });
  }

  /** Return a new source of the file's blocks, for one more receiver. */
  source() {
    const source = new FileSource(this, this.sources.length);
    this.sources.push(source);
    source.request(BLOCKS_AHEAD);
    return source;
  }

  request(consumer, blocks) {
    this.worker.postMessage({ type: "more", consumer, blocks });
  }

  /** Count one source as closed, and end the worker once every source is closed. */
  release() {
    this.closed += 1;
    if (this.closed === this.sources.length) this.worker.terminate();
  }
}

/**
 * A file's blocks, in order, and its SHA-256, for one receiver. `next()`
 * returns the next block; `hash` settles with the hexadecimal digest. Both
 * fail with the reason if the file cannot be read.
 */
class FileSource {
  constructor(reading, consumer) {
    this.reading = reading;
    this.consumer = consumer;
    this.closed = false;
    this.blocks = [];
    this.failure = null;
    this.arrived = null;
    this.hash = new Promise((resolve, reject) => {
      this.resolveHash = resolve;
      this.rejectHash = reject;
    });
    this.hash.catch(() => {});
  }

  request(blocks) {
    this.reading.request(this.consumer, blocks);
  }

  receive(message) {
    if (message.type === "block") {
      // A closed source drops blocks still arriving, which the worker posted
      // before the close, so they are not kept while other receivers go on.
      if (!this.closed) this.blocks.push(message.bytes);
    } else if (message.type === "hash") {
      this.resolveHash(message.hex);
    } else if (message.type === "error") {
      this.fail(message.message);
    }
    this.wake();
  }

  fail(reason) {
    this.failure ??= new Error(reason);
    this.rejectHash(this.failure);
    this.wake();
  }

  wake() {
    const resolve = this.arrived;
    this.arrived = null;
    if (resolve) resolve();
  }

  async next() {
    while (this.blocks.length === 0) {
      if (this.failure) throw this.failure;
      await new Promise((resolve) => { this.arrived = resolve; });
    }
    this.request(1);
    return this.blocks.shift();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.blocks = [];
    this.reading.release();
  }
}

/** Format a byte count as "20.0 MB", in decimal units as file managers show. */
export function formatSize(size) {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let value = size;
  for (const unit of units) {
    if (value < 1000 || unit === "TB") return unit === "bytes" ? `${value} bytes` : `${value.toFixed(1)} ${unit}`;
    value /= 1000;
  }
  return `${size} bytes`;
}

/**
 * Format a size and the limit it is compared with so that unequal values read
 * differently: in bytes with thousands separators where both round to the
 * same text, such as "5.0 MB".
 */
export function formatSizes(size, limit) {
  const rounded = [formatSize(size), formatSize(limit)];
  if (rounded[0] !== rounded[1] || size === limit) return rounded;
  return [size, limit].map((value) => `${value.toLocaleString("en-US")} bytes`);
}

/** Return `text` ending in one full stop, unless it ends in . ! or ?. */
function sentence(text) {
  const trimmed = text.trimEnd();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/**
 * Return `text` as a sentence, followed by `reason` after a colon unless it is
 * empty. Reasons start in lower case, as pairview/protocol/transfer.py defines them.
 */
export function withReason(text, reason) {
  return reason ? `${text}: ${sentence(reason)}` : `${text}.`;
}

/** Return a reason as a sentence of its own, starting with a capital. */
function reasonSentence(reason) {
  const text = sentence(reason);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** One transfer's entry in the list: a line of text, a progress bar and buttons. */
class TransferView {
  constructor(list, title) {
    this.item = document.createElement("li");
    this.item.className = "transfer";
    this.title = document.createElement("div");
    this.title.className = "transfer-title";
    this.title.textContent = title;
    this.bar = document.createElement("progress");
    this.bar.max = 1;
    this.bar.value = 0;
    this.status = document.createElement("div");
    this.status.className = "transfer-status";
    this.buttons = document.createElement("div");
    this.buttons.className = "transfer-buttons";
    this.item.append(this.title, this.bar, this.status, this.buttons);
    list.prepend(this.item);
    // Show the newest entry, which may be an offer that needs a reply.
    list.scrollTop = 0;
    this.progress = null;
    this.movingText = null;
    this.progressShown = -Infinity;
    this.progressTimer = null;
  }

  setState(state, text) {
    this.item.dataset.state = state;
    this.status.textContent = text;
    // While bytes move, the status also counts them: "Sending… 8.4 MB of 12.6 MB".
    this.movingText = state === "transferring" ? text : null;
  }

  /** Show `done` of `total` bytes: at once when done, otherwise at most every PROGRESS_REDRAW_MS. */
  setProgress(done, total) {
    this.progress = [done, total];
    if (done === total) {
      clearTimeout(this.progressTimer);
      this.progressTimer = null;
      this.showProgress();
      return;
    }
    if (this.progressTimer !== null) return;
    const wait = this.progressShown + PROGRESS_REDRAW_MS - performance.now();
    if (wait <= 0) {
      this.showProgress();
      return;
    }
    this.progressTimer = setTimeout(() => {
      this.progressTimer = null;
      this.showProgress();
    }, wait);
  }

  showProgress() {
    const [done, total] = this.progress;
    this.progressShown = performance.now();
    this.bar.max = Math.max(total, 1);
    this.bar.value = total === 0 ? 1 : done;
    this.item.dataset.progress = String(done);
    if (this.movingText !== null) {
      this.status.textContent = `${this.movingText} ${formatSize(done)} of ${formatSize(total)}`;
    }
  }

  button(label, action, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.dataset.action = action;
    button.addEventListener("click", onClick);
    this.buttons.append(button);
    return button;
  }

  clearButtons() {
    this.buttons.replaceChildren();
  }
}

class Transfer {
  constructor(channel, view) {
    this.channel = channel;
    this.view = view;
    this.finished = false;
    channel.binaryType = "arraybuffer";
  }

  sendMessage(message) {
    if (this.channel.readyState !== "open") return false;
    this.channel.send(JSON.stringify(message));
    return true;
  }

  finish(state, text) {
    if (this.finished) return;
    this.finished = true;
    this.view.setState(state, text);
    this.view.clearButtons();
    setTimeout(() => this.channel.close(), CLOSE_DELAY_MS);
  }

  /** Cancel, sending `reason` to the other side and showing it on this page. An empty reason shows none. */
  cancel(reason) {
    if (this.finished) return;
    this.sendMessage(protocol.fileCancel(reason));
    this.finish("cancelled", withReason("Cancelled", reason));
    this.onCancelled();
  }

  onCancelled() {}
}

class OutgoingTransfer extends Transfer {
  constructor(channel, view, file, offer, source) {
    super(channel, view);
    this.file = file;
    this.offer = offer;
    this.state = "offered";
    this.sent = 0;
    this.acknowledged = 0;
    this.wakeUp = null;
    // Reading starts with the offer: while the receiver decides, the worker
    // reads the first blocks and, for a file hashed natively, all of it.
    this.source = source;
    this.source.hash.catch((error) => {
      if (this.state === "offered") this.failRead(error);
    });
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.addEventListener("open", () => {
      // The reader may have failed, and cancelled the transfer, before the channel opened.
      if (this.finished) return;
      this.sendMessage(offer);
      view.setState("offered", `Waiting for ${this.receiverName} to accept…`);
    });
    channel.addEventListener("message", (event) => this.receive(event.data));
    channel.addEventListener("close", () => {
      if (!this.finished) this.finish("cancelled", "Stopped: the connection closed.");
      this.wake();
    });
    channel.addEventListener("bufferedamountlow", () => this.wake());
    // The other side shows who cancelled, so a reason would only repeat it.
    view.button("Cancel", "cancel", () => this.cancel(""));
  }

  wake() {
    const resolve = this.wakeUp;
    this.wakeUp = null;
    if (resolve) resolve();
  }

  sleep() {
    return new Promise((resolve) => { this.wakeUp = resolve; });
  }

  finish(state, text) {
    super.finish(state, text);
    this.source.close();
  }

  /** Cancel because the file could not be read, and show why here too. */
  failRead(error) {
    this.cancel(`the file could not be read: ${error.message}`);
  }

  receive(data) {
    const message = protocol.parseTransferMessage(data);
    if (message === null || this.finished) return;
    switch (message.type) {
      case "file-accept":
        if (this.state !== "offered") return;
        this.state = "transferring";
        this.view.setState("transferring", "Sending…");
        this.pump().catch((error) => this.failRead(error));
        break;
      case "file-decline": {
        // A reason is shown as a sentence of its own, such as "The host cannot save files now."
        const receiver = this.offer.to === "host" ? "The host" : this.receiverName;
        this.finish("declined", message.reason ? reasonSentence(message.reason) : `${receiver} declined the file.`);
        break;
      }
      case "file-progress":
        if (message.received < this.acknowledged || message.received > this.sent) {
          this.cancel("the receiver acknowledged bytes it cannot have");
          return;
        }
        this.acknowledged = message.received;
        this.view.setProgress(this.acknowledged, this.file.size);
        this.wake();
        break;
      case "file-complete":
        this.view.setProgress(this.file.size, this.file.size);
        this.finish("complete", `Sent ${formatSize(this.file.size)}; the receiver checked its SHA-256.`);
        break;
      case "file-cancel": {
        // The host sets `by` to "host" when it stopped a file on its way to another guest.
        const by = this.offer.to === "host" || message.by === "host" ? "the host" : "the receiver";
        this.finish("cancelled", withReason(`Cancelled by ${by}`, message.reason));
        this.wake();
        break;
      }
      case "version-error":
        this.finish("failed", "The receiver speaks another version of file transfer. Reload the page.");
        break;
      default:
        break;
    }
  }

  async pump() {
    const source = this.source;
    try {
      for (let read = 0; read < this.file.size && !this.finished;) {
        const block = await source.next();
        read += block.length;
        for (let start = 0; start < block.length && !this.finished; start += protocol.MAX_CHUNK) {
          // The window may close in the middle of a block.
          while (!this.finished && this.sent - this.acknowledged >= protocol.WINDOW) await this.sleep();
          if (this.finished) break;
          const chunk = block.subarray(start, start + protocol.MAX_CHUNK);
          this.channel.send(chunk);
          this.sent += chunk.length;
        }
        while (!this.finished && this.channel.bufferedAmount > HIGH_WATER) await this.sleep();
      }
      if (this.finished) return;
      const hex = await source.hash;
      if (this.finished) return;
      this.sendMessage(protocol.fileEnd(hex));
      this.view.setState("ended", "Sent; waiting for the receiver to check it…");
    } finally {
      source.close();
    }
  }
}

class IncomingTransfer extends Transfer {
  constructor(channel, view, offer, senderName) {
    super(channel, view);
    this.offer = offer;
    this.state = "offered";
    this.received = 0;
    this.reported = 0;
    // A file hashed natively arrives in one buffer, allocated on accepting.
    // Any other file arrives in a list of chunks, hashed as they come.
    this.buffer = null;
    this.parts = [];
    this.hash = hashesNatively(offer.size) ? null : new Sha256();
    view.setState("offered", `${senderName} sends you ${formatSize(offer.size)}.`);
    view.button("Accept", "accept", () => this.accept());
    view.button("Decline", "decline", () => {
      // The sender's side shows who declined, so a reason would only repeat it.
      this.sendMessage(protocol.fileDecline(""));
      this.finish("declined", "You declined the file.");
    });
    channel.addEventListener("message", (event) => this.receive(event.data));
    channel.addEventListener("close", () => {
      if (!this.finished) this.fail("cancelled", "Stopped: the connection closed.");
    });
  }

  accept() {
    if (this.state !== "offered" || this.finished) return;
    this.state = "transferring";
    if (!this.hash) this.buffer = new Uint8Array(this.offer.size);
    this.sendMessage(protocol.fileAccept());
    this.view.clearButtons();
    this.view.button("Cancel", "cancel", () => this.cancel(""));
    this.view.setState("transferring", "Receiving…");
  }

  fail(state, text) {
    this.buffer = null;
    this.parts = [];
    this.finish(state, text);
  }

  receive(data) {
    if (this.finished) return;
    if (typeof data !== "string") {
      this.receiveData(new Uint8Array(data));
      return;
    }
    const message = protocol.parseTransferMessage(data);
    if (message === null) {
      this.reject("the sender sent a message this page does not know");
    } else if (message.type === "file-end" && this.state === "transferring") {
      this.state = "checking";
      this.end(message.sha256).catch((error) => this.reject(`the file could not be checked: ${error.message}`));
    } else if (message.type === "file-cancel") {
      // The host sets `by` to "host" when it stopped a file on its way from another guest.
      const by = this.offer.sender?.role === "host" || message.by === "host" ? "the host" : "the sender";
      this.fail("cancelled", withReason(`Cancelled by ${by}`, message.reason));
    } else {
      this.reject(`the sender sent ${message.type} at the wrong time`);
    }
  }

  reject(reason) {
    this.sendMessage(protocol.fileCancel(reason));
    this.fail("failed", reasonSentence(reason));
  }

  receiveData(chunk) {
    if (this.state !== "transferring") {
      this.reject("the sender sent data before the file was accepted");
      return;
    }
    if (chunk.length === 0 || chunk.length > protocol.MAX_CHUNK || this.received + chunk.length > this.offer.size) {
      this.reject("the sender sent more than it offered");
      return;
    }
    if (this.buffer) {
      this.buffer.set(chunk, this.received);
    } else {
      this.parts.push(chunk);
      this.hash.update(chunk);
    }
    this.received += chunk.length;
    if (this.received - this.reported >= protocol.PROGRESS_INTERVAL || this.received === this.offer.size) {
      this.reported = this.received;
      this.sendMessage(protocol.fileProgress(this.received));
      this.view.setProgress(this.received, this.offer.size);
    }
  }

  async end(sha256) {
    if (this.received !== this.offer.size) {
      this.reject(`the file ended after ${this.received} of ${this.offer.size} bytes`);
      return;
    }
    const digest = this.hash ? this.hash.hex() : await nativeSha256(this.buffer);
    if (this.finished) return;
    if (digest !== sha256) {
      this.reject("the SHA-256 of the received bytes does not match");
      return;
    }
    const blob = new Blob(this.buffer ? [this.buffer] : this.parts, {
      type: this.offer.mime || "application/octet-stream",
    });
    this.buffer = null;
    this.parts = [];
    this.sendMessage(protocol.fileComplete());
    this.view.setProgress(this.offer.size, this.offer.size);
    this.finish("complete", `Received ${formatSize(this.offer.size)}; SHA-256 verified.`);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = this.offer.name;
    link.textContent = "Save again";
    link.className = "transfer-save";
    this.view.buttons.append(link);
    link.click();
  }
}

export class FileTransfers {
  /**
   * @param {{list: HTMLElement, input: HTMLInputElement, target: HTMLSelectElement, drop: HTMLElement, error: HTMLElement}} elements
   * @param {() => RTCPeerConnection | null} connection  the current connection to the host
   */
  constructor(elements, connection) {
    this.elements = elements;
    this.connection = connection;
    this.maxFileSize = Infinity;
    this.participants = [];
    this.selfId = null;
    this.transfers = new Set();
    elements.input.addEventListener("change", () => {
      this.sendFiles([...elements.input.files]);
      elements.input.value = "";
    });
    for (const type of ["dragenter", "dragover"]) {
      elements.drop.addEventListener(type, (event) => {
        event.preventDefault();
        elements.drop.dataset.over = "yes";
      });
    }
    elements.drop.addEventListener("dragleave", () => { elements.drop.dataset.over = ""; });
    elements.drop.addEventListener("drop", (event) => {
      event.preventDefault();
      elements.drop.dataset.over = "";
      this.sendFiles([...event.dataTransfer.files]);
    });
  }

  setLimit(maxFileSize) {
    this.maxFileSize = maxFileSize > 0 ? maxFileSize : Infinity;
  }

  /** Offer the others in the room as targets, and everyone at once. */
  setRoster(roster) {
    this.selfId = roster.you;
    this.participants = roster.participants.filter((participant) => participant.id !== roster.you);
    const select = this.elements.target;
    const chosen = select.value;
    const options = [["all", "Everyone"], ...this.participants.map((p) => [p.id, p.role === "host" ? `${p.name} (host)` : p.name])];
    select.replaceChildren(...options.map(([value, label]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      return option;
    }));
    if (options.some(([value]) => value === chosen)) select.value = chosen;
  }

  showError(text) {
    this.elements.error.textContent = text;
    this.elements.error.hidden = text === "";
  }

  /** Send each file to the chosen participant, or to every other participant. */
  sendFiles(files) {
    this.showError("");
    const target = this.elements.target.value || "all";
    const receivers = target === "all" ? this.participants : this.participants.filter((p) => p.id === target);
    if (receivers.length === 0) {
      this.showError("Nobody else is in the room to send a file to.");
      return;
    }
    for (const file of files) {
      if (file.size > this.maxFileSize) {
        const [size, limit] = formatSizes(file.size, this.maxFileSize);
        this.showError(`${file.name} is ${size}; this room takes files up to ${limit}.`);
        continue;
      }
      this.sendFile(file, receivers);
    }
  }

  /** Offer `file` to each of `receivers`, reading it once for all where the reader allows. */
  sendFile(file, receivers) {
    if (this.connection() === null) {
      this.showError("Not connected to the host; the file was not sent.");
      return;
    }
    let reading = null;
    for (const receiver of receivers) {
      // A file hashed in JavaScript is read in step with its one receiver.
      if (reading === null || !hashesNatively(file.size)) reading = new FileReading(file);
      this.offerTo(file, receiver, reading.source());
    }
  }

  offerTo(file, receiver, source) {
    const pc = this.connection();
    const to = receiver.role === "host" ? "host" : receiver.id;
    const offer = protocol.fileOffer({ id: randomId(), name: file.name, size: file.size, mime: file.type, to });
    const channel = pc.createDataChannel(protocol.FILE_CHANNEL_LABEL);
    const view = new TransferView(this.elements.list, `${file.name} to ${receiver.name}`);
    view.item.dataset.direction = "out";
    view.item.dataset.name = file.name;
    const transfer = new OutgoingTransfer(channel, view, file, offer, source);
    transfer.receiverName = receiver.name;
    view.setState("opening", "Connecting…");
    this.track(transfer);
  }

  /** Take a file channel that the host opened; its first message is the offer. */
  incoming(channel) {
    channel.binaryType = "arraybuffer";
    channel.addEventListener("message", (event) => {
      const offer = protocol.parseTransferMessage(event.data);
      if (offer === null || offer.type !== "file-offer") {
        channel.close();
        return;
      }
      if (offer.version !== protocol.TRANSFER_VERSION) {
        channel.send(JSON.stringify(protocol.transferVersionError(offer.version)));
        setTimeout(() => channel.close(), CLOSE_DELAY_MS);
        this.showError("Someone sent a file with another version of Pairview. Reload the page.");
        return;
      }
      const sender = offer.sender?.name ?? "Someone";
      const view = new TransferView(this.elements.list, `${offer.name} from ${sender}`);
      view.item.dataset.direction = "in";
      view.item.dataset.name = offer.name;
      const transfer = new IncomingTransfer(channel, view, offer, sender);
      if (offer.size > this.maxFileSize) {
        transfer.sendMessage(protocol.fileDecline("the file is larger than this room allows"));
        transfer.finish("declined", `Declined: the file is larger than this room allows (${formatSize(this.maxFileSize)}).`);
      }
      this.track(transfer);
    }, { once: true });
  }

  track(transfer) {
    this.transfers.add(transfer);
    transfer.channel.addEventListener("close", () => this.transfers.delete(transfer));
  }
}
