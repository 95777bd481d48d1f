// The share page: invitations to you, live as they come, and invitations to your rooms.

import { joinAs, pageReady, request, requireUser, showError, showMessage } from "./api.js";

const invitationList = document.getElementById("invitation-list");
const roomList = document.getElementById("room-list");
let user = null;
let contacts = [];

function eventsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/events`;
}

async function refreshInvitations() {
  const invitations = await request("GET", "/api/invitations");
  invitationList.replaceChildren(
    ...invitations.map((invitation) => {
      const item = document.createElement("li");
      item.dataset.id = invitation.id;
      const text = document.createElement("span");
      text.textContent = `${invitation.inviter_name} invites you to their screen share`;
      const join = document.createElement("button");
      join.type = "button";
      join.textContent = "Join";
      join.addEventListener("click", async () => {
        try {
          const answer = await request("POST", `/api/invitations/${encodeURIComponent(invitation.id)}/accept`);
          joinAs(answer.room_url, answer.display_name);
        } catch (error) {
          showError(error);
          await refreshInvitations();
        }
      });
      item.append(text, join);
      return item;
    }),
  );
  document.getElementById("no-invitations").hidden = invitations.length > 0;
}

/** Listen for invitations; reconnect with a growing delay, and stop once signed out. */
function listen(delay = 1000) {
  const socket = new WebSocket(eventsUrl());
  socket.addEventListener("open", () => {
    document.body.dataset.events = "open";
    delay = 1000;
  });
  socket.addEventListener("message", () => refreshInvitations().catch(showError));
  socket.addEventListener("close", (event) => {
    document.body.dataset.events = "closed";
    if (event.code === 4010) {
      showMessage("You were signed out.", "error");
      return;
    }
    setTimeout(() => listen(Math.min(delay * 2, 30000)), delay);
  });
}

async function invite(room, body, sent) {
  try {
    const made = await request("POST", `/api/rooms/${encodeURIComponent(room.room_id)}/invitations`, body);
    for (const invitation of made) {
      const item = document.createElement("li");
      item.textContent = invitation.email ? `Invited ${invitation.email}` : "Made a link for one person";
      sent.append(item);
    }
    return made;
  } catch (error) {
    showError(error);
    return [];
  }
}

function roomEntry(room) {
  const entry = document.getElementById("room-template").content.firstElementChild.cloneNode(true);
  entry.dataset.room = room.room_id;
  const until = new Date(room.invite_expires_at).toLocaleString();
  entry.querySelector(".room-title").textContent = `Room ${room.room_id.slice(0, 6)}…, guest link valid until ${until}`;
  const sent = entry.querySelector(".sent");

  const form = entry.querySelector(".invite-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    if (email && (await invite(room, { emails: [email] }, sent)).length) form.reset();
  });

  const select = entry.querySelector("select");
  for (const contact of contacts) {
    const option = document.createElement("option");
    option.value = contact.id;
    option.textContent = contact.email;
    select.append(option);
  }
  entry.querySelector(".invite-contact").addEventListener("click", async () => {
    if (select.value) await invite(room, { contact_ids: [select.value] }, sent);
  });

  const output = entry.querySelector(".link-output");
  entry.querySelector(".make-link").addEventListener("click", async () => {
    const [made] = await invite(room, { links: 1 }, sent);
    if (!made) return;
    output.value = made.link;
    output.hidden = false;
    output.select();
    try {
      await navigator.clipboard.writeText(made.link);
      showMessage("The link is copied. It lets one person in.");
    } catch {
      showMessage("Copy the link below. It lets one person in.");
    }
  });
  return entry;
}

async function refreshRooms() {
  const rooms = await request("GET", "/api/my/rooms");
  roomList.replaceChildren(...rooms.map(roomEntry));
  document.getElementById("no-rooms").hidden = rooms.length > 0;
}

async function main() {
  user = await requireUser();
  document.body.dataset.user = user.id;
  document.getElementById("share-command").textContent = `pairview share --server ${location.origin}`;
  contacts = await request("GET", "/api/contacts");
  await Promise.all([refreshInvitations(), refreshRooms()]);
  listen();
  window.addEventListener("focus", () => refreshRooms().catch(showError));
  pageReady();
}

main().catch(showError);
