// Opens a mailed link: confirms a new account (and signs in) or a new address.

import { request, showError, showMessage, takeFragment } from "./api.js";

async function main() {
  const token = takeFragment();
  if (!token) {
    showMessage("This link is incomplete: copy all of it from the mail.", "error");
    return;
  }
  const answer = await request("POST", "/api/auth/verify", { token });
  if (answer.result === "signed-up") {
    location.assign("/share");
  } else {
    showMessage("Your new address is confirmed.");
  }
}

main().catch(showError);
