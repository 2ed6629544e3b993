// History routing under /ui: links to /ui/... change the page without reloading it.

export const BASE = "/ui";
const listeners = new Set();

/** Go to `path` (under /ui), adding a history entry unless `replace`. */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  notify();
}

/** Change the query string in place (filters), without a new history entry or a new page. */
export function setQuery(values) {
  const url = new URL(location.href);
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === "") url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  history.replaceState(null, "", url);
}

/** Call `listener()` whenever the location changes; start following links and history. */
export function listen(listener) {
  listeners.add(listener);
  if (listeners.size === 1) {
    window.addEventListener("popstate", notify);
    document.addEventListener("click", followLink);
  }
}

function notify() {
  for (const listener of listeners) listener();
}

function followLink(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

/** The page for `pathname`: {name, params} from the first route that matches, or null. */
export function match(routes, pathname) {
  const rest = pathname.replace(/\/+$/, "").slice(BASE.length) || "/";
  for (const route of routes) {
    const found = route.pattern.exec(rest);
    if (found) return { route, params: found.slice(1).map(decodeURIComponent) };
  }
  return null;
}
