// A worker that reads a file for the page's file sender and hashes it, so
// that neither job takes time on the page's main thread, where the page
// keeps the data channel fed.
//
// The page sends {type: "start", file} once, then {type: "more", blocks: n}
// whenever it can take n more blocks. The worker replies with
// {type: "block", bytes} for each block in order (the buffer is
// transferred, not copied), one {type: "hash", hex} once the whole file is
// hashed, and {type: "error", message} if the file cannot be read.
//
// A file that crypto.subtle can hash is read into one buffer as fast as the
// reads go, whatever the page asked for, so that its hash is ready before
// the page sends the last block. Any other file is hashed block by block in
// JavaScript, and read at most AHEAD blocks before the page requests them.

import { hashesNatively, nativeSha256, Sha256 } from "./sha256.js";

const READ_BLOCK = 1024 * 1024;
const AHEAD = 2;

const queue = [];
let credit = 0;
let whole = null;
let roomMade = null;

self.addEventListener("message", (event) => {
  const message = event.data;
  if (message.type === "start") {
    read(message.file).catch((error) => self.postMessage({ type: "error", message: error.message }));
  } else if (message.type === "more") {
    credit += message.blocks;
    post();
  }
});

/** Post queued blocks while the page has room for them. */
function post() {
  while (credit > 0 && queue.length > 0) {
    const block = queue.shift();
    // A block of the whole-file buffer is copied: the buffer stays for the hash.
    const bytes = whole !== null && block.buffer === whole.buffer ? block.slice() : block;
    self.postMessage({ type: "block", bytes }, [bytes.buffer]);
    credit -= 1;
  }
  const wake = roomMade;
  roomMade = null;
  if (wake) wake();
}

async function readBlock(file, offset, length) {
  const buffer = await file.slice(offset, offset + length).arrayBuffer();
  if (buffer.byteLength !== length) throw new Error("the file changed while it was sent");
  return new Uint8Array(buffer);
}

async function read(file) {
  const size = file.size;
  whole = hashesNatively(size) ? new Uint8Array(size) : null;
  const hash = whole === null ? new Sha256() : null;
  for (let offset = 0; offset < size; offset += READ_BLOCK) {
    while (hash !== null && queue.length >= AHEAD) {
      await new Promise((resolve) => { roomMade = resolve; });
    }
    const length = Math.min(READ_BLOCK, size - offset);
    const block = await readBlock(file, offset, length);
    if (whole !== null) {
      whole.set(block, offset);
      queue.push(whole.subarray(offset, offset + length));
    } else {
      hash.update(block);
      queue.push(block);
    }
    post();
  }
  const hex = hash !== null ? hash.hex() : await nativeSha256(whole);
  self.postMessage({ type: "hash", hex });
}
