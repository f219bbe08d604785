"""`make invoke` (local/invoke.py): the events as they are, and a deployment reached with the
least configuration, shown as production would show it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import handler
from local import invoke
from local.standin import StandIn

from .conftest import {% if cookiecutter.auth_mode == "password" %}DB_PASSWORD, DB_USER, {% endif %}FakeContext

EVENTS = Path(__file__).resolve().parent.parent / "events"


def test_the_get_item_event_works_as_it_is(container: StandIn) -> None:
    """Usable by `sam local invoke -e` too: no placeholder, an id no database holds."""
    event = json.loads((EVENTS / "get_item.json").read_text())
    response = handler.handler(event, FakeContext())
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"error": "item not found"}


@pytest.fixture
def deployment(container: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """A deployment reached with MONGODB_URI alone (the stand-in plays it)."""
    for name in ("MONGODB_DATABASE", "MONGODB_SECRET_ARN", "MONGODB_USERNAME", "MONGODB_PASSWORD"):
        monkeypatch.delenv(name, raising=False)  # and restored after the test
    monkeypatch.setenv("MONGODB_URI", container.uri)
    return container


{% if cookiecutter.auth_mode == "password" -%}
def test_a_deployment_needs_only_its_uri_and_a_user(
    deployment: StandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONGODB_USERNAME", DB_USER)  # read by the local invoker only
    monkeypatch.setenv("MONGODB_PASSWORD", DB_PASSWORD)
{%- else -%}
def test_a_deployment_needs_only_its_uri(
    deployment: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
{%- endif %}
    assert invoke.main([]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in EVENT_NAMES]
    assert [(r[0], r[2]) for r in rows] == [
        ("health", "200"), ("health", "200"),
        ("create_item", "201"), ("create_item", "201"),
        ("get_item", "200"), ("get_item", "200"),
    ]  # fmt: skip
    assert [r[6] for r in rows] == ["cold"] + ["warm"] * 5
    assert [r[4] for r in rows] == ["-"] * 6  # a deployment: no server-side socket count
    # MONGODB_DATABASE defaults to the one the project was generated for.
    assert deployment.collection(invoke.DEFAULT_DATABASE, "items").count_documents({}) == 2
    logs = [json.loads(line.split(maxsplit=1)[1]) for line in out.splitlines() if " log " in line]
    assert len({log["correlation_id"] for log in logs}) == 6
    assert out.rstrip().endswith("the 5 after it opened none: every one reused them")
{%- if cookiecutter.auth_mode == "password" %}
    assert DB_PASSWORD not in out
{%- endif %}
{%- if cookiecutter.auth_mode == "password" %}


def test_without_a_secret_or_a_user_the_invoker_says_what_to_set(deployment: StandIn) -> None:
    with pytest.raises(SystemExit, match="MONGODB_USERNAME and MONGODB_PASSWORD"):
        invoke.main([])
{%- endif %}


EVENT_NAMES = (["health"], ["create_item"], ["get_item"])
