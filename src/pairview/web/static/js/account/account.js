// The account page: name, address, password, desktop app code, sign-out, deletion.

import { onSubmit, pageReady, request, requireUser, showError, showMessage } from "./api.js";

function show(user) {
  document.getElementById("current-name").textContent = user.display_name;
  document.getElementById("current-email").textContent = user.email ?? "none";
  for (const element of document.querySelectorAll(".needs-password")) {
    element.hidden = !user.has_password;
  }
}

async function main() {
  let user = await requireUser();
  show(user);

  onSubmit(document.getElementById("name-form"), async ({ display_name }) => {
    user = await request("PATCH", "/api/account/name", { display_name });
    show(user);
    showMessage("Your name is changed.");
  });

  onSubmit(document.getElementById("email-form"), async ({ email, password }) => {
    const answer = await request("POST", "/api/account/email", { email, password: password || null });
    showMessage(answer.detail);
  });

  const passwordForm = document.getElementById("password-form");
  onSubmit(passwordForm, async ({ current_password, new_password }) => {
    const answer = await request("PUT", "/api/account/password", {
      current_password: current_password || null,
      new_password,
    });
    passwordForm.reset();
    // The session changed, and so did its CSRF token.
    await requireUser();
    showMessage(answer.detail);
  });

  document.getElementById("code-button").addEventListener("click", async () => {
    try {
      const answer = await request("POST", "/api/auth/app/code");
      const code = document.getElementById("code");
      code.textContent = `${answer.code} (valid for ${Math.round(answer.expires_in / 60)} minutes, once)`;
      code.hidden = false;
    } catch (error) {
      showError(error);
    }
  });

  document.getElementById("sign-out").addEventListener("click", async () => {
    try {
      await request("POST", "/api/auth/sign-out");
      location.assign("/sign-in");
    } catch (error) {
      showError(error);
    }
  });

  onSubmit(document.getElementById("delete-form"), async ({ password }) => {
    await request("DELETE", "/api/account", { password: password || null });
    location.assign("/sign-up");
  });
  pageReady();
}

main().catch(showError);
