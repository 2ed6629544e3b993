// The alias and provider forms, in a modal dialog. What the form does not show (headers,
// timeouts, pricing, ...) is sent back as it was read, since a PUT replaces the whole entry.

import { get, request } from "../api.js";
import { button, describe, loading, notice } from "../components.js";
import { h, icon, replace } from "../dom.js";
import { clearProblems, field, select, showProblems, textInput } from "../forms.js";

const SELECTORS = [
  ["random", "random: any target"],
  ["weighted", "weighted: by each target's weight"],
  ["in_order", "in order: a fallback chain"],
  ["latency", "latency: fastest first byte"],
];
const TYPES = [
  ["", "from the preset"],
  ["chat", "chat (OpenAI Chat Completions)"],
  ["messages", "messages (Anthropic Messages)"],
  ["responses", "responses (OpenAI Responses)"],
  ["gemini", "gemini (Google generateContent)"],
];
// Keys the admin API adds to an entry that are not part of its YAML mapping.
const READ_ONLY = ["name", "health"];

/** Open the alias form (`name` null: a new alias); `onSaved()` after the gateway took it. */
export function editAlias(name, providerNames, onSaved) {
  return openEditor({
    title: name ? `Edit alias ${name}` : "New alias",
    path: (n) => `/aliases/${encodeURIComponent(n)}`,
    base: (n) => `models.${n}`,
    name,
    build: (entry, form) => aliasFields(entry, form, providerNames),
    read: (entry, form) => readAlias(entry, form),
    onSaved,
  });
}

/** Open the provider form (`name` null: a new provider). */
export function editProvider(name, onSaved) {
  return openEditor({
    title: name ? `Edit provider ${name}` : "New provider",
    path: (n) => `/providers/${encodeURIComponent(n)}`,
    base: (n) => `providers.${n}`,
    name,
    build: (entry) => providerFields(entry),
    read: (entry, form) => readProvider(entry, form),
    onSaved,
  });
}

function openEditor({ title, path, base, name, build, read, onSaved }) {
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": "editor-title" });
  const summary = h("div", { class: "notice tone-bad", role: "alert", hidden: true });
  const body = h("div", {}, loading());
  const save = button("Save", { kind: "primary", type: "submit", disabled: true });
  const nameInput = textInput("name", name || "", { required: true, readonly: Boolean(name), pattern: "[^\\s/]+" });
  const form = h(
    "form",
    { class: "editor", novalidate: true },
    h("div", { class: "dialog-head" }, h("h2", { id: "editor-title", text: title }), h("button", { type: "button", class: "icon-button", "aria-label": "Close", on: { click: () => close() } }, icon("close"))),
    field({ label: "Name", control: nameInput, path: "", hint: name ? "Renaming is done in the settings' YAML." : "The name clients (or aliases) use." }),
    body,
    summary,
    h("div", { class: "dialog-actions" }, button("Cancel", { onClick: () => close() }), save),
  );
  dialog.append(form);
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  const close = () => dialog.close();
  dialog.showModal();

  let entry = {};
  const ready = (async () => {
    try {
      if (name) {
        const data = await get(path(name));
        entry = data && data.data && !Array.isArray(data.data) ? data.data : data;
      }
      replace(body, build(entry, form));
      save.disabled = false;
      (name ? form.querySelector("[name]:not([readonly])") : nameInput)?.focus();
    } catch (error) {
      replace(body, notice("bad", describe(error)));
    }
  })();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form, summary);
    const target = nameInput.value.trim();
    if (!target || /[\s/]/.test(target)) {
      showProblems(form, [{ path: "", message: "A name without spaces or slashes is required." }], "", summary);
      return;
    }
    const mapping = read(entry, form);
    const local = mapping.problems || [];
    if (local.length) {
      showProblems(form, local, "", summary);
      return;
    }
    save.disabled = true;
    try {
      await request(path(target), { method: "PUT", json: mapping.value });
      close();
      onSaved(target);
    } catch (error) {
      if (error.problems.length) showProblems(form, error.problems, base(target), summary);
      else showProblems(form, [{ path: null, message: describe(error) }], "", summary);
    } finally {
      save.disabled = false;
    }
  });
  return ready;
}

function kept(entry, shown) {
  const rest = { ...entry };
  for (const key of [...READ_ONLY, ...shown]) delete rest[key];
  return rest;
}

function aliasFields(entry, form, providerNames) {
  const list = h("datalist", { id: "provider-names" }, providerNames.map((n) => h("option", { value: n })));
  const rows = h("ol", { class: "target-rows" });
  const error = h("p", { class: "field-error", id: "targets-error", hidden: true });
  const addRow = (target = {}) => {
    rows.append(targetRow(target, rows));
    renumber(rows);
  };
  for (const target of entry.targets || [{}]) addRow(target);
  const targets = h(
    "fieldset",
    { class: "field wide targets", "data-path": "targets" },
    h("legend", { text: "Targets" }),
    h("p", { class: "hint", text: "Tried in this order by the in-order selector; weights count for the weighted one." }),
    rows,
    error,
    button("Add target", { icon: "plus", kind: "ghost", onClick: () => addRow() }),
  );
  return h(
    "div",
    { class: "form-grid" },
    list,
    field({ label: "Selector", control: select("selector", SELECTORS, entry.selector || "random"), path: "selector" }),
    targets,
  );
}

function targetRow(target, rows) {
  const row = h("li", { class: "target-row" });
  const move = (step) => {
    const sibling = step < 0 ? row.previousElementSibling : row.nextElementSibling?.nextElementSibling;
    if (step < 0 && !sibling) return;
    rows.insertBefore(row, sibling || null);
    renumber(rows);
  };
  const tools = h(
    "div",
    { class: "row-tools" },
    iconButton("up", "Move up", () => move(-1)),
    iconButton("down", "Move down", () => move(1)),
    iconButton("trash", "Remove target", () => {
      row.remove();
      renumber(rows);
    }),
  );
  row.append(
    field({ label: "Provider", control: textInput("provider", target.provider, { list: "provider-names" }), path: "provider" }),
    field({ label: "Model", control: textInput("model", target.model), path: "model" }),
    field({ label: "Weight", control: textInput("weight", target.weight ?? "", { inputmode: "decimal", placeholder: "1" }), path: "weight" }),
    tools,
  );
  return row;
}

function iconButton(name, label, onClick) {
  return h("button", { type: "button", class: "icon-button", "aria-label": label, title: label, on: { click: onClick } }, icon(name));
}

/** Give each target row's fields their index in the config path. */
function renumber(rows) {
  [...rows.children].forEach((row, index) => {
    for (const node of row.querySelectorAll("[data-path]")) {
      const leaf = node.dataset.path.split(".").pop();
      node.dataset.path = `targets.${index}.${leaf}`;
    }
    row.querySelector("[aria-label='Move up']").disabled = index === 0;
    row.querySelector("[aria-label='Move down']").disabled = index === rows.children.length - 1;
  });
}

function readAlias(entry, form) {
  const value = kept(entry, ["selector", "targets"]);
  value.selector = form.elements.selector.value;
  const problems = [];
  value.targets = [...form.querySelectorAll(".target-row")].map((row, index) => {
    const get = (name) => row.querySelector(`[name=${name}]`).value.trim();
    const target = { provider: get("provider"), model: get("model") };
    const weight = get("weight");
    if (weight !== "") target.weight = Number.isNaN(Number(weight)) ? weight : Number(weight);
    if (!target.provider) problems.push({ path: `targets.${index}.provider`, message: "Name a provider." });
    if (!target.model) problems.push({ path: `targets.${index}.model`, message: "Name the provider's model." });
    return target;
  });
  if (!value.targets.length) problems.push({ path: "targets", message: "Add at least one target." });
  return { value, problems };
}

function providerFields(entry) {
  const others = Object.keys(kept(entry, ["preset", "type", "api_base_url", "api_key", "models"]));
  return h(
    "div",
    { class: "form-grid" },
    field({ label: "Preset", control: textInput("preset", entry.preset, { placeholder: "none" }), path: "preset", hint: "openai, anthropic, gemini, deepseek, groq, openrouter, ollama, …: fills type and URL." }),
    field({ label: "API type", control: select("type", TYPES, entry.type), path: "type" }),
    field({ label: "Base URL", control: textInput("api_base_url", entry.api_base_url, { inputmode: "url", placeholder: "https://api.example.com/v1" }), path: "api_base_url", wide: true, hint: "Includes the version segment, e.g. /v1." }),
    field({ label: "API key", control: textInput("api_key", entry.api_key, { placeholder: "${PROVIDER_API_KEY}" }), path: "api_key", wide: true, hint: "Best as ${VARIABLE}: the secret stays in the environment. A redacted value left as it is keeps the secret." }),
    field({ label: "Models", control: h("textarea", { name: "models", rows: 3, spellcheck: "false", value: (entry.models || []).join("\n") }), path: "models", wide: true, hint: "Names clients may ask for directly, one per line." }),
    others.length ? h("p", { class: "hint wide" }, "Also in the file and kept as they are: ", others.join(", "), ".") : null,
  );
}

function readProvider(entry, form) {
  const value = kept(entry, ["preset", "type", "api_base_url", "api_key", "models"]);
  const text = (name) => form.elements[name].value.trim();
  for (const name of ["preset", "type", "api_base_url", "api_key"]) {
    if (text(name)) value[name] = text(name);
  }
  const models = text("models").split(/[\n,]/).map((m) => m.trim()).filter(Boolean);
  if (models.length) value.models = models;
  const problems = [];
  if (!value.preset && !value.type) problems.push({ path: "type", message: "Choose a type, or name a preset." });
  return { value, problems };
}
