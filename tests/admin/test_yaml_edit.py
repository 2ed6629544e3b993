"""Redaction and restoration splice the file's text: every secret hidden, every other byte kept,
and the redacted text restores to the file byte for byte."""

from __future__ import annotations

import pytest

from plexus.admin import yaml_edit
from plexus.admin.wire import AdminError

SECRETS = ("sk-one", "multi-line-key", "Bearer abc", "s3cret", "pw@db", "tok-1", "sk-tagged")
CASES = {
    "anchor-and-alias": "keys:\n  a:\n    secret: &s sk-one  # c\n  b:\n    secret: *s\n",
    "block-scalar": "providers:\n  p:\n    api_key: |\n      multi-line-key\n    type: chat\n",
    "flow-headers": 'providers:\n  p:\n    headers: {Authorization: "Bearer abc", X-Other: o}\n',
    "proxy-password": "providers:\n  p:\n    proxy: http://user:s3cret@proxy:3128\n",
    "database-url": "usage:\n  database: postgres://plexus:pw@db@host/plexus\n",
    "metrics-token": "server:\n  metrics_token: 'tok-1'\n",
    "tag": "providers:\n  p:\n    api_key: !!str sk-tagged\n",
    "merge-key": ("base: &b\n  api_key: sk-one\nproviders:\n  p:\n    <<: *b\n    type: chat\n"),
}


@pytest.mark.parametrize("case", CASES)
def test_redact_hides_every_secret_and_restores_exactly(case: str) -> None:
    text = CASES[case]
    redacted = yaml_edit.redact(text)
    for secret in SECRETS:
        assert secret not in redacted, (case, redacted)
    assert yaml_edit.restore(redacted, text) == text


def test_nothing_else_changes() -> None:
    text = "# top\nproviders:\n  p:  # mine\n    type: chat\n    api_key: sk-one   # key\n"
    assert yaml_edit.redact(text) == text.replace("sk-one", "'***REDACTED:providers.p.api_key***'")


def test_a_plain_reference_moved_into_a_flow_mapping_stays_valid() -> None:
    original = "providers:\n  p:\n    api_key: ${KEY}\n"
    edited = "providers:\n  p: {api_key: '***REDACTED:providers.p.api_key***'}\n"
    assert yaml_edit.restore(edited, original) == 'providers:\n  p: {api_key: "${KEY}"}\n'


def test_a_placeholder_for_no_secret_is_named() -> None:
    with pytest.raises(AdminError) as caught:
        yaml_edit.restore("keys:\n  x:\n    secret: '***REDACTED:keys.y.secret***'\n", "")
    assert caught.value.problems is not None
    assert caught.value.problems[0].path == "keys.x.secret"


def test_set_entry_keeps_the_rest_and_the_entry_style() -> None:
    text = "# head\nmodels:\n  a:  # first\n    targets: [{provider: p, model: m}]\n  b:\n"
    text += "    targets:\n      - provider: p\n        model: n\n"
    same = yaml_edit.set_entry(text, "models", "a", {"targets": [{"provider": "p", "model": "m"}]})
    assert same == text
    changed = yaml_edit.set_entry(text, "models", "b", {"targets": [{"provider": "p",
                                                                     "model": "yes"}]})  # fmt: skip
    assert '        model: "yes"\n' in changed  # stays a string, not a boolean
    assert changed.startswith("# head\nmodels:\n  a:  # first\n")
    gone = yaml_edit.set_entry(text, "models", "a", None)
    assert "  a:" not in gone and "# head" in gone
    with pytest.raises(AdminError):
        yaml_edit.set_entry(text, "models", "absent", None)


FOUR_SPACES = """\
# header

providers:

    # OpenAI itself
    openai:
        type: chat
        api_base_url: 'https://api.openai.com/v1'
        api_key: ${OPENAI_API_KEY}
        models:
        - gpt-4o
        - gpt-4o-mini   # cheap

models:
    fast:
        selector: in_order
        targets:
        - {provider: openai, model: gpt-4o-mini}
        - provider: openai
          model: gpt-4o   # fallback
"""


def test_an_edit_follows_the_files_own_indentation() -> None:
    for section, name in (("providers", "openai"), ("models", "fast")):
        entry = yaml_edit.section_entry(yaml_edit.redact(FOUR_SPACES), section, name)
        edited = yaml_edit.set_entry(FOUR_SPACES, section, name, entry)
        assert yaml_edit.restore(edited, FOUR_SPACES) == FOUR_SPACES
    added = yaml_edit.set_entry(FOUR_SPACES, "models", "slow", {"targets": [
        {"provider": "openai", "model": "gpt-4o"}]})  # fmt: skip
    assert added == FOUR_SPACES + (
        "    slow:\n        targets:\n        - provider: openai\n          model: gpt-4o\n"
    )
