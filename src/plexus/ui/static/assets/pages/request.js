// One request: what was asked, what served it, what it used and cost, how long each part
// took, and every target tried on the way (the attempt trail).

import { get } from "../api.js";
import { card, definitions, describe, loading, notice, pageHeader, statusBadge, tag } from "../components.js";
import { h, icon, replace } from "../dom.js";
import { dateTime, int, ms, usd } from "../format.js";
import { BASE } from "../router.js";

// The usage store writes in batches (about every second): a request seen live may not be
// readable for a moment, so a 404 is retried a few times before it is believed.
const RETRIES = [500, 1000, 2000];

export function mount(root, { params }) {
  const [id] = params;
  const controller = new AbortController();
  const body = h("div", {}, loading());
  root.append(
    h("a", { class: "back-link", href: `${BASE}/log` }, icon("back"), "All requests"),
    pageHeader("Request", h("code", { class: "request-id", text: id })),
    body,
  );

  const load = async (attempt = 0) => {
    try {
      const record = await get(`/requests/${encodeURIComponent(id)}`, null, controller.signal);
      replace(body, detail(record));
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 404 && attempt < RETRIES.length) {
        setTimeout(() => load(attempt + 1), RETRIES[attempt]);
        return;
      }
      const text = error.status === 404 ? "No request with this id is stored." : describe(error);
      replace(body, notice("bad", text));
    }
  };
  load();
  return () => controller.abort();
}

function detail(record) {
  const tokens = [
    ["Input (uncached)", record.input_tokens],
    ["Output", record.output_tokens],
    ["Cache read", record.cache_read_tokens],
    ["Cache write", record.cache_write_tokens],
    ["Reasoning", record.reasoning_tokens],
  ];
  return h(
    "div",
    { class: "detail" },
    summary(record),
    h(
      "div",
      { class: "grid two" },
      card(
        "Request",
        definitions([
          ["Time", dateTime(record.time)],
          ["Gateway key", record.key || "— (open gateway)"],
          ["Client API", tag(record.client_api || "—")],
          ["Operation", record.route || "—"],
          ["Model asked for", h("span", { class: "strong", text: record.alias || "—" })],
          ["Streamed", record.stream ? "yes" : "no"],
          ["User agent", record.user_agent || "—"],
        ]),
      ),
      card(
        "Answer",
        definitions([
          ["Status", statusBadge(record.status)],
          ["Served by", record.provider ? `${record.provider} · ${record.upstream_model}` : "—"],
          ["Passthrough", record.passthrough ? "yes (same API, body forwarded)" : "no (translated)"],
          ["Finish reason", record.finish_reason || "—"],
          ["Error", record.error_kind || "—"],
          ["Attempts", int(record.attempts)],
        ]),
      ),
      card(
        "Tokens and cost",
        definitions([
          ...tokens.map(([label, value]) => [label, int(value)]),
          ["Estimated", record.tokens_estimated ? "yes" : "no"],
          ["Cost", h("span", {}, usd(record.cost_usd), record.cost_source ? h("span", { class: "muted", text: ` (${record.cost_source})` }) : record.cost_usd === null || record.cost_usd === undefined ? h("span", { class: "muted", text: " (unpriced)" }) : null)],
        ]),
      ),
      card("Timing", timing(record)),
    ),
    card("Attempt trail", trail(record.trail || [])),
  );
}

function summary(record) {
  return h(
    "div",
    { class: "summary" },
    statusBadge(record.status),
    h("span", { class: "summary-model", text: record.alias || "—" }),
    h("span", { class: "muted", text: "→" }),
    h("span", { text: record.provider ? `${record.provider} · ${record.upstream_model}` : "not served" }),
    h("span", { class: "muted", text: ms(record.duration_ms) }),
  );
}

/** The request's moments on one bar: first byte, first token, end. */
function timing(record) {
  const total = record.duration_ms || 0;
  const marks = [
    ["First byte", record.ttfb_ms],
    ["First token", record.ttft_ms],
    ["Whole request", record.duration_ms],
    ["Gateway overhead", record.overhead_ms],
  ];
  const bar = h("div", { class: "timeline", "aria-hidden": "true" });
  for (const [label, value] of marks.slice(0, 2)) {
    if (value === null || value === undefined || !total) continue;
    bar.append(h("span", { class: "timeline-mark", title: label, vars: { at: `${Math.min(100, (value / total) * 100)}%` } }));
  }
  return h("div", {}, bar, definitions(marks.map(([label, value]) => [label, ms(value)])));
}

function trail(attempts) {
  if (!attempts.length) return h("p", { class: "muted", text: "No target was tried (refused before routing)." });
  return h(
    "ol",
    { class: "trail" },
    attempts.map((attempt, index) => {
      const failed = attempt.error || (attempt.status && attempt.status >= 400);
      return h(
        "li",
        { class: ["trail-step", failed ? "failed" : "succeeded"] },
        h("span", { class: "trail-index", text: index + 1 }),
        h(
          "div",
          { class: "trail-body" },
          h("div", { class: "trail-head" }, h("strong", { text: attempt.provider }), h("span", { class: "muted", text: ` · ${attempt.model}` }), attempt.status ? statusBadge(attempt.status) : null, h("span", { class: "muted", text: ms(attempt.duration_ms) })),
          attempt.error ? h("p", { class: "trail-error", text: attempt.error }) : null,
        ),
      );
    }),
  );
}
