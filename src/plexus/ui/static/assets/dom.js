// Builds the DOM from data without ever parsing data as HTML: strings become text nodes, and
// attributes that could run code (event handlers, inline styles, script URLs) are refused.

const SVG_NS = "http://www.w3.org/2000/svg";
const PROPERTIES = new Set(["value", "checked", "selected", "disabled", "indeterminate"]);
const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction", "xlink:href"]);

/** An HTML element: `h("a", {href: "/ui/log", class: "link"}, "text", child, ...)`. */
export function h(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, with the same arguments as `h`. */
export function svg(tag, props = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

function build(element, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") {
      element.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (name === "text") {
      element.textContent = String(value);
    } else if (name === "on") {
      for (const [type, handler] of Object.entries(value)) element.addEventListener(type, handler);
    } else if (name === "vars") {
      for (const [key, v] of Object.entries(value)) element.style.setProperty(`--${key}`, v);
    } else if (PROPERTIES.has(name) && !(element instanceof SVGElement)) {
      element[name] = value;
    } else {
      setAttribute(element, name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function setAttribute(element, name, value) {
  const lower = name.toLowerCase();
  if (lower.startsWith("on") || lower === "style" || lower === "srcdoc") {
    throw new Error(`refusing attribute ${name}`);
  }
  if (URL_ATTRIBUTES.has(lower) && !safeUrl(value)) {
    throw new Error(`refusing URL ${value}`);
  }
  element.setAttribute(name, value);
}

/** Whether a URL stays on this origin's pages or is a download made here. */
function safeUrl(value) {
  return /^(\/(?!\/)|#|\?|blob:)/.test(value);
}

/** Append children: strings and numbers as text, nodes as they are, arrays flattened. */
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace every child of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** An inline icon from the set below, hidden from assistive technology. */
export function icon(name, label) {
  const paths = ICONS[name] || [];
  const attrs = { viewBox: "0 0 24 24", class: "icon", "aria-hidden": label ? null : "true" };
  if (label) Object.assign(attrs, { role: "img", "aria-label": label });
  return svg("svg", attrs, paths.map((d) => svg("path", { d })));
}

const ICONS = {
  overview: ["M4 13h4v7H4z", "M10 4h4v16h-4z", "M16 9h4v11h-4z"],
  log: ["M4 6h16", "M4 12h16", "M4 18h10"],
  usage: ["M4 20V4", "M4 20h16", "M8 16l4-5 3 3 5-7"],
  providers: ["M12 3l8 4.5v9L12 21l-8-4.5v-9z", "M12 12l8-4.5", "M12 12v9", "M12 12L4 7.5"],
  settings: ["M4 7h10", "M18 7h2", "M4 17h4", "M12 17h8", "M16 5v4", "M10 15v4"],
  playground: ["M7 4l12 8-12 8z"],
  keys: ["M11.5 12.5a4.5 4.5 0 1 0-1 1", "M11.5 12.5L20 21", "M16 17l2-2", "M18 19l2-2"],
  copy: ["M9 9h10v11H9z", "M5 15V4h10"],
  logout: ["M15 4h4v16h-4", "M10 8l-4 4 4 4", "M6 12h10"],
  refresh: ["M20 11a8 8 0 1 0-2.3 5.7", "M20 4v7h-7"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
  plus: ["M12 5v14", "M5 12h14"],
  edit: ["M4 20h4L19 9l-4-4L4 16z"],
  trash: ["M5 7h14", "M9 7V4h6v3", "M7 7l1 13h8l1-13"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  up: ["M12 19V5", "M6 11l6-6 6 6"],
  down: ["M12 5v14", "M6 13l6 6 6-6"],
  back: ["M19 12H5", "M11 6l-6 6 6 6"],
  send: ["M4 12l16-8-6 16-2-7z"],
  stop: ["M7 7h10v10H7z"],
  pause: ["M8 5v14", "M16 5v14"],
  play: ["M7 4l12 8-12 8z"],
};
