"""End-to-end runs of real coding agents (Claude Code, Codex CLI) through Plexus."""
