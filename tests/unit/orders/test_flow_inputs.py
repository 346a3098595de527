"""The context a flow test runs with: options are settings, the connection is the chosen one."""

from __future__ import annotations

import pytest

from fluxbilling import errors, plugins
from fluxbilling.orders.flow_inputs import test_context as context_of

PLUGIN = plugins.load_plugin(
    {
        "format": "fluxbilling-visual-plugin",
        "plugin": {
            "slug": "acme",
            "type": "infrastructure-provider",
            "serviceType": "vps",
            "connectionType": "http",
            "capabilities": {"canProvision": True},
            "settings": {
                "type": "object",
                "properties": {"plan": {"type": "integer"}},
                "required": ["plan"],
            },
        },
        "flows": {"provision": {"nodes": [{"id": "start", "type": "trigger"}]}},
    },
    1,
)
LAB = {"name": "lab", "type": "http", "base_url": "https://lab.test:8443/api/", "id": 3}


def test_missing_parts_are_completed_and_generated_credentials_are_secret() -> None:
    context, secrets = context_of(
        PLUGIN,
        {"order": {"hostname": "t1"}, "settings": {"plan": 2}, "service": None},
        LAB,
        password=lambda: "pw-generated-1",
        account_name=lambda: "fbt00001",
    )
    assert context == {
        "order": {"hostname": "t1"},
        "options": {"plan": 2},
        "settings": {"plan": 2},
        "connection": {
            "name": "lab",
            "type": "http",
            "base_url": "https://lab.test:8443/api/",
            "origin": "https://lab.test:8443",
            "host": "lab.test",
        },
        "account": {"username": "fbt00001"},
        "credentials": {"root_password": "pw-generated-1", "password": "pw-generated-1"},
    }
    assert secrets == ("pw-generated-1", "pw-generated-1")


def test_given_credentials_and_account_are_kept_and_the_connection_is_replaced() -> None:
    context, secrets = context_of(
        PLUGIN,
        {
            "options": {"plan": 1},
            "account": {"username": "ada"},
            "connection": {"name": "production-panel"},
            "credentials": {"password": "given-Secret-9"},
        },
        LAB,
    )
    assert context["account"] == {"username": "ada"}
    assert context["connection"]["name"] == "lab"
    assert context["credentials"] == {"password": "given-Secret-9"}
    assert secrets == ("given-Secret-9",)


def test_options_that_do_not_fit_the_settings_name_their_input_path() -> None:
    with pytest.raises(errors.InvalidSettings) as refused:
        context_of(PLUGIN, {"options": {"plan": "big"}}, LAB)
    assert refused.value.details["problems"] == [
        {"path": "inputs.options.plan", "message": "'big' is not of type 'integer'"}
    ]
