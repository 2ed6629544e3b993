"""The config file through the admin API: read redacted, validate, replace with If-Match; every
refusal leaves the file byte for byte."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from plexus.admin.config_file import ConfigFile
from tests.admin.conftest import GATEWAY_KEY, UPSTREAM_KEY, Admin

INVALID = {
    "yaml-syntax": "providers: [unclosed\n",
    "unknown-field": "providers:\n  x:\n    type: chat\n    api_base_url: http://h\n    hue: 1\n",
    "bad-type": "providers:\n  x:\n    type: klingon\n    api_base_url: http://h\n",
    "not-a-mapping": "- just\n- a list\n",
    "stray-placeholder": "keys:\n  bob:\n    secret: '***REDACTED:keys.bob.secret***'\n",
}


async def test_get_redacts_every_secret_and_keeps_the_rest(admin: Admin) -> None:
    status, body, response = await admin.call("GET", "/config")
    assert status == 200
    text = body["yaml"]
    for secret in (GATEWAY_KEY, UPSTREAM_KEY, "PLEXUS_TEST_UPSTREAM_KEY"):
        assert secret not in text
    assert "'***REDACTED:keys.alice.secret***'  # alice's key" in text
    assert "'***REDACTED:providers.mock-chat.api_key***'" in text
    assert "'***REDACTED:providers.mock-messages.api_key***'" in text
    assert "# the chat mock" in text
    assert body["path"] == str(admin.path)
    assert (body["writable"], body["reason"]) == (True, None)
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Cache-Control"] == "no-store"


async def test_put_round_trip_keeps_secrets_comments_and_applies(admin: Admin) -> None:
    _, body, response = await admin.call("GET", "/config")
    text = body["yaml"] + "  new-alias:  # added through the API\n    targets:\n"
    text += "      - provider: mock-chat\n        model: up-chat\n"
    headers = admin.headers(**{"If-Match": response.headers["ETag"]})
    status, written, answer = await admin.call("PUT", "/config", {"yaml": text}, headers)
    assert status == 200, written
    assert written["applied"] is True
    saved = admin.path.read_text()
    assert "api_key: ${PLEXUS_TEST_UPSTREAM_KEY}" in saved
    assert f'api_key: "{UPSTREAM_KEY}"' in saved
    assert f"secret: {GATEWAY_KEY}  # alice's key" in saved
    assert "new-alias:  # added through the API" in saved
    assert "new-alias" in admin.gateway.config.models  # applied before the answer
    _, _, again = await admin.call("GET", "/config")
    assert again.headers["ETag"] == written["etag"] == answer.headers["ETag"]


async def test_put_with_an_unchanged_text_keeps_the_file(admin: Admin) -> None:
    before = admin.path.read_bytes()
    _, body, response = await admin.call("GET", "/config")
    headers = admin.headers(**{"If-Match": response.headers["ETag"]})
    status, _, _ = await admin.call("PUT", "/config", {"yaml": body["yaml"]}, headers)
    assert status == 200
    assert admin.path.read_bytes() == before


async def test_put_needs_if_match(admin: Admin) -> None:
    before = admin.path.read_bytes()
    _, body, _ = await admin.call("GET", "/config")
    status, answer, _ = await admin.call("PUT", "/config", {"yaml": body["yaml"] + "\n"})
    assert (status, answer["error"]["type"]) == (428, "precondition_required")
    assert admin.path.read_bytes() == before


async def test_put_with_a_stale_etag_is_refused(admin: Admin) -> None:
    _, body, response = await admin.call("GET", "/config")
    stale = response.headers["ETag"]
    admin.path.write_text(admin.path.read_text() + "# edited by hand\n")
    before = admin.path.read_bytes()
    headers = admin.headers(**{"If-Match": stale})
    status, answer, _ = await admin.call("PUT", "/config", {"yaml": body["yaml"]}, headers)
    assert (status, answer["error"]["type"]) == (412, "precondition_failed")
    assert admin.path.read_bytes() == before


async def test_if_match_star_matches_any_version(admin: Admin) -> None:
    _, body, _ = await admin.call("GET", "/config")
    headers = admin.headers(**{"If-Match": "*"})
    text = body["yaml"] + "# star\n"
    status, _, _ = await admin.call("PUT", "/config", {"yaml": text}, headers)
    assert status == 200
    assert admin.path.read_text().endswith("# star\n")


@pytest.mark.parametrize("case", INVALID)
async def test_invalid_text_is_refused_with_its_problems(admin: Admin, case: str) -> None:
    before = admin.path.read_bytes()
    headers = admin.headers(**{"If-Match": "*"})
    for method, path in (("PUT", "/config"), ("POST", "/config/validate")):
        status, answer, _ = await admin.call(method, path, {"yaml": INVALID[case]}, headers)
        assert status == 400, (method, answer)
        assert answer["error"]["type"] == "invalid_config"
        problems = answer["error"]["problems"]
        assert problems and all(p["message"] for p in problems)
    assert admin.path.read_bytes() == before
    if case == "yaml-syntax":
        assert problems[0]["path"] == "" and "line 2" in problems[0]["message"]
    if case == "unknown-field":
        assert any(p["path"].startswith("providers.x") for p in problems)


async def test_validate_accepts_the_redacted_text(admin: Admin) -> None:
    _, body, _ = await admin.call("GET", "/config")
    status, answer, _ = await admin.call("POST", "/config/validate", {"yaml": body["yaml"]})
    assert (status, answer) == (200, {"valid": True})


@pytest.mark.parametrize(
    "body",
    [{"yaml": "a: 1", "extra": True}, {"text": "a: 1"}, {"yaml": 5}, None],
    ids=["unknown-field", "wrong-field", "wrong-type", "no-body"],
)
async def test_a_malformed_body_is_a_bad_request(admin: Admin, body: object) -> None:
    before = admin.path.read_bytes()
    headers = admin.headers(**{"If-Match": "*"})
    status, answer, _ = await admin.call("PUT", "/config", body, headers)
    assert (status, answer["error"]["type"]) == (400, "bad_request")
    assert admin.path.read_bytes() == before


async def test_a_read_only_file_is_a_conflict(admin: Admin) -> None:
    _, body, _ = await admin.call("GET", "/config")
    os.chmod(admin.path, 0o444)
    before = admin.path.read_bytes()
    _, view, _ = await admin.call("GET", "/config")
    assert view["writable"] is False and "read-only" in view["reason"]
    headers = admin.headers(**{"If-Match": "*"})
    status, answer, _ = await admin.call("PUT", "/config", {"yaml": body["yaml"] + "#\n"}, headers)
    assert (status, answer["error"]["type"]) == (409, "conflict")
    assert "read-only" in answer["error"]["message"]
    status, _, _ = await admin.call("DELETE", "/aliases/chat-model")
    assert status == 409
    assert admin.path.read_bytes() == before


async def test_a_read_only_directory_is_a_conflict(admin: Admin) -> None:
    folder: Path = admin.path.parent
    os.chmod(folder, 0o555)
    try:
        before = admin.path.read_bytes()
        status, answer, _ = await admin.call("DELETE", "/aliases/chat-model")
        assert (status, answer["error"]["type"]) == (409, "conflict")
        assert "directory" in answer["error"]["message"]
        assert admin.path.read_bytes() == before
    finally:
        os.chmod(folder, 0o755)


async def test_writes_switched_off_in_the_config(admin: Admin) -> None:
    _, body, _ = await admin.call("GET", "/config")
    text = body["yaml"] + "admin:\n  config_writes: false\n"
    headers = admin.headers(**{"If-Match": "*"})
    assert (await admin.call("PUT", "/config", {"yaml": text}, headers))[0] == 200
    before = admin.path.read_bytes()
    status, answer, _ = await admin.call("PUT", "/config", {"yaml": body["yaml"]}, headers)
    assert (status, answer["error"]["type"]) == (409, "conflict")
    assert "admin.config_writes" in answer["error"]["message"]
    assert admin.path.read_bytes() == before


async def test_writes_switched_off_in_the_environment(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEXUS_ADMIN_CONFIG_WRITES", "off")
    before = admin.path.read_bytes()
    status, answer, _ = await admin.call("DELETE", "/aliases/chat-model")
    assert (status, answer["error"]["type"]) == (409, "conflict")
    assert admin.path.read_bytes() == before


async def test_a_renamed_provider_keeps_its_secret(admin: Admin) -> None:
    _, body, _ = await admin.call("GET", "/config")
    text = body["yaml"].replace("  mock-messages:\n", "  renamed:\n")
    text = text.replace("provider: mock-messages", "provider: renamed")
    headers = admin.headers(**{"If-Match": "*"})
    status, answer, _ = await admin.call("PUT", "/config", {"yaml": text}, headers)
    # The placeholder names the old path, which the original file has a secret at.
    assert status == 200, answer
    assert f'api_key: "{UPSTREAM_KEY}"' in admin.path.read_text()
    assert admin.gateway.config.providers["renamed"].api_key == UPSTREAM_KEY


async def test_a_placeholder_for_no_secret_is_refused(admin: Admin) -> None:
    _, body, _ = await admin.call("GET", "/config")
    text = body["yaml"].replace("keys.alice.secret", "keys.nobody.secret")
    before = admin.path.read_bytes()
    headers = admin.headers(**{"If-Match": "*"})
    status, answer, _ = await admin.call("PUT", "/config", {"yaml": text}, headers)
    assert (status, answer["error"]["type"]) == (400, "invalid_config")
    assert answer["error"]["problems"][0]["path"] == "keys.alice.secret"
    assert admin.path.read_bytes() == before


async def test_an_edit_waits_for_another_workers_and_checks_its_version(admin: Admin) -> None:
    """Workers of one server share the file: an edit made with an ETag another worker's
    write has made stale is refused, even when both were sent at once."""
    _, body, response = await admin.call("GET", "/config")
    other_worker = ConfigFile(str(admin.path))
    holding, release = threading.Event(), threading.Event()

    def edit_elsewhere() -> None:
        with other_worker.locked():
            holding.set()
            release.wait(5)
            other_worker.write(admin.path.read_bytes() + b"# another worker\n")

    thread = threading.Thread(target=edit_elsewhere)
    thread.start()
    assert await asyncio.to_thread(holding.wait, 5)
    headers = admin.headers(**{"If-Match": response.headers["ETag"]})
    put = asyncio.create_task(admin.call("PUT", "/config", {"yaml": body["yaml"]}, headers))
    await asyncio.sleep(0.2)
    assert not put.done()  # waiting for the other worker's lock
    release.set()
    status, answer, _ = await put
    await asyncio.to_thread(thread.join)
    assert (status, answer["error"]["type"]) == (412, "precondition_failed")
    assert admin.path.read_text().endswith("# another worker\n")
