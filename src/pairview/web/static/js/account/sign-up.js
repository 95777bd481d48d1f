// The sign-up page: the account is made once the mailed link is opened.

import { onSubmit, request, showMessage } from "./api.js";

const form = document.getElementById("sign-up-form");
onSubmit(form, async ({ display_name, email, password }) => {
  const answer = await request("POST", "/api/auth/sign-up", { display_name, email, password });
  form.hidden = true;
  showMessage(answer.detail);
});
