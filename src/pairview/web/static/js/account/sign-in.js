// The sign-in page: email and password, and the providers this server offers.

import { onSubmit, request, showMessage } from "./api.js";

const ERRORS = {
  github: "Signing in with GitHub did not work. Try again.",
  slack: "Signing in with Slack did not work. Try again.",
  sso: "Single sign-on did not work. Try again.",
};

async function showProviders() {
  const providers = await request("GET", "/api/auth/providers");
  const list = document.getElementById("provider-list");
  for (const provider of providers) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/api/auth/${encodeURIComponent(provider.id)}/start`;
    link.className = "button";
    link.dataset.provider = provider.id;
    link.textContent = provider.label;
    item.append(link);
    list.append(item);
  }
  document.getElementById("providers").hidden = providers.length === 0;
}

const error = new URLSearchParams(location.search).get("error");
if (error) showMessage(ERRORS[error] ?? "Signing in did not work. Try again.", "error");

onSubmit(document.getElementById("sign-in-form"), async ({ email, password }) => {
  await request("POST", "/api/auth/sign-in", { email, password });
  location.assign("/share");
});

showProviders();
