// Calls to the server's REST API, and what every account page shares: the
// signed-in user, the status message, and secrets read from the URL fragment.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, detail, field) {
    super(detail);
    this.status = status;
    this.field = field ?? null;
  }
}

function describe(body, status) {
  if (typeof body?.detail === "string") return body.detail;
  if (Array.isArray(body?.detail) && body.detail.length > 0) {
    const first = body.detail[0];
    const where = (first.loc ?? []).slice(1).join(".");
    return where ? `${where}: ${first.msg}` : first.msg;
  }
  return `The server answered with HTTP ${status}.`;
}

/** Send a JSON request; return the parsed response, or throw ApiError with the server's reason. */
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrfToken && method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, describe(answer, response.status), answer?.field);
  return answer;
}

/** Add a link to the administration pages to the page's navigation, once. */
function linkAdministration() {
  const nav = document.querySelector(".site-nav");
  if (!nav || nav.querySelector('a[href^="/admin"]')) return;
  const link = document.createElement("a");
  link.href = "/admin";
  link.textContent = "Administration";
  nav.append(link);
}

/** Return the signed-in user, or null; keeps the session's CSRF token for later requests. */
export async function currentUser() {
  try {
    const session = await request("GET", "/api/auth/session");
    csrfToken = session.csrf_token;
    if (session.user.role === "admin") linkAdministration();
    return session.user;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** Return the signed-in user, or send the browser to the sign-in page. */
export async function requireUser() {
  const user = await currentUser();
  if (user === null) {
    location.assign("/sign-in");
    return new Promise(() => {});
  }
  return user;
}

export function showMessage(text, level = "info") {
  const element = document.getElementById("message");
  element.textContent = text;
  element.dataset.level = level;
  element.hidden = false;
}

export function showError(error) {
  showMessage(error instanceof Error ? error.message : String(error), "error");
}

/** Read the secret in the URL fragment once, and remove it from the address bar and history. */
export function takeFragment() {
  const secret = decodeURIComponent(location.hash.slice(1));
  if (secret) history.replaceState(null, "", location.pathname + location.search);
  return secret;
}

/** Run `action` when `form` is submitted, showing any error; the form is disabled meanwhile. */
export function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form).entries());
    form.inert = true;
    try {
      await action(fields);
    } catch (error) {
      showError(error);
    } finally {
      form.inert = false;
    }
  });
}

/** Mark the page as ready for input: every form and button has its handler now. */
export function pageReady() {
  document.body.dataset.ready = "true";
}

/** Remember the name to join a room with, so that the room page joins without asking. */
export function joinAs(roomUrl, name) {
  const room = /^\/r\/([A-Za-z0-9_-]+)#/.exec(roomUrl)?.[1];
  if (room && name) sessionStorage.setItem("pairview.join", JSON.stringify({ room, name }));
  location.assign(roomUrl);
}
