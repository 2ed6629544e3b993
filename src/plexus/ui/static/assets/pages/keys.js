// Gateway keys: the config file's (read-only here) and those made through the admin API, with
// their limits and what they used. A new or rotated secret is shown once, on this page, until
// the page is left; the gateway keeps only its hash.

import { get, request } from "../api.js";
import { button, card, confirmAction, describe, empty, loading, notice, pageHeader, tag } from "../components.js";
import { h, icon, replace } from "../dom.js";
import { clearProblems, field, select, showProblems, textInput } from "../forms.js";
import { dateTime, int, usd } from "../format.js";

const PERIODS = [
  ["month", "per month"],
  ["week", "per week"],
  ["day", "per day"],
  ["once", "once (for the key's life)"],
];

export function mount(root) {
  const controller = new AbortController();
  const message = h("div", { class: "page-message" });
  const secretSlot = h("div");
  const list = h("div", {}, loading());
  let keys = [];

  const say = (tone, text) => replace(message, notice(tone, text));
  const actions = {
    edit: (key) => editKey(key, (saved) => {
      say("ok", `Key ${saved.name} saved. It applies to requests from now on.`);
      load();
    }),
    create: () => editKey(null, (created, secret) => {
      replace(message);
      replace(secretSlot, secretBox(created.name, secret, "created"));
      load();
    }),
    toggle: async (key) => {
      try {
        await request(path(key.name), { method: "PATCH", json: { disabled: !key.disabled } });
        say("ok", `Key ${key.name} ${key.disabled ? "enabled" : "disabled"}.`);
        load();
      } catch (error) {
        say("bad", describe(error));
      }
    },
    rotate: async (key) => {
      const text = "A new secret replaces the current one, which stops working at once.";
      if (!(await confirmAction(`Rotate key ${key.name}?`, text, "Rotate"))) return;
      try {
        const { data } = await request(`${path(key.name)}/rotate`, { method: "POST" });
        replace(message);
        replace(secretSlot, secretBox(key.name, data.secret, "rotated"));
        load();
      } catch (error) {
        say("bad", describe(error));
      }
    },
    remove: async (key) => {
      const text = "Its secret stops working at once. Its usage stays in the records.";
      if (!(await confirmAction(`Delete key ${key.name}?`, text))) return;
      try {
        await request(path(key.name), { method: "DELETE" });
        replace(secretSlot);
        say("ok", `Deleted key ${key.name}.`);
        load();
      } catch (error) {
        say("bad", describe(error));
      }
    },
  };

  root.append(
    pageHeader(
      "Gateway keys",
      "Keys made here are stored hashed in the usage store; the config file's keys are changed in Settings.",
      button("New key", { icon: "plus", kind: "primary", onClick: actions.create }),
    ),
    message,
    secretSlot,
    card("Keys", list),
  );

  async function load() {
    try {
      keys = (await get("/keys", null, controller.signal)).data || [];
      replace(list, keyTable(keys, actions));
    } catch (error) {
      if (error.name === "AbortError") return;
      const off = error.status === 409;
      replace(list, notice(off ? "info" : "bad", off ? `${describe(error)}. Keys can then be added in the config file only.` : describe(error)));
    }
  }
  load();
  return () => controller.abort();
}

const path = (name) => `/keys/${encodeURIComponent(name)}`;

/** The one place a secret is ever shown: with a copy button and the warning that goes with it. */
function secretBox(name, secret, what) {
  const value = h("input", { type: "text", readonly: true, value: secret, class: "mono secret-value", "aria-label": `Secret of ${name}`, spellcheck: "false" });
  const copied = h("span", { class: "muted", role: "status" });
  const copy = button("Copy", {
    icon: "copy",
    onClick: async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(secret);
        copied.textContent = "Copied.";
      } catch {
        copied.textContent = "Select the secret and copy it.";
      }
    },
  });
  return notice(
    "warn",
    h("p", { class: "strong", text: `Key ${name} ${what}. Copy its secret now: it will not be shown again.` }),
    h("div", { class: "secret-row" }, value, copy, copied),
  );
}

function keyTable(keys, actions) {
  if (!keys.length) return empty("No gateway keys: the API is open to anyone who can reach it. Make a key to close it.");
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "table keys-table" },
      h("thead", {}, h("tr", {}, ["Key", "Source", "Secret", "Models", "Limits", "Used", "State", ""].map((text) => h("th", { scope: "col", text })))),
      h("tbody", {}, keys.map((key) => keyRow(key, actions))),
    ),
  );
}

function keyRow(key, actions) {
  const stored = key.source === "admin";
  const label = (verb) => `${verb} key ${key.name}`;
  return h(
    "tr",
    { "data-key": key.name },
    h("th", { scope: "row" }, h("div", { class: "strong", text: key.name }), key.comment ? h("div", { class: "muted small", text: key.comment }) : null),
    h("td", {}, tag(stored ? "admin" : "config", stored ? "info" : "neutral")),
    h("td", { class: "mono", text: key.prefix ? `${key.prefix}…` : "—" }),
    h("td", {}, key.models ? h("div", { class: "chips" }, key.models.map((m) => h("span", { class: "chip", text: m }))) : h("span", { class: "muted", text: "all" })),
    h("td", {}, limitsText(key)),
    h("td", {}, usedText(key.usage || {})),
    h("td", {}, stateTag(key)),
    h(
      "td",
      { class: "row-actions" },
      stored
        ? [
            button("Edit", { icon: "edit", kind: "ghost", "aria-label": label("Edit"), onClick: () => actions.edit(key) }),
            button(key.disabled ? "Enable" : "Disable", { kind: "ghost", "aria-label": label(key.disabled ? "Enable" : "Disable"), onClick: () => actions.toggle(key) }),
            button("Rotate", { icon: "refresh", kind: "ghost", "aria-label": label("Rotate"), onClick: () => actions.rotate(key) }),
            button("Delete", { icon: "trash", kind: "ghost", "aria-label": label("Delete"), onClick: () => actions.remove(key) }),
          ]
        : h("span", { class: "muted small", text: "in the config file" }),
    ),
  );
}

function limitsText(key) {
  const parts = [];
  if (key.rpm) parts.push(`${int(key.rpm)} rpm`);
  if (key.tpm) parts.push(`${int(key.tpm)} tpm`);
  if (key.max_parallel) parts.push(`${int(key.max_parallel)} at once`);
  if (key.budget) parts.push(`${usd(key.budget.usd)} ${key.budget.period === "once" ? "in all" : `a ${key.budget.period}`}`);
  return parts.length ? parts.join(" · ") : h("span", { class: "muted", text: "none" });
}

function usedText(usage) {
  const parts = [];
  if (usage.rpm) parts.push(`${int(usage.rpm.used)}/${int(usage.rpm.limit)} requests`);
  if (usage.tpm) parts.push(`${int(usage.tpm.used)}/${int(usage.tpm.limit)} tokens`);
  if (usage.budget) parts.push(`${usd(usage.budget.spent_usd)} spent`);
  return parts.length ? parts.join(" · ") : h("span", { class: "muted", text: "—" });
}

function stateTag(key) {
  if (key.disabled) return tag("disabled", "bad");
  if (key.expires && key.expires * 1000 <= Date.now()) return tag("expired", "bad");
  if (key.expires) return h("span", {}, tag("active", "ok"), h("span", { class: "muted small", text: ` until ${dateTime(key.expires)}` }));
  return tag("active", "ok");
}

/** The key form in a dialog: `key` null makes a new key; `onSaved(key, secret)` after. */
function editKey(key, onSaved) {
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": "key-editor-title" });
  const summary = h("div", { class: "notice tone-bad", role: "alert", hidden: true });
  const budget = key?.budget || {};
  const number = (name, value, extra = {}) => textInput(name, value ?? "", { inputmode: "numeric", ...extra });
  const expires = key?.expires ? new Date(key.expires * 1000).toISOString().slice(0, 10) : "";
  const disabled = h("input", { type: "checkbox", name: "disabled", id: "key-disabled", checked: Boolean(key?.disabled) });
  const form = h(
    "form",
    { class: "editor", novalidate: true },
    h("div", { class: "dialog-head" }, h("h2", { id: "key-editor-title", text: key ? `Edit key ${key.name}` : "New key" }), h("button", { type: "button", class: "icon-button", "aria-label": "Close", on: { click: () => dialog.close() } }, icon("close"))),
    h(
      "div",
      { class: "form-grid" },
      field({ label: "Name", control: textInput("name", key?.name, { required: true, readonly: Boolean(key) }), path: "name", hint: "Letters, digits, . _ @ -; the usage records carry it." }),
      field({ label: "Comment", control: textInput("comment", key?.comment), path: "comment" }),
      field({ label: "Models", control: h("textarea", { name: "models", rows: 3, spellcheck: "false", value: (key?.models || []).join("\n") }), path: "models", wide: true, hint: "Aliases, provider/model names or patterns (gpt-4*), one per line; empty: every model." }),
      field({ label: "Requests per minute", control: number("rpm", key?.rpm), path: "rpm" }),
      field({ label: "Tokens per minute", control: number("tpm", key?.tpm), path: "tpm" }),
      field({ label: "Requests at once", control: number("max_parallel", key?.max_parallel), path: "max_parallel" }),
      field({ label: "Expires", control: h("input", { type: "date", name: "expires", value: expires }), path: "expires", hint: "At the start of that day, UTC." }),
      field({ label: "Budget (USD)", control: textInput("budget_usd", budget.usd ?? "", { inputmode: "decimal" }), path: "budget.usd" }),
      field({ label: "Budget period", control: select("budget_period", PERIODS, budget.period || "month"), path: "budget.period" }),
      h("div", { class: "field checkbox wide", "data-path": "disabled" }, disabled, h("label", { for: "key-disabled", text: "Disabled: its requests are refused" }), h("p", { class: "field-error", id: "key-disabled-error", hidden: true })),
    ),
    summary,
    h("div", { class: "dialog-actions" }, button("Cancel", { onClick: () => dialog.close() }), button(key ? "Save" : "Create key", { kind: "primary", type: "submit" })),
  );
  dialog.append(form);
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
  form.elements[key ? "comment" : "name"].focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form, summary);
    const { value, problems } = readKey(form, budget);
    if (problems.length) {
      showProblems(form, problems, "", summary);
      return;
    }
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      if (key) {
        delete value.name;
        const { data } = await request(path(key.name), { method: "PATCH", json: value });
        dialog.close();
        onSaved(data, null);
      } else {
        const { data } = await request("/keys", { method: "POST", json: value });
        dialog.close();
        onSaved(data.key, data.secret);
      }
    } catch (error) {
      showProblems(form, error.problems.length ? error.problems : [{ path: null, message: describe(error) }], "", summary);
    } finally {
      submit.disabled = false;
    }
  });
}

/** The form as the API's body; numbers that are not numbers are sent as typed (the API names them). */
function readKey(form, budget) {
  const text = (name) => form.elements[name].value.trim();
  const numberOrText = (raw) => (raw === "" ? null : Number.isNaN(Number(raw)) ? raw : Number(raw));
  const models = text("models").split(/[\n,]/).map((m) => m.trim()).filter(Boolean);
  const value = {
    name: text("name"),
    comment: text("comment") || null,
    models: models.length ? models : null,
    rpm: numberOrText(text("rpm")),
    tpm: numberOrText(text("tpm")),
    max_parallel: numberOrText(text("max_parallel")),
    expires: text("expires") || null,
    disabled: form.elements.disabled.checked,
    budget: null,
  };
  const problems = [];
  if (!value.name) problems.push({ path: "name", message: "Name the key." });
  const usdText = text("budget_usd");
  if (usdText !== "") {
    value.budget = { usd: numberOrText(usdText), period: form.elements.budget_period.value };
    if (budget.warn_at !== undefined) value.budget.warn_at = budget.warn_at;
  }
  return { value, problems };
}
