// Settings: the config file's YAML (secrets redacted by the API) to read, validate and save.
// Saving sends the ETag it was read with: if the file changed meanwhile the API answers 412
// and nothing is written.

import { request, send } from "../api.js";
import { button, card, describe, loading, notice, pageHeader, tag } from "../components.js";
import { h, replace } from "../dom.js";
import { auditCard } from "./audit.js";

export function mount(root) {
  const controller = new AbortController();
  const message = h("div", { class: "page-message" });
  const meta = h("div", { class: "settings-meta" });
  const editor = h("textarea", {
    id: "config-yaml",
    class: "code-editor",
    spellcheck: "false",
    autocomplete: "off",
    "aria-label": "Config file (YAML)",
    wrap: "off",
    disabled: true,
  });
  const lines = h("div", { class: "line-numbers", "aria-hidden": "true" });
  const dirty = h("span", { class: "dirty", hidden: true, text: "Unsaved changes" });
  let etag = null;
  let loaded = "";
  let writable = false;

  const validateButton = button("Validate", { onClick: () => validate() });
  const saveButton = button("Save and apply", { kind: "primary", onClick: () => save() });
  const revertButton = button("Revert", { kind: "ghost", onClick: () => load() });

  const refreshState = () => {
    const changed = editor.value !== loaded;
    dirty.hidden = !changed;
    saveButton.disabled = !changed || !writable;
    revertButton.disabled = !changed;
    const count = editor.value.split("\n").length;
    if (lines.childElementCount !== count) {
      lines.replaceChildren(...Array.from({ length: count }, (_, i) => h("span", { text: i + 1 })));
    }
  };
  editor.addEventListener("input", refreshState);
  editor.addEventListener("scroll", () => {
    lines.scrollTop = editor.scrollTop;
  });
  editor.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      if (!saveButton.disabled) save();
    }
  });

  const audit = auditCard(controller.signal);
  root.append(
    pageHeader("Settings", "The gateway's config file. Secrets are shown redacted; a redacted value saved unchanged keeps its secret.", dirty, revertButton, validateButton, saveButton),
    message,
    meta,
    card(null, h("div", { class: "editor-frame" }, lines, editor)),
    audit.element,
  );

  async function load() {
    replace(message);
    replace(meta, loading());
    try {
      const response = await send("/config", { signal: controller.signal });
      const data = await response.json();
      etag = response.headers.get("etag");
      loaded = data.yaml || "";
      writable = data.writable !== false;
      editor.value = loaded;
      editor.disabled = false;
      editor.readOnly = !writable;
      replace(
        meta,
        h("code", { class: "mono", text: data.path || "" }),
        writable ? tag("writable", "ok") : tag("read-only", "warn"),
        !writable && data.reason ? h("span", { class: "muted", text: data.reason }) : null,
      );
      refreshState();
    } catch (error) {
      if (error.name !== "AbortError") replace(meta, notice("bad", describe(error)));
    }
  }

  async function validate() {
    try {
      await request("/config/validate", { method: "POST", json: { yaml: editor.value } });
      replace(message, notice("ok", "The config is valid."));
    } catch (error) {
      replace(message, problemsNotice("The config is not valid:", error));
    }
  }

  async function save() {
    saveButton.disabled = true;
    try {
      const { data, response } = await request("/config", {
        method: "PUT",
        json: { yaml: editor.value },
        headers: etag ? { "if-match": etag } : {},
      });
      etag = response.headers.get("etag") || (data.etag ? quoted(data.etag) : etag);
      loaded = editor.value;
      replace(message, notice("ok", "Saved. The gateway applies the new config within seconds."));
      audit.refresh();
    } catch (error) {
      if (error.status === 412) {
        replace(
          message,
          notice("warn", "The file changed since you opened it, so nothing was saved. Reload to see the current file (your edits here are dropped).", " ", button("Reload", { kind: "primary", onClick: () => load() })),
        );
      } else if (error.status === 409) {
        replace(message, notice("bad", `The file cannot be written: ${error.reason || error.message}`));
      } else {
        replace(message, problemsNotice("Not saved:", error));
      }
    } finally {
      refreshState();
    }
  }

  load();
  return () => controller.abort();
}

function quoted(tag) {
  return tag.startsWith('"') || tag.startsWith("W/") ? tag : `"${tag}"`;
}

function problemsNotice(title, error) {
  if (!error.problems || !error.problems.length) return notice("bad", `${title} ${describe(error)}`);
  return notice(
    "bad",
    h("p", { class: "strong", text: title }),
    h("ul", { class: "problems" }, error.problems.map((p) => h("li", {}, p.path ? h("code", { text: p.path }) : null, p.path ? ": " : null, p.message))),
  );
}
