// Sign in with the admin key: checked against the admin API, then kept in sessionStorage.

import { ADMIN, request, session } from "../api.js";
import { button, describe, notice } from "../components.js";
import { h, replace } from "../dom.js";
import { BASE, navigate } from "../router.js";

export function mount(root, { query }) {
  const input = h("input", {
    id: "admin-key",
    name: "admin-key",
    type: "password",
    autocomplete: "current-password",
    required: true,
    spellcheck: "false",
    "aria-describedby": "admin-key-help",
  });
  const message = h("div", { class: "form-message", "aria-live": "polite" });
  if (query.get("expired")) replace(message, notice("warn", "Your session ended. Sign in again."));
  const submit = button("Sign in", { kind: "primary", type: "submit" });
  const form = h(
    "form",
    { class: "login-card", on: { submit: (event) => signIn(event, input, message, submit, query) } },
    h("div", { class: "login-brand" }, h("img", { src: `${BASE}/assets/favicon.svg`, alt: "" }), "Plexus"),
    h("h1", { text: "Sign in to the dashboard" }),
    // For password managers: the key belongs to the "admin" account.
    h("input", { type: "text", name: "username", autocomplete: "username", value: "admin", hidden: true, "aria-hidden": "true", tabindex: "-1" }),
    h("label", { for: "admin-key", text: "Admin key" }),
    input,
    h("p", { id: "admin-key-help", class: "hint" }, "The value of ", h("code", { text: "PLEXUS_ADMIN_KEY" }), " the gateway was started with. It stays in this tab only."),
    message,
    submit,
  );
  root.append(form);
  input.focus();
}

async function signIn(event, input, message, submit, query) {
  event.preventDefault();
  const key = input.value.trim();
  if (!key) return;
  submit.disabled = true;
  replace(message);
  try {
    await request("/health", { key });
    session.start(key);
    const next = query.get("next");
    navigate(next && next.startsWith(`${BASE}`) && !next.startsWith(`${BASE}/login`) ? next : BASE, {
      replace: true,
    });
  } catch (error) {
    const text =
      error.status === 401
        ? "That key was refused."
        : error.status === 404
          ? `The admin API is off (${ADMIN} answered 404): start Plexus with PLEXUS_ADMIN_KEY set.`
          : describe(error);
    replace(message, notice("bad", text));
    input.select();
  } finally {
    submit.disabled = false;
  }
}
