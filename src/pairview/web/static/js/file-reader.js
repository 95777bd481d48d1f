// A worker that reads a file for the page's file senders and hashes it, so
// that neither job takes time on the page's main thread, where the page
// keeps the data channels fed.
//
// The page sends {type: "start", file} once, then {type: "more", consumer,
// blocks: n} whenever consumer number `consumer` can take n more blocks.
// Each consumer is one receiver of the file, numbered from 0. The worker
// replies with {type: "block", consumer, bytes} for each block, in order for
// each consumer (the buffer is transferred, not copied), one {type: "hash",
// hex} once the whole file is hashed, and {type: "error", message} if the
// file cannot be read.
//
// The file is read as one stream: on a two-core machine, Chromium took 0.41 s
// of CPU time to read 50 MB in 1 MiB slices one after the other, and 0.05 s
// to stream it.
//
// A file that crypto.subtle can hash is read into one buffer as fast as the
// reads go, whatever the page asked for, so that its hash is ready before
// the page sends the last block. Its blocks are copied out of that buffer
// for any number of consumers, so a file sent to everyone is read once.
// Any other file is hashed in JavaScript as it is read, for one consumer
// only, and read at most AHEAD blocks before the page requests them.

import { hashesNatively, nativeSha256, Sha256 } from "./sha256.js";

const READ_BLOCK = 1024 * 1024;
const AHEAD = 2;

// Each consumer's next block and how many more blocks it can take.
const consumers = new Map();
// Blocks read for the one consumer of a file hashed in JavaScript.
const queue = [];
let whole = null;
let filled = 0;
let roomMade = null;

self.addEventListener("message", (event) => {
  const message = event.data;
  if (message.type === "start") {
    read(message.file).catch((error) => self.postMessage({ type: "error", message: describe(error) }));
  } else if (message.type === "more") {
    const consumer = consumers.get(message.consumer) ?? { next: 0, credit: 0 };
    consumers.set(message.consumer, consumer);
    consumer.credit += message.blocks;
    post();
  }
});

/** Post the blocks that each consumer has room for and that are read. */
function post() {
  if (whole !== null) {
    for (const [number, consumer] of consumers) {
      while (consumer.credit > 0) {
        const start = consumer.next * READ_BLOCK;
        const end = Math.min(start + READ_BLOCK, whole.length);
        if (start >= whole.length || end > filled) break;
        // A copy: the whole buffer stays, for the hash and the other consumers.
        const bytes = whole.slice(start, end);
        self.postMessage({ type: "block", consumer: number, bytes }, [bytes.buffer]);
        consumer.next += 1;
        consumer.credit -= 1;
      }
    }
    return;
  }
  const consumer = consumers.get(0);
  while (consumer !== undefined && consumer.credit > 0 && queue.length > 0) {
    const bytes = queue.shift();
    self.postMessage({ type: "block", consumer: 0, bytes }, [bytes.buffer]);
    consumer.credit -= 1;
  }
  const wake = roomMade;
  roomMade = null;
  if (wake) wake();
}

const CHANGED = "the file changed while it was sent";
// Plain words for the errors a browser gives for a file that was picked earlier.
const READ_PROBLEMS = {
  NotFoundError: "it was moved or deleted after it was chosen",
  NotReadableError: "it changed or can no longer be read since it was chosen",
};

/** Return why the file cannot be read, in words its sender can act on. */
function describe(error) {
  return READ_PROBLEMS[error.name] ?? error.message;
}

/** Wait until the page has taken a block from the queue. */
function room() {
  return new Promise((resolve) => { roomMade = resolve; });
}

/** Read `file` as a stream, passing each piece to `take` in order, and check its size. */
async function readPieces(file, take) {
  const reader = file.stream().getReader();
  let total = 0;
  for (;;) {
    let result;
    try {
      result = await reader.read();
    } catch (error) {
      throw await readError(file, error);
    }
    const { done, value } = result;
    if (done) break;
    total += value.length;
    if (total > file.size) throw new Error(CHANGED);
    await take(value);
  }
  if (total !== file.size) throw new Error(CHANGED);
}

/** Return the error that names why `file` cannot be read, in place of a stream's `error`. */
async function readError(file, error) {
  // Chromium fails a stream with "network error", where reading a slice names the cause.
  try {
    await file.slice(0, 1).arrayBuffer();
  } catch (cause) {
    return cause;
  }
  return error;
}

/** Read the file into `whole`, posting each block as soon as it is complete. */
async function readWhole(file) {
  await readPieces(file, (piece) => {
    whole.set(piece, filled);
    filled += piece.length;
    post();
  });
  return nativeSha256(whole);
}

/** Read the file block by block, hashing it in JavaScript and keeping at most AHEAD blocks. */
async function readHashing(file) {
  const hash = new Sha256();
  let left = file.size;
  let block = new Uint8Array(Math.min(READ_BLOCK, left));
  let used = 0;
  await readPieces(file, async (piece) => {
    hash.update(piece);
    for (let at = 0; at < piece.length;) {
      const length = Math.min(block.length - used, piece.length - at);
      block.set(piece.subarray(at, at + length), used);
      used += length;
      at += length;
      if (used < block.length) continue;
      queue.push(block);
      left -= used;
      post();
      while (queue.length >= AHEAD) await room();
      block = new Uint8Array(Math.min(READ_BLOCK, left));
      used = 0;
    }
  });
  return hash.hex();
}

async function read(file) {
  whole = hashesNatively(file.size) ? new Uint8Array(file.size) : null;
  const hex = whole !== null ? await readWhole(file) : await readHashing(file);
  self.postMessage({ type: "hash", hex });
}
