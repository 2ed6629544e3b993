// The dashboard's shell: navigation, the login gate, and one page at a time in <main>.

import { UNAUTHORIZED, session } from "./api.js";
import { h, icon, replace } from "./dom.js";
import * as keys from "./pages/keys.js";
import * as log from "./pages/log.js";
import * as login from "./pages/login.js";
import * as overview from "./pages/overview.js";
import * as playground from "./pages/playground.js";
import * as providers from "./pages/providers.js";
import * as requestPage from "./pages/request.js";
import * as settings from "./pages/settings.js";
import * as usage from "./pages/usage.js";
import { BASE, listen, match, navigate } from "./router.js";

const ROUTES = [
  { pattern: /^\/login$/, page: login, title: "Sign in", public: true },
  { pattern: /^\/$/, page: overview, title: "Overview", nav: "overview" },
  { pattern: /^\/log$/, page: log, title: "Requests", nav: "log" },
  { pattern: /^\/log\/([^/]+)$/, page: requestPage, title: "Request", nav: "log" },
  { pattern: /^\/usage$/, page: usage, title: "Usage", nav: "usage" },
  { pattern: /^\/providers$/, page: providers, title: "Providers", nav: "providers" },
  { pattern: /^\/keys$/, page: keys, title: "Keys", nav: "keys" },
  { pattern: /^\/playground$/, page: playground, title: "Playground", nav: "playground" },
  { pattern: /^\/settings$/, page: settings, title: "Settings", nav: "settings" },
];
const NOT_FOUND = {
  page: {
    mount: (root) =>
      root.append(h("h1", { text: "Page not found" }), h("p", {}, h("a", { href: BASE, text: "Go to the overview" }))),
  },
  title: "Not found",
  nav: null,
};
const NAV = [
  ["overview", "Overview", "/"],
  ["log", "Requests", "/log"],
  ["usage", "Usage", "/usage"],
  ["providers", "Providers", "/providers"],
  ["keys", "Keys", "/keys"],
  ["playground", "Playground", "/playground"],
  ["settings", "Settings", "/settings"],
];

const root = document.getElementById("app");
const main = h("main", { id: "main", tabindex: "-1" });
let cleanup = null;

let layout = null;
let first = true;

function buildLayout() {
  const links = new Map();
  const items = NAV.map(([name, label, path]) => {
    const link = h(
      "a",
      { href: BASE + (path === "/" ? "" : path), class: "nav-link" },
      icon(name),
      h("span", { text: label }),
    );
    links.set(name, link);
    return link;
  });
  const logout = h(
    "button",
    { type: "button", class: "nav-link logout", on: { click: signOut } },
    icon("logout"),
    h("span", { text: "Sign out" }),
  );
  const sidebar = h(
    "header",
    { class: "sidebar" },
    h("a", { href: BASE, class: "brand" }, h("img", { src: `${BASE}/assets/favicon.svg`, alt: "" }), "Plexus"),
    h("nav", { "aria-label": "Dashboard" }, items),
    logout,
  );
  const element = h("div", { class: "layout" }, sidebar, main);
  const setCurrent = (name) => {
    for (const [key, link] of links) {
      if (key === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  };
  return { element, setCurrent };
}

function signOut() {
  session.end();
  navigate(`${BASE}/login`);
}

function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const { route, params } = match(ROUTES, location.pathname) || { route: NOT_FOUND, params: [] };
  if (!route.public && !session.key) {
    const next = location.pathname + location.search;
    navigate(`${BASE}/login?next=${encodeURIComponent(next)}`, { replace: true });
    return;
  }
  document.title = `${route.title} · Plexus`;
  main.replaceChildren();
  if (route.public) {
    layout = null;
    replace(root, h("div", { class: "public" }, main));
  } else {
    if (!layout) layout = buildLayout();
    if (layout.element.parentNode !== root) replace(root, layout.element);
    layout.setCurrent(route.nav);
  }
  const query = new URL(location.href).searchParams;
  cleanup = route.page.mount(main, { params, query }) || null;
  // After a navigation, keyboard and screen-reader users start at the new page's content.
  if (!first) main.focus({ preventScroll: true });
  first = false;
}

window.addEventListener(UNAUTHORIZED, () => {
  const next = location.pathname + location.search;
  if (!location.pathname.startsWith(`${BASE}/login`)) {
    navigate(`${BASE}/login?next=${encodeURIComponent(next)}&expired=1`, { replace: true });
  }
});
listen(render);
render();
