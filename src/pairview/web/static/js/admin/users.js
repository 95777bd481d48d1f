// The accounts page: every account, and deletion of one with its personal data.

import { request, requireUser, showError, showMessage } from "../account/api.js";

function addRow(body, user, me) {
  const row = body.insertRow();
  row.dataset.user = user.id;
  row.insertCell().textContent = user.display_name;
  row.insertCell().textContent = user.email ?? "";
  row.insertCell().textContent = user.role;
  row.insertCell().textContent = user.created_at.slice(0, 10);
  const actions = row.insertCell();
  if (user.id === me.id) return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "danger";
  button.textContent = "Delete";
  button.addEventListener("click", async () => {
    if (!confirm(`Delete the account of ${user.display_name} and its personal data?`)) return;
    try {
      await request("DELETE", `/api/admin/users/${encodeURIComponent(user.id)}`);
      row.remove();
      showMessage(`The account of ${user.display_name} is deleted.`);
    } catch (error) {
      showError(error);
    }
  });
  actions.append(button);
}

async function main() {
  const me = await requireUser();
  const users = await request("GET", "/api/admin/users");
  const body = document.querySelector("#user-table tbody");
  for (const user of users) addRow(body, user, me);
  document.body.dataset.loaded = "yes";
}

main().catch(showError);
