// The contacts page: add, list and remove addresses.

import { onSubmit, pageReady, request, requireUser, showError, showMessage } from "./api.js";

const list = document.getElementById("contact-list");

async function refresh() {
  const contacts = await request("GET", "/api/contacts");
  list.replaceChildren(
    ...contacts.map((contact) => {
      const item = document.createElement("li");
      item.dataset.id = contact.id;
      const email = document.createElement("span");
      email.textContent = contact.email;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = "Remove";
      remove.addEventListener("click", async () => {
        try {
          await request("DELETE", `/api/contacts/${encodeURIComponent(contact.id)}`);
          await refresh();
        } catch (error) {
          showError(error);
        }
      });
      item.append(email, remove);
      return item;
    }),
  );
  document.getElementById("no-contacts").hidden = contacts.length > 0;
}

async function main() {
  await requireUser();
  const form = document.getElementById("add-form");
  onSubmit(form, async ({ email }) => {
    const contact = await request("POST", "/api/contacts", { email });
    form.reset();
    showMessage(`Added ${contact.email}.`);
    await refresh();
  });
  await refresh();
  pageReady();
}

main().catch(showError);
