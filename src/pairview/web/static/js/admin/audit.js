// The audit log page: entries newest first, paged back on request.

import { request, requireUser, showError } from "../account/api.js";

const PAGE = 100;

function addRows(entries) {
  const body = document.querySelector("#audit-table tbody");
  for (const entry of entries) {
    const row = body.insertRow();
    row.insertCell().textContent = entry.occurred_at.replace("T", " ").slice(0, 19);
    row.insertCell().textContent = entry.actor_id ?? "command line";
    row.insertCell().textContent = entry.action;
    row.insertCell().textContent = entry.target;
    row.insertCell().textContent = entry.address ?? "";
  }
}

async function loadPage(before) {
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (before !== null) query.set("before", String(before));
  const entries = await request("GET", `/api/admin/audit?${query}`);
  addRows(entries);
  const older = document.getElementById("older");
  older.hidden = entries.length < PAGE;
  older.dataset.before = entries.length ? String(entries[entries.length - 1].id) : "";
}

async function main() {
  await requireUser();
  const older = document.getElementById("older");
  older.addEventListener("click", () => loadPage(Number(older.dataset.before)).catch(showError));
  await loadPage(null);
  document.body.dataset.loaded = "yes";
}

main().catch(showError);
