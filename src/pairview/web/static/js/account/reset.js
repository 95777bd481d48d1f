// Password reset: ask for a link, or with a link's secret set a new password.

import { onSubmit, request, showMessage, takeFragment } from "./api.js";

const token = takeFragment();
const requestForm = document.getElementById("request-form");
const completeForm = document.getElementById("complete-form");

if (token) {
  completeForm.hidden = false;
  onSubmit(completeForm, async ({ password }) => {
    const answer = await request("POST", "/api/auth/reset/complete", { token, password });
    completeForm.hidden = true;
    showMessage(answer.detail);
  });
} else {
  requestForm.hidden = false;
  onSubmit(requestForm, async ({ email }) => {
    const answer = await request("POST", "/api/auth/reset", { email });
    requestForm.hidden = true;
    showMessage(answer.detail);
  });
}
