// After a first sign-in through a provider: pick a display name, then the account is made.

import { onSubmit, pageReady, request, showError } from "./api.js";

async function main() {
  const pending = await request("GET", "/api/auth/welcome");
  document.getElementById("welcome-text").textContent =
    `You signed in with ${pending.provider}. Pick the name others see when you share or join.`;
  document.getElementById("display-name").value = pending.suggested_name;
  onSubmit(document.getElementById("welcome-form"), async ({ display_name }) => {
    await request("POST", "/api/auth/welcome", { display_name });
    location.assign("/share");
  });
  pageReady();
}

main().catch(showError);
