// Providers and aliases: what the config routes where, how each target is doing (cooldowns,
// with a reset), and forms to change them; a change is live once the gateway reloaded it.

import { get, request } from "../api.js";
import { button, card, confirmAction, describe, empty, every, notice, pageHeader, tag } from "../components.js";
import { h, replace } from "../dom.js";
import { int, span } from "../format.js";
import { editAlias, editProvider } from "./editors.js";

export function mount(root) {
  const controller = new AbortController();
  const message = h("div", { class: "page-message" });
  const aliases = h("div", {}, h("p", { class: "muted", text: "Loading…" }));
  const providers = h("div");
  const health = h("div");
  let state = { providers: [], aliases: [], health: [] };

  const say = (tone, text) => {
    replace(message, notice(tone, text));
  };
  const saved = (kind) => (name) => {
    say("ok", `${kind} ${name} saved. The gateway routes by it from now on.`);
    load();
  };
  const names = () => state.providers.map((p) => p.name);
  const actions = {
    editAlias: (name) => editAlias(name, names(), saved("Alias")),
    editProvider: (name) => editProvider(name, saved("Provider")),
    remove: async (kind, path, name) => {
      if (!(await confirmAction(`Delete ${kind} ${name}?`, `The ${kind} is removed from the config file.`))) return;
      try {
        await request(`${path}/${encodeURIComponent(name)}`, { method: "DELETE" });
        say("ok", `Deleted ${kind} ${name}.`);
        load();
      } catch (error) {
        say("bad", error.problems.length ? error.problems.map((p) => `${p.path}: ${p.message}`).join("; ") : describe(error));
      }
    },
    reset: async (provider, model) => {
      try {
        await request("/health/reset", { method: "POST", json: model ? { provider, model } : { provider } });
        say("ok", `Cooldown of ${provider}${model ? ` · ${model}` : ""} reset.`);
        loadHealth();
      } catch (error) {
        say("bad", describe(error));
      }
    },
  };

  root.append(
    pageHeader(
      "Providers and aliases",
      "Edits are written to the config file, validated first, and applied without a restart.",
      button("New alias", { icon: "plus", onClick: () => actions.editAlias(null) }),
      button("New provider", { icon: "plus", onClick: () => actions.editProvider(null) }),
    ),
    message,
    card("Aliases", aliases),
    card("Target health", health),
    card("Providers", providers),
  );

  async function load() {
    try {
      const [p, a, hl] = await Promise.all([
        get("/providers", null, controller.signal),
        get("/aliases", null, controller.signal),
        get("/health", null, controller.signal),
      ]);
      state = { providers: p.data || [], aliases: a.data || [], health: hl.data || [] };
      draw();
    } catch (error) {
      if (error.name !== "AbortError") say("bad", describe(error));
    }
  }
  async function loadHealth() {
    try {
      state.health = (await get("/health", null, controller.signal)).data || [];
      draw();
    } catch (error) {
      if (error.name !== "AbortError") say("bad", describe(error));
    }
  }
  function draw() {
    const byTarget = new Map(state.health.map((entry) => [`${entry.provider}\u0000${entry.model}`, entry]));
    replace(aliases, aliasTable(state.aliases, byTarget, actions));
    replace(health, healthTable(state.health, actions));
    replace(providers, providerTable(state.providers, state.health, actions));
  }

  load();
  const stop = every(5, loadHealth);
  return () => {
    stop();
    controller.abort();
  };
}

function healthDot(entry) {
  const cooling = entry && entry.state === "cooling";
  const label = cooling ? `cooling down${until(entry)}` : "healthy";
  return h("span", { class: ["dot", cooling ? "tone-bad" : "tone-ok"], role: "img", "aria-label": label, title: label });
}

function until(entry) {
  if (!entry.cooling_until) return "";
  return ` for ${span(entry.cooling_until - Date.now() / 1000)}`;
}

function aliasTable(aliases, byTarget, actions) {
  if (!aliases.length) return empty("No aliases yet: an alias gives clients one name for one or more provider models.");
  return h(
    "table",
    { class: "table" },
    h("thead", {}, h("tr", {}, ["Alias", "Selector", "Targets", ""].map((text) => h("th", { scope: "col", text })))),
    h(
      "tbody",
      {},
      aliases.map((alias) =>
        h(
          "tr",
          { "data-alias": alias.name },
          h("th", { scope: "row", class: "strong", text: alias.name }),
          h("td", {}, tag(alias.selector || "random")),
          h(
            "td",
            {},
            h(
              "ul",
              { class: "target-list" },
              (alias.targets || []).map((t) =>
                h("li", {}, healthDot(byTarget.get(`${t.provider}\u0000${t.model}`)), h("span", { text: `${t.provider} · ${t.model}` }), t.weight !== undefined && t.weight !== 1 ? h("span", { class: "muted", text: ` ×${t.weight}` }) : null),
              ),
            ),
          ),
          h("td", { class: "row-actions" }, button("Edit", { icon: "edit", kind: "ghost", "aria-label": `Edit alias ${alias.name}`, onClick: () => actions.editAlias(alias.name) }), button("Delete", { icon: "trash", kind: "ghost", "aria-label": `Delete alias ${alias.name}`, onClick: () => actions.remove("alias", "/aliases", alias.name) })),
        ),
      ),
    ),
  );
}

function healthTable(entries, actions) {
  if (!entries.length) return h("p", { class: "muted", text: "No target has been called yet: health is learnt from traffic." });
  return h(
    "table",
    { class: "table" },
    h("thead", {}, h("tr", {}, ["Provider", "Model", "State", "Failures in a row", ""].map((text) => h("th", { scope: "col", text })))),
    h(
      "tbody",
      {},
      entries.map((entry) =>
        h(
          "tr",
          {},
          h("td", { class: "strong", text: entry.provider }),
          h("td", { text: entry.model }),
          h("td", {}, healthDot(entry), entry.state === "cooling" ? ` cooling down${until(entry)}` : " ok"),
          h("td", { class: "num", text: int(entry.failures || 0) }),
          h("td", { class: "row-actions" }, entry.state === "cooling" ? button("Reset", { kind: "ghost", "aria-label": `Reset cooldown of ${entry.provider} ${entry.model}`, onClick: () => actions.reset(entry.provider, entry.model) }) : null),
        ),
      ),
    ),
  );
}

function providerTable(providers, health, actions) {
  if (!providers.length) return empty("No providers configured.");
  return h(
    "table",
    { class: "table" },
    h("thead", {}, h("tr", {}, ["Provider", "Type", "Base URL", "Models", "Health", ""].map((text) => h("th", { scope: "col", text })))),
    h(
      "tbody",
      {},
      providers.map((provider) => {
        const entries = health.filter((entry) => entry.provider === provider.name);
        const cooling = entries.filter((entry) => entry.state === "cooling").length;
        return h(
          "tr",
          { "data-provider": provider.name },
          h("th", { scope: "row", class: "strong", text: provider.name }),
          h("td", {}, tag(provider.type || "—")),
          h("td", { class: "truncate mono", text: provider.api_base_url || "—" }),
          h("td", {}, h("div", { class: "chips" }, (provider.models || []).map((m) => h("span", { class: "chip", text: m })))),
          h("td", {}, cooling ? h("span", {}, healthDot({ state: "cooling" }), ` ${cooling} cooling`, " ", button("Reset all", { kind: "ghost", onClick: () => actions.reset(provider.name) })) : entries.length ? h("span", {}, healthDot({ state: "ok" }), " ok") : h("span", { class: "muted", text: "no calls yet" })),
          h("td", { class: "row-actions" }, button("Edit", { icon: "edit", kind: "ghost", "aria-label": `Edit provider ${provider.name}`, onClick: () => actions.editProvider(provider.name) }), button("Delete", { icon: "trash", kind: "ghost", "aria-label": `Delete provider ${provider.name}`, onClick: () => actions.remove("provider", "/providers", provider.name) })),
        );
      }),
    ),
  );
}
