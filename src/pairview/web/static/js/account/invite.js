// An invitation link: uses it and goes on to the room.

import { currentUser, joinAs, request, showMessage, takeFragment } from "./api.js";

async function main() {
  const token = takeFragment();
  const text = document.getElementById("invite-text");
  if (!token) {
    text.textContent = "This link is incomplete: copy all of it.";
    return;
  }
  await currentUser();
  try {
    const answer = await request("POST", "/api/invitations/redeem", { token });
    joinAs(answer.room_url, answer.display_name);
  } catch (error) {
    text.textContent = "";
    showMessage(error.message, "error");
    if (error.status === 404) {
      const link = document.createElement("a");
      link.href = "/sign-in";
      link.textContent = "sign in";
      const hint = document.createElement("p");
      hint.append("If it was sent to your account, ", link, " and open it again.");
      text.after(hint);
    }
  }
}

main();
