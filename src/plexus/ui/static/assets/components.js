// Small pieces every page uses: headers, cards, badges, choices, notices, a confirm dialog.

import { h, icon } from "./dom.js";
import { statusTone } from "./format.js";

/** The page's title row: an h1, an optional line under it, and actions on the right. */
export function pageHeader(title, subtitle, ...actions) {
  return h(
    "div",
    { class: "page-header" },
    h("div", {}, h("h1", { text: title }), subtitle ? h("p", { class: "subtitle" }, subtitle) : null),
    h("div", { class: "actions" }, actions),
  );
}

/** A titled panel. */
export function card(title, ...children) {
  const heading = title ? h("h2", { class: "card-title", text: title }) : null;
  return h("section", { class: "card" }, heading, children);
}

/** A button with an optional icon; `kind` is primary, secondary (default), ghost or danger. */
export function button(label, { icon: name, kind = "secondary", onClick, type = "button", ...rest } = {}) {
  return h(
    "button",
    { type, class: ["button", kind], on: onClick ? { click: onClick } : null, ...rest },
    name ? icon(name) : null,
    h("span", { text: label }),
  );
}

/** An HTTP status as a coloured badge. */
export function statusBadge(status) {
  return h("span", { class: ["badge", `tone-${statusTone(status)}`], text: status || "—" });
}

/** A small label, e.g. an API type. */
export function tag(text, tone = "neutral") {
  return h("span", { class: ["tag", `tone-${tone}`], text });
}

/**
 * A segmented choice (radio buttons): options are [value, label]; calls onChange(value).
 * Arrow keys move between options, as radio groups do.
 */
export function segmented(name, label, options, selected, onChange) {
  const group = h("div", { class: "segmented", role: "radiogroup", "aria-label": label });
  for (const [value, text] of options) {
    const input = h("input", {
      type: "radio",
      name,
      value,
      id: `${name}-${value}`,
      checked: value === selected,
      on: { change: () => onChange(value) },
    });
    group.append(input, h("label", { for: `${name}-${value}`, text }));
  }
  return group;
}

/** A notice: tone info, ok, warn or bad; polite live region so it is announced. */
export function notice(tone, ...children) {
  return h("div", { class: ["notice", `tone-${tone}`], role: tone === "bad" ? "alert" : "status" }, children);
}

/** A muted box for "nothing here yet". */
export function empty(text, ...children) {
  return h("div", { class: "empty" }, h("p", { text }), children);
}

/** A placeholder while something loads. */
export function loading(text = "Loading…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

/** The message of an error for the user. */
export function describe(error) {
  if (error && error.name === "AbortError") return "";
  if (error && error.status === 404 && error.type === "not_found" && /admin/i.test(error.message)) {
    return "The admin API is off: start Plexus with PLEXUS_ADMIN_KEY set.";
  }
  return (error && error.message) || String(error);
}

/** A labelled key-value list. */
export function definitions(rows) {
  return h(
    "dl",
    { class: "definitions" },
    rows.filter(Boolean).map(([term, value]) => [h("dt", { text: term }), h("dd", {}, value)]),
  );
}

/** Ask to confirm with a modal dialog; resolves to true when confirmed. */
export function confirmAction(title, message, confirmLabel = "Delete") {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog small", "aria-labelledby": "confirm-title" });
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      h("h2", { id: "confirm-title", text: title }),
      h("p", { text: message }),
      h(
        "div",
        { class: "dialog-actions" },
        button("Cancel", { onClick: () => close(false) }),
        button(confirmLabel, { kind: "danger", onClick: () => close(true) }),
      ),
    );
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Run `task` every `seconds` (and on return to the tab) while visible; returns a stop. */
export function every(seconds, task) {
  let timer = null;
  const tick = () => {
    if (document.visibilityState === "visible") task();
  };
  timer = setInterval(tick, seconds * 1000);
  document.addEventListener("visibilitychange", tick);
  return () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", tick);
  };
}
