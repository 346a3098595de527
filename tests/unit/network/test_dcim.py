"""Tests for `fluxbilling.network.dcim`."""

from __future__ import annotations

import json
from ipaddress import ip_address

import pytest

from fluxbilling import errors
from fluxbilling.network import dcim


def make(**overrides: object) -> dcim.DcimRecord:
    values: dict[str, object] = {
        "service_id": "svc-42",
        "location_code": "fra1",
        "host_name": "HV01.fra1.example.net.",
        "address": ip_address("192.0.2.10"),
        "hostname": "vps1.example.net",
    }
    values.update(overrides)
    return dcim.dcim_record(**values)  # type: ignore[arg-type]


def test_record_is_normalised_and_serialisable() -> None:
    record = make()
    assert record.to_dict() == {
        "service_id": "svc-42",
        "location_code": "FRA1",
        "host_name": "hv01.fra1.example.net",
        "address": "192.0.2.10",
        "hostname": "vps1.example.net",
    }
    assert json.loads(json.dumps(record.to_dict())) == record.to_dict()


def test_ipv6_address() -> None:
    assert make(address=ip_address("2001:db8::10")).to_dict()["address"] == "2001:db8::10"


@pytest.mark.parametrize(
    "overrides",
    [
        {"service_id": "  "},
        {"location_code": ""},
        {"location_code": "fra 1"},
        {"host_name": "-bad"},
        {"host_name": "hv_01"},
        {"hostname": ""},
        {"hostname": "a" * 64},
    ],
)
def test_invalid_values(overrides: dict[str, object]) -> None:
    with pytest.raises(errors.InvalidSettings):
        make(**overrides)


def test_record_is_frozen() -> None:
    record = make()
    with pytest.raises(AttributeError):
        record.hostname = "other"  # type: ignore[misc]
