// The request log: newest first, filtered by key, alias, provider and status; finished
// requests arrive live from the admin API's event stream.

import { get } from "../api.js";
import { button, describe, empty, notice, pageHeader, statusBadge, tag } from "../components.js";
import { h, icon, replace } from "../dom.js";
import { clock, dateTime, int, ms, usd } from "../format.js";
import { followEvents } from "../live.js";
import { BASE, navigate, setQuery } from "../router.js";

const FILTERS = ["key", "alias", "provider", "status"];
const STATUSES = [
  ["", "Any status"],
  ["2xx", "2xx success"],
  ["4xx", "4xx refused"],
  ["5xx", "5xx failed"],
  ["error", "Any error"],
];
const MAX_ROWS = 500;
const PAGE = 50;

// [header, its longer meaning]: short headers keep the ten columns on one screen.
const COLUMNS = [
  ["Time"], ["Status"], ["Key", "Gateway key"], ["API", "Client API"], ["Model", "Model asked for"],
  ["Served by", "Provider · upstream model"], ["Tokens", "Input / output tokens"], ["Cost"],
  ["TTFT", "Time to first token"], ["Duration", "Whole request"],
];

export function mount(root, { query }) {
  const filters = Object.fromEntries(FILTERS.map((name) => [name, query.get(name) || ""]));
  const controller = new AbortController();
  const rows = h("tbody");
  const more = h("div", { class: "table-footer" });
  const message = h("div");
  const liveState = h("span", { class: "live-state", role: "status" });
  const seen = new Set();
  let cursor = null;
  let paused = false;
  let load = 0; // the newest load's number: an older answer arriving late is dropped

  const pause = button("Pause", { icon: "pause", kind: "ghost", "aria-pressed": "false" });
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    replace(pause, icon(paused ? "play" : "pause"), h("span", { text: paused ? "Resume" : "Pause" }));
    if (!paused) reload();
  });

  const form = filterForm(filters, (name, value) => {
    filters[name] = value;
    setQuery({ [name]: value });
    reload();
  });
  const table = h(
    "table",
    { class: "table dense log-table" },
    h("caption", { class: "visually-hidden", text: "Requests, newest first" }),
    h(
      "thead",
      {},
      h("tr", {}, COLUMNS.map(([text, title]) => h("th", { scope: "col", text, title }))),
    ),
    rows,
  );
  root.append(
    pageHeader("Requests", h("span", {}, liveState), pause),
    form,
    message,
    h("div", { class: "table-scroll card flush" }, table),
    more,
  );

  async function fetchPage(append) {
    const number = ++load;
    try {
      const query = { ...filters, limit: PAGE, cursor: append ? cursor : null };
      const data = await get("/requests", query, controller.signal);
      if (number !== load) return;
      if (!append) {
        rows.replaceChildren();
        seen.clear();
      }
      for (const record of data.data || []) addRow(record, false);
      cursor = data.next_cursor || null;
      replace(message);
      if (!rows.children.length) replace(message, empty(hasFilters(filters) ? "No request matches these filters." : "No requests yet. Send one through the gateway and it appears here."));
      replace(more, cursor ? button("Load older", { onClick: () => fetchPage(true) }) : null);
    } catch (error) {
      if (error.name !== "AbortError") replace(message, notice("bad", describe(error)));
    }
  }

  function reload() {
    cursor = null;
    fetchPage(false);
  }

  function addRow(record, fresh) {
    if (seen.has(record.request_id)) return;
    seen.add(record.request_id);
    const row = logRow(record, fresh);
    if (fresh) {
      rows.prepend(row);
      replace(message);
      while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
    } else rows.append(row);
  }

  const stopLive = followEvents({
    signal: controller.signal,
    onRecord: (record) => {
      if (!paused && matches(record, filters)) addRow(record, true);
    },
    onDropped: (count) => {
      const reloadButton = button("Reload", { kind: "ghost", onClick: () => reload() });
      replace(message, notice("warn", `${int(count)} finished requests were not streamed to this page.`, " ", reloadButton));
    },
    onState: (state) => {
      liveState.className = `live-state ${state}`;
      liveState.textContent = { live: "Live", connecting: "Connecting…", retrying: "Reconnecting…" }[state];
    },
  });
  reload();
  return () => {
    stopLive();
    controller.abort();
  };
}

function filterForm(filters, onChange) {
  const inputs = ["key", "alias", "provider"].map((name) => {
    const input = h("input", { id: `filter-${name}`, name, type: "search", value: filters[name], placeholder: "any", autocomplete: "off", spellcheck: "false" });
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => onChange(name, input.value.trim()), 300);
    });
    return h("div", { class: "field inline" }, h("label", { for: `filter-${name}`, text: name[0].toUpperCase() + name.slice(1) }), input);
  });
  const status = h(
    "select",
    { id: "filter-status", name: "status", on: { change: (event) => onChange("status", event.target.value) } },
    STATUSES.map(([value, text]) => h("option", { value, text, selected: value === filters.status })),
  );
  return h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter requests", on: { submit: (event) => event.preventDefault() } },
    inputs,
    h("div", { class: "field inline" }, h("label", { for: "filter-status", text: "Status" }), status),
  );
}

function logRow(record, fresh) {
  const href = `${BASE}/log/${encodeURIComponent(record.request_id)}`;
  const served = record.provider ? `${record.provider} · ${record.upstream_model || "?"}` : "—";
  const tokens = record.input_tokens === null || record.input_tokens === undefined ? "—" : `${int(record.input_tokens)} / ${int(record.output_tokens)}`;
  const row = h(
    "tr",
    { class: ["clickable", fresh ? "fresh" : null], "data-request-id": record.request_id },
    h("td", { class: "nowrap" }, h("a", { href, title: dateTime(record.time), text: clock(record.time) })),
    h("td", {}, statusBadge(record.status)),
    h("td", { class: "truncate", text: record.key || "—" }),
    h("td", {}, tag(record.client_api || "—"), record.stream ? tag("stream", "info") : null),
    h("td", { class: "truncate strong", text: record.alias || "—" }),
    h("td", { class: "truncate", text: served }, record.attempts > 1 ? tag(`${record.attempts} attempts`, "warn") : null),
    h("td", { class: "num", text: tokens }),
    h("td", { class: "num", text: usd(record.cost_usd) }),
    h("td", { class: "num", text: ms(record.ttft_ms) }),
    h("td", { class: "num", text: ms(record.duration_ms) }),
  );
  row.addEventListener("click", (event) => {
    if (!event.target.closest("a")) navigate(href);
  });
  return row;
}

function hasFilters(filters) {
  return FILTERS.some((name) => filters[name]);
}

/** Whether a live record passes the filters the list was loaded with. */
export function matches(record, filters) {
  if (filters.key && record.key !== filters.key) return false;
  if (filters.alias && record.alias !== filters.alias) return false;
  if (filters.provider && record.provider !== filters.provider) return false;
  const status = filters.status;
  if (!status) return true;
  if (status === "error") return record.status >= 400 || !record.status; // 0: no answer at all
  if (/^\dxx$/.test(status)) return Math.floor(record.status / 100) === Number(status[0]);
  return String(record.status) === status;
}
