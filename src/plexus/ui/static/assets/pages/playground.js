// The playground: a prompt sent for real through the gateway (/v1/... or /v1beta/...) in any
// client API, its answer streamed in, and beside it the upstream request the gateway makes
// of it (the admin API translates without calling anything).

import { get, request } from "../api.js";
import { button, card, describe, notice, pageHeader, segmented, tag } from "../components.js";
import { h, replace } from "../dom.js";
import { ms } from "../format.js";
import { CLIENT_APIS, errorMessage } from "../playground_apis.js";
import { readEvents } from "../sse.js";

const GATEWAY_KEY = "plexus.gatewayKey";

export function mount(root) {
  let api = "chat";
  let running = null;
  const models = h("datalist", { id: "playground-models" });
  const model = h("input", { id: "pg-model", name: "model", list: "playground-models", required: true, autocomplete: "off", spellcheck: "false" });
  const key = h("input", { id: "pg-key", name: "gateway-key", type: "password", autocomplete: "off", placeholder: "none: the gateway is open", value: sessionStorage.getItem(GATEWAY_KEY) || "" });
  const stream = h("input", { id: "pg-stream", name: "stream", type: "checkbox", checked: true });
  const prompt = h("textarea", { id: "pg-prompt", name: "prompt", rows: 6, required: true, placeholder: "Ask something…" });
  const sendButton = button("Send", { kind: "primary", type: "submit", icon: "send" });
  const stopButton = button("Stop", { icon: "stop", disabled: true, onClick: () => running?.abort() });
  const answer = h("div", { class: "answer", "aria-live": "polite", "aria-busy": "false" }, h("p", { class: "muted", text: "The answer appears here as it streams in." }));
  const stats = h("div", { class: "answer-stats" });
  const upstream = h("div", { class: "upstream" }, h("p", { class: "muted", text: "Send a prompt to see the request the gateway makes upstream." }));
  const sent = h("pre", { class: "code-block", text: "" });

  const form = h(
    "form",
    { class: "playground-form", on: { submit: (event) => run(event) } },
    h("div", { class: "field" }, h("label", { for: "pg-model", text: "Model or alias" }), model, models),
    h("div", { class: "field" }, h("span", { class: "label", id: "pg-api-label", text: "Client API" }), segmented("pg-api", "Client API", Object.entries(CLIENT_APIS).map(([value, spec]) => [value, spec.label]), api, (value) => (api = value))),
    h("div", { class: "field" }, h("label", { for: "pg-key", text: "Gateway key" }), key, h("p", { class: "hint", text: "A key from the config's keys: the request goes through the gateway like any client's." })),
    h("div", { class: "field checkbox" }, stream, h("label", { for: "pg-stream", text: "Stream the answer" })),
    h("div", { class: "field wide" }, h("label", { for: "pg-prompt", text: "Prompt" }), prompt),
    h("div", { class: "form-actions" }, stopButton, sendButton),
  );
  root.append(
    pageHeader("Playground", "Send a prompt through the gateway in any client API."),
    h(
      "div",
      { class: "playground" },
      card("Request", form),
      h("div", { class: "stack" }, card("Answer", stats, answer), card("Upstream request", upstream), card("Client request", sent)),
    ),
  );
  prompt.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") form.requestSubmit();
  });
  loadModels(models, model);

  async function run(event) {
    event.preventDefault();
    if (!model.value.trim() || !prompt.value.trim()) return;
    sessionStorage.setItem(GATEWAY_KEY, key.value);
    const spec = CLIENT_APIS[api];
    const name = model.value.trim();
    const body = spec.body(name, prompt.value, stream.checked);
    sent.textContent = `POST ${spec.path(name, stream.checked)}\n\n${JSON.stringify(body, null, 2)}`;
    // For an API with the model in the URL, the admin API takes it (and the stream flag) in the body.
    const preview = spec.modelInUrl ? { ...body, model: name, stream: stream.checked } : body;
    showUpstream(upstream, api, preview);
    running = new AbortController();
    sendButton.disabled = true;
    stopButton.disabled = false;
    answer.setAttribute("aria-busy", "true");
    try {
      const path = spec.path(name, stream.checked);
      await callGateway(spec, path, body, key.value, running.signal, answer, stats);
    } catch (error) {
      if (error.name !== "AbortError") replace(answer, notice("bad", describe(error)));
      else stats.append(tag("stopped", "warn"));
    } finally {
      running = null;
      sendButton.disabled = false;
      stopButton.disabled = true;
      answer.setAttribute("aria-busy", "false");
    }
  }
  return () => running?.abort();
}

async function loadModels(list, input) {
  try {
    const data = await get("/aliases");
    const names = (data.data || []).map((alias) => alias.name);
    replace(list, names.map((value) => h("option", { value })));
    if (!input.value && names.length) input.value = names[0];
  } catch {
    // The field still takes any model name.
  }
}

async function showUpstream(target, api, body) {
  replace(target, h("p", { class: "muted", text: "Translating…" }));
  try {
    const { data } = await request("/playground", { method: "POST", json: { client_api: api, body } });
    const up = data.upstream || {};
    replace(
      target,
      h("div", { class: "upstream-head" }, tag(up.api || "—", "info"), h("span", { class: "strong", text: `${data.target?.provider ?? "?"} · ${data.target?.model ?? "?"}` })),
      h("code", { class: "mono block", text: `POST ${up.url || ""}` }),
      h("pre", { class: "code-block", text: JSON.stringify(up.body, null, 2) }),
    );
  } catch (error) {
    const problems = error.problems?.map((p) => `${p.path}: ${p.message}`).join("; ");
    replace(target, notice("warn", problems || describe(error)));
  }
}

async function callGateway(spec, path, body, key, signal, answer, stats) {
  const headers = { "content-type": "application/json", ...(spec.headers || {}) };
  if (key) headers.authorization = `Bearer ${key}`;
  const started = performance.now();
  replace(answer);
  replace(stats, h("span", { class: "muted", text: "Waiting for the first token…" }));
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body), signal });
  const status = h("span", { class: ["badge", response.ok ? "tone-ok" : "tone-bad"], text: response.status });
  if (!response.ok) {
    const error = await response.json().catch(() => ({}));
    replace(stats, status);
    replace(answer, notice("bad", errorMessage(error)));
    return;
  }
  const text = h("p", { class: "answer-text" });
  answer.append(text);
  let first = null;
  let usage = null;
  const isStream = (response.headers.get("content-type") || "").includes("event-stream");
  if (isStream) {
    await readEvents(response, ({ data }) => {
      if (data === "[DONE]") return;
      const event = JSON.parse(data);
      if (event.error || event.type === "error") throw new Error(errorMessage(event));
      const delta = spec.delta(event);
      if (delta) {
        first ??= performance.now();
        text.textContent += delta;
      }
      usage = spec.usage(event) || usage;
    });
  } else {
    const whole = await response.json();
    first = performance.now();
    text.textContent = spec.whole(whole);
    usage = spec.usage(whole);
  }
  const done = performance.now();
  replace(
    stats,
    status,
    isStream ? tag("streamed", "info") : null,
    h("span", { text: `first token ${ms(first === null ? null : first - started)}` }),
    h("span", { text: `total ${ms(done - started)}` }),
    usage ? h("span", { text: `${usage.input ?? "?"} in · ${usage.output ?? "?"} out tokens` }) : null,
  );
}
