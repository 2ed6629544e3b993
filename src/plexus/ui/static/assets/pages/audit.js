// The audit log: the changes made through the admin API (who, what, when), newest first.

import { get } from "../api.js";
import { card, describe, empty, notice, tag } from "../components.js";
import { h, replace } from "../dom.js";
import { ago, dateTime } from "../format.js";

const SHOWN = 20;

/** A card of the latest changes; `refresh()` reloads it (after a save). */
export function auditCard(signal) {
  const body = h("div", { class: "table-scroll" });
  const refresh = async () => {
    try {
      const page = await get("/audit", { limit: SHOWN }, signal);
      const entries = page.data || [];
      replace(body, entries.length ? auditTable(entries) : empty("No change has been made through the dashboard or the admin API yet."));
    } catch (error) {
      if (error.name === "AbortError") return;
      // 409: no usage store, so no audit table; the changes are still in the gateway's log.
      const text = error.status === 409 ? "The audit log needs the usage store (usage.database); changes are logged only." : describe(error);
      replace(body, notice(error.status === 409 ? "info" : "bad", text));
    }
  };
  refresh();
  return { element: card("Recent changes", body), refresh };
}

function auditTable(entries) {
  return h(
    "table",
    { class: "table dense" },
    h("caption", { class: "visually-hidden", text: "Changes, newest first" }),
    h("thead", {}, h("tr", {}, ["When", "Who", "Change", "Target", "Detail"].map((text) => h("th", { scope: "col", text })))),
    h(
      "tbody",
      {},
      entries.map((entry) =>
        h(
          "tr",
          {},
          h("td", { class: "nowrap", title: dateTime(entry.time), text: ago(entry.time) }),
          h("td", { text: entry.actor }),
          h("td", {}, tag(entry.action, "info")),
          h("td", { class: "mono", text: entry.target }),
          h("td", { class: "truncate mono muted", text: detail(entry.detail) }),
        ),
      ),
    ),
  );
}

/** The detail object as one line, `key: value, …`. */
function detail(value) {
  if (!value || typeof value !== "object") return value ? String(value) : "";
  return Object.entries(value)
    .map(([key, v]) => `${key}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
}
