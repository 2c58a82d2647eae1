"""The ``snap_start`` setting: SnapStart on published versions, and API routes on the alias."""

from __future__ import annotations

import json

from tests.infrastructure.conftest import Synth, resources
from tests.infrastructure.test_stack import function

RELAY_HANDLER = "lambdas.handlers.qbwc_api.handler"


def _api_invokes(synth: Synth) -> str:
    return json.dumps(
        [
            m["Properties"]["Integration"].get("Uri")
            for m in resources(synth, "AWS::ApiGateway::Method").values()
        ]
    )


def test_dev_has_no_snap_start(dev: Synth) -> None:
    for fn in resources(dev, "AWS::Lambda::Function").values():
        assert "SnapStart" not in fn["Properties"]
    assert not resources(dev, "AWS::Lambda::Alias")


def test_prod_snapshots_every_python_function_and_routes_invoke_the_alias(prod: Synth) -> None:
    functions = resources(prod, "AWS::Lambda::Function")
    python = {k: v for k, v in functions.items() if v["Properties"]["Runtime"].startswith("python")}
    assert python
    for fn in python.values():
        assert fn["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    aliases = resources(prod, "AWS::Lambda::Alias")
    assert {a["Properties"]["FunctionName"]["Ref"] for a in aliases.values()} == set(python)
    assert all(a["Properties"]["Name"] == "live" for a in aliases.values())
    relay_id, _ = function(prod, RELAY_HANDLER)
    (relay_alias,) = [
        k for k, a in aliases.items() if a["Properties"]["FunctionName"]["Ref"] == relay_id
    ]
    uris = _api_invokes(prod)
    assert relay_alias in uris and relay_id not in uris
