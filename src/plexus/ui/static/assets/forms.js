// Form fields that know their place in the config, so that the admin API's validation
// problems (`problems[].path`, e.g. `models.coder.targets[0].provider`) land next to the
// field they are about.

import { h } from "./dom.js";

let counter = 0;

/** A labelled control with a hint and an error slot; `path` is relative to the form's base. */
export function field({ label, control, path, hint, wide = false }) {
  const id = control.id || `field-${++counter}`;
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const hintNode = hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null;
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: ["field", wide ? "wide" : null], "data-path": path }, h("label", { for: id, text: label }), control, hintNode, error);
}

/** A text input. */
export function textInput(name, value, extra = {}) {
  return h("input", { name, type: "text", value: value ?? "", autocomplete: "off", spellcheck: "false", ...extra });
}

/** A select of [value, label] options. */
export function select(name, options, value) {
  return h("select", { name }, options.map(([v, text]) => h("option", { value: v, text, selected: v === (value ?? "") })));
}

/** "$.a[0].b" and "a[0].b" as "a.0.b". */
export function normalizePath(path) {
  return String(path || "")
    .replace(/^\$\.?/, "")
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/\["?([^\]"]+)"?\]/g, ".$1")
    .replace(/^\./, "");
}

/** Remove every shown problem. */
export function clearProblems(form, summary) {
  for (const error of form.querySelectorAll(".field-error")) {
    error.hidden = true;
    error.textContent = "";
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const hint = control.getAttribute("aria-describedby")?.split(" ").filter((id) => !id.endsWith("-error"));
    if (hint?.length) control.setAttribute("aria-describedby", hint.join(" "));
    else control.removeAttribute("aria-describedby");
  }
  summary.replaceChildren();
  summary.hidden = true;
}

/**
 * Show each problem under the field whose path is the longest one that covers it (after
 * `base`, the config path of what the form edits, is taken off); the others in `summary`.
 * Focuses the first field in error. Returns how many problems found a field.
 */
export function showProblems(form, problems, base, summary) {
  clearProblems(form, summary);
  const fields = [...form.querySelectorAll("[data-path]")].map((node) => ({ node, path: normalizePath(node.dataset.path) }));
  const prefix = normalizePath(base);
  const unplaced = [];
  let placed = 0;
  for (const problem of problems) {
    let path = normalizePath(problem.path);
    if (prefix && path === prefix) path = "";
    else if (prefix && path.startsWith(`${prefix}.`)) path = path.slice(prefix.length + 1);
    const target = bestField(fields, path);
    if (target) {
      markField(target.node, problem.message);
      placed += 1;
    } else unplaced.push(problem);
  }
  if (unplaced.length) {
    summary.hidden = false;
    summary.append(
      h("p", { class: "strong", text: placed ? "Also:" : "The gateway refused this change:" }),
      h("ul", {}, unplaced.map((p) => h("li", {}, p.path ? h("code", { text: p.path }) : null, p.path ? ": " : null, p.message))),
    );
  }
  const first = form.querySelector("[aria-invalid='true']");
  if (first) first.focus();
  return placed;
}

function bestField(fields, path) {
  let best = null;
  for (const candidate of fields) {
    const covers = path === candidate.path || path.startsWith(`${candidate.path}.`);
    if (covers && (!best || candidate.path.length > best.path.length)) best = candidate;
  }
  return best;
}

function markField(node, message) {
  const error = node.querySelector(":scope > .field-error");
  const control = node.querySelector(":scope > input, :scope > select, :scope > textarea") || node.querySelector("input, select, textarea");
  error.textContent = error.textContent ? `${error.textContent} ${message}` : message;
  error.hidden = false;
  if (control) {
    control.setAttribute("aria-invalid", "true");
    const described = new Set((control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
    described.add(error.id);
    control.setAttribute("aria-describedby", [...described].join(" "));
  }
}
