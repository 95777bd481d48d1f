// The chat panel: messages with their sender and time, and links that open
// safely. Every piece of text goes into the page with textContent; links are
// anchors built here, and only for http: and https: addresses.

import { chatProblem, chatSend } from "./protocol.js";

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// Punctuation that usually ends a sentence rather than a link.
const TRAILING = /[.,;:!?)\]}'"]+$/;
// A list scrolled to within this many pixels of its end counts as at the end.
const FOLLOW_DISTANCE = 40;

/** Return the href for a link candidate, or null unless it is a valid http(s) URL. */
export function safeHref(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

/** Append `text` to `parent` as text nodes and anchors for its http(s) links. */
export function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let candidate = match[0];
    const trailing = TRAILING.exec(candidate);
    if (trailing) candidate = candidate.slice(0, -trailing[0].length);
    const href = safeHref(candidate);
    if (href === null) continue;
    parent.append(document.createTextNode(text.slice(last, match.index)));
    const anchor = document.createElement("a");
    anchor.href = href;
    anchor.textContent = candidate;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    parent.append(anchor);
    last = match.index + candidate.length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

export class ChatPanel {
  /**
   * @param {{list: HTMLElement, form: HTMLFormElement, input: HTMLTextAreaElement, error: HTMLElement}} elements
   * @param {(message: object) => boolean} send  sends a chat-channel message to the host
   */
  constructor(elements, send) {
    this.elements = elements;
    this.send = send;
    this.selfId = null;
    elements.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    elements.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    elements.input.addEventListener("input", () => this.showError(""));
    // The list follows new messages until the reader scrolls up, and again
    // once they scroll back down. It keeps following when it gets shorter,
    // as it does while the transfer list above it grows.
    const list = elements.list;
    this.following = true;
    list.addEventListener("scroll", () => {
      this.following = list.scrollHeight - list.scrollTop - list.clientHeight < FOLLOW_DISTANCE;
    });
    new ResizeObserver(() => {
      if (this.following) list.scrollTop = list.scrollHeight;
    }).observe(list);
  }

  submit() {
    const text = this.elements.input.value;
    const problem = chatProblem(text);
    if (problem) {
      this.showError(problem);
      return;
    }
    if (!this.send(chatSend(text))) {
      this.showError("Not connected to the host; the message was not sent.");
      return;
    }
    this.elements.input.value = "";
  }

  showError(text) {
    this.elements.error.textContent = text;
    this.elements.error.hidden = text === "";
  }

  /** Show a chat message as the host passed it on. */
  add(message) {
    const item = document.createElement("li");
    item.className = "chat-message";
    item.dataset.sender = message.sender.id;
    item.dataset.role = message.sender.role;
    if (message.sender.id === this.selfId) item.dataset.self = "yes";
    const header = document.createElement("div");
    header.className = "message-header";
    const name = document.createElement("span");
    name.className = "message-name";
    name.textContent = message.sender.role === "host" ? `${message.sender.name} (host)` : message.sender.name;
    const time = document.createElement("time");
    const date = new Date(message.time);
    time.dateTime = date.toISOString();
    time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    header.append(name, time);
    const body = document.createElement("div");
    body.className = "message-text";
    appendLinkified(body, message.text);
    item.append(header, body);
    const list = this.elements.list;
    list.append(item);
    if (this.following || item.dataset.self === "yes") list.scrollTop = list.scrollHeight;
  }
}
