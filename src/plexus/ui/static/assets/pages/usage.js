// Usage by period and group, as a chart, a table and a CSV file made by the admin API.

import { get, send } from "../api.js";
import { button, card, describe, empty, notice, pageHeader, segmented } from "../components.js";
import { stackedColumns } from "../charts.js";
import { h, replace } from "../dom.js";
import { compact, int, period as periodLabel, usd } from "../format.js";
import { setQuery } from "../router.js";

const PERIODS = [["hour", "Hour"], ["day", "Day"], ["week", "Week"], ["month", "Month"]];
const GROUPS = [["alias", "Alias"], ["key", "Key"], ["provider", "Provider"], ["model", "Model"], ["none", "None"]];
const METRICS = [["cost_usd", "Cost"], ["requests", "Requests"], ["tokens", "Tokens"]];
const SINCE = { hour: "-48h", day: "-30d", week: "-182d", month: "-730d" };
const COLUMNS = [
  ["requests", "Requests", int],
  ["errors", "Errors", int],
  ["input_tokens", "Input", compact],
  ["output_tokens", "Output", compact],
  ["cache_read_tokens", "Cache read", compact],
  ["cache_write_tokens", "Cache write", compact],
  ["reasoning_tokens", "Reasoning", compact],
  ["cost_usd", "Cost", usd],
];
const SHOWN_GROUPS = 5; // the chart stacks the biggest groups and folds the rest into "other"

export function mount(root, { query }) {
  const state = {
    period: pick(PERIODS, query.get("period"), "day"),
    by: pick(GROUPS, query.get("by"), "alias"),
    metric: pick(METRICS, query.get("metric"), "cost_usd"),
  };
  const controller = new AbortController();
  const message = h("div");
  const table = h("div", { class: "table-scroll" });
  const chart = stackedColumns({ label: "Usage by period", format: (v) => (state.metric === "cost_usd" ? usd(v) : compact(v)) });
  let rows = [];
  const change = (name) => (value) => {
    state[name] = value;
    setQuery({ [name]: value });
    name === "metric" ? draw() : load();
  };
  const exportButton = button("Export CSV", { icon: "download", onClick: () => exportCsv(state, message) });
  root.append(
    pageHeader("Usage", "Requests, tokens and cost by period", exportButton),
    h(
      "div",
      { class: "toolbar" },
      labelled("Period", segmented("period", "Period", PERIODS, state.period, change("period"))),
      labelled("Group by", segmented("by", "Group by", GROUPS, state.by, change("by"))),
      labelled("Chart", segmented("metric", "Chart", METRICS, state.metric, change("metric"))),
    ),
    message,
    card(null, chart.element),
    card(null, table),
  );

  async function load() {
    try {
      const data = await get("/usage", { period: state.period, by: state.by, since: SINCE[state.period] }, controller.signal);
      rows = data.rows || [];
      replace(message);
      draw();
    } catch (error) {
      if (error.name !== "AbortError") replace(message, notice("bad", describe(error)));
    }
  }

  function draw() {
    const unpriced = rows.length && state.metric === "cost_usd";
    const empty = unpriced ? "No priced request in this period: chart requests or tokens." : null;
    chart.update({ ...chartData(rows, state), empty });
    replace(table, rows.length ? usageTable(rows, state) : empty("No usage in this period."));
  }

  load();
  return () => {
    controller.abort();
    chart.destroy();
  };
}

function pick(options, value, fallback) {
  return options.some(([v]) => v === value) ? value : fallback;
}

function labelled(text, control) {
  return h("div", { class: "toolbar-item" }, h("span", { class: "toolbar-label", text }), control);
}

function metricOf(row, metric) {
  if (metric === "tokens") return (row.input_tokens || 0) + (row.output_tokens || 0) + (row.cache_read_tokens || 0) + (row.cache_write_tokens || 0);
  return row[metric] || 0;
}

/** Columns per period, oldest first; the biggest groups stacked, the others as "other". */
function chartData(rows, { metric, period }) {
  const periods = [...new Set(rows.map((row) => row.period))].sort();
  const totals = new Map();
  for (const row of rows) totals.set(row.group, (totals.get(row.group) || 0) + metricOf(row, metric));
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([group]) => group);
  const shown = ranked.slice(0, SHOWN_GROUPS);
  const names = ranked.length > SHOWN_GROUPS ? [...shown, "other"] : shown;
  const groups = names.map((name, index) => ({ label: name || "(none)", tone: index + 1, values: periods.map(() => 0) }));
  for (const row of rows) {
    const slot = shown.includes(row.group) ? shown.indexOf(row.group) : names.length - 1;
    groups[slot].values[periods.indexOf(row.period)] += metricOf(row, metric);
  }
  return { labels: periods.map((p) => periodLabel(p, period)), groups };
}

function usageTable(rows, { period, by }) {
  const sorted = [...rows].sort((a, b) => (a.period < b.period ? 1 : a.period > b.period ? -1 : (b.cost_usd || 0) - (a.cost_usd || 0)));
  const total = Object.fromEntries(COLUMNS.map(([key]) => [key, rows.reduce((sum, row) => sum + (row[key] || 0), 0)]));
  const unpriced = rows.reduce((sum, row) => sum + (row.unpriced || 0), 0);
  const groupHeader = GROUPS.find(([value]) => value === by)[1];
  return h(
    "table",
    { class: "table dense usage-table" },
    h("caption", { class: "visually-hidden", text: `Usage by ${period} and ${by}` }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Period" }), by === "none" ? null : h("th", { scope: "col", text: groupHeader }), COLUMNS.map(([, label]) => h("th", { scope: "col", class: "num", text: label })))),
    h(
      "tbody",
      {},
      sorted.map((row) =>
        h(
          "tr",
          {},
          h("td", { class: "nowrap", text: periodLabel(row.period, period) }),
          by === "none" ? null : h("td", { class: "truncate strong", text: row.group || "(none)" }),
          COLUMNS.map(([key, , format]) => h("td", { class: "num", text: format(row[key]) }, key === "cost_usd" && row.unpriced ? h("span", { class: "muted small", title: "requests without a price", text: ` +${row.unpriced} unpriced` }) : null)),
        ),
      ),
    ),
    h("tfoot", {}, h("tr", {}, h("th", { scope: "row", text: "Total" }), by === "none" ? null : h("td", {}), COLUMNS.map(([key, , format]) => h("td", { class: "num", text: format(total[key]) }, key === "cost_usd" && unpriced ? h("span", { class: "muted small", text: ` +${unpriced} unpriced` }) : null)))),
  );
}

/** Download the admin API's CSV of the same query (fetched with the key, saved as a file). */
async function exportCsv({ period, by }, message) {
  try {
    const response = await send("/usage", { query: { period, by, since: SINCE[period], format: "csv" } });
    const blob = await response.blob();
    const url = URL.createObjectURL(new Blob([blob], { type: "text/csv" }));
    const link = h("a", { href: url, download: `plexus-usage-${period}-by-${by}.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    replace(message, notice("bad", describe(error)));
  }
}
