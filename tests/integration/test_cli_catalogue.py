"""`fluxbilling catalogue apply` and `export`, in-process on both databases: the sample file
applies, a second apply changes nothing, a dry run writes nothing, errors name the YAML path,
nothing half-applies, and an export applies back unchanged."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from fluxbilling import bootstrap
from fluxbilling.config import Settings
from fluxbilling.db import schema
from fluxbilling.drivers.connections import create_connection
from tests.integration.test_cli import env, run_cli

__all__ = ["env"]  # the fixture, used by name

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "catalogue.yaml"


def _query(query: Any) -> list[Any]:
    async def read() -> list[Any]:
        inst = bootstrap.build(Settings())
        try:
            async with inst.db.connect() as conn:
                return list((await conn.execute(query)).all())
        finally:
            await inst.close()

    return asyncio.run(read())


@pytest.fixture
def panel(env: str) -> str:
    """The connection the sample's hosts and product name (connections hold secrets: not
    part of the catalogue file)."""

    async def seed() -> None:
        inst = bootstrap.build(Settings())
        async with inst.db.begin() as conn:
            await create_connection(
                conn,
                inst.vault,
                name="solusvm2",
                type="solusvm2",
                base_url="https://panel.example.com/api/v1",
                secrets={"api_token": "tok"},
            )
        await inst.close()

    assert run_cli("migrate") == 0
    asyncio.run(seed())
    return env


def _counts() -> dict[str, int]:
    tables = (schema.locations, schema.subnets, schema.hosts, schema.images, schema.products)
    dcim = (schema.racks, schema.ports, schema.cables)
    return {t.name: len(_query(sa.select(t.c.id))) for t in (*tables, schema.customers, *dcim)}


def test_the_sample_applies_once_and_then_changes_nothing(
    panel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run_cli("catalogue", "apply", str(SAMPLE), "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "  + fra1: create" in dry
    assert "  + vps-fra1-4g: create" in dry
    assert "nothing was written" in dry
    assert set(_counts().values()) == {0}
    assert _query(sa.select(schema.audit_log.c.id)) == []

    assert run_cli("catalogue", "apply", str(SAMPLE)) == 0
    applied = capsys.readouterr().out
    assert "13 to create, 0 unchanged" in applied
    assert _counts() == {
        "locations": 1,
        "subnets": 3,
        "hosts": 2,
        "images": 1,
        "products": 1,
        "customers": 1,
        "racks": 1,
        "ports": 2,
        "cables": 1,
    }
    audit = _query(sa.select(schema.audit_log.c.actor, schema.audit_log.c.action))
    assert len(audit) == 13
    assert {actor for actor, _ in audit} == {"cli"}
    (product,) = _query(sa.select(schema.products))
    assert product.options == {"plan_id": 3, "location_id": 1}  # suspend: the default
    assert product.password_delivery == "reveal_link"
    assert product.firewall["open_ports"] == ["tcp/80", "tcp/443"]

    assert run_cli("catalogue", "apply", str(SAMPLE)) == 0
    again = capsys.readouterr().out
    assert "nothing to change (13 unchanged)" in again
    assert len(_query(sa.select(schema.audit_log.c.id))) == 13


def test_a_change_shows_its_diff_and_missing_entries_are_kept_unless_pruned(
    panel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("catalogue", "apply", str(SAMPLE)) == 0
    document = yaml.safe_load(SAMPLE.read_text())
    document["hosts"] = document["hosts"][:1]
    document["hosts"][0]["ram_mb"] = 262144
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(document))
    capsys.readouterr()

    assert run_cli("catalogue", "apply", str(changed)) == 0
    out = capsys.readouterr().out
    assert "  ~ kvm-fra1-01: update ram_mb 131072 -> 262144" in out
    assert "  ? kvm-fra1-02: not in the file (kept; --prune deletes it)" in out
    assert len(_query(sa.select(schema.hosts.c.id))) == 2

    assert run_cli("catalogue", "apply", str(changed), "--prune") == 0
    assert "  - kvm-fra1-02: delete" in capsys.readouterr().out
    assert [h.name for h in _query(sa.select(schema.hosts.c.name))] == ["kvm-fra1-01"]
    actions = _query(sa.select(schema.audit_log.c.action).order_by(schema.audit_log.c.id))
    assert [a for (a,) in actions][-2:] == ["host.update", "host.delete"]


def test_errors_name_the_yaml_path_and_nothing_is_half_applied(
    panel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load(SAMPLE.read_text())
    document["hosts"][1]["ram_mb"] = "lots"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    assert run_cli("catalogue", "apply", str(bad)) == 2
    assert "hosts[1].ram_mb" in capsys.readouterr().err

    document = yaml.safe_load(SAMPLE.read_text())
    document["products"][0]["options"] = {"plan_id": "three"}  # the plugin's schema refuses
    late = tmp_path / "late.yaml"
    late.write_text(yaml.safe_dump(document))
    assert run_cli("catalogue", "apply", str(late)) == 2
    err = capsys.readouterr().err
    assert "products[0].options.plan_id" in err
    assert set(_counts().values()) == {0}  # the locations, hosts... before it: rolled back

    document = yaml.safe_load(SAMPLE.read_text())
    document["subnets"][0]["gateway"] = "10.0.0.1"
    twice = tmp_path / "twice.yaml"
    twice.write_text(yaml.safe_dump(document))
    assert run_cli("catalogue", "apply", str(twice)) == 2
    err = capsys.readouterr().err
    assert "subnets[0].gateway: is not inside 203.0.113.0/24" in err

    document = yaml.safe_load(SAMPLE.read_text())
    document["products"][0]["firewall"]["open_ports"] = ["tcp/443", "tcp/99999"]
    ports = tmp_path / "ports.yaml"
    ports.write_text(yaml.safe_dump(document))
    assert run_cli("catalogue", "apply", str(ports)) == 2
    assert "products[0].firewall.open_ports[1]: 'tcp/99999': ports are 1-65535" in (
        capsys.readouterr().err
    )

    (tmp_path / "broken.yaml").write_text("locations: [unclosed\n")
    assert run_cli("catalogue", "apply", str(tmp_path / "broken.yaml")) == 2
    assert "is not a YAML document" in capsys.readouterr().err
    (tmp_path / "odd.yaml").write_text("planets: []\n")
    assert run_cli("catalogue", "apply", str(tmp_path / "odd.yaml")) == 2
    assert "planets: is not a section" in capsys.readouterr().err


def test_an_export_applies_back_unchanged(
    panel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("catalogue", "apply", str(SAMPLE)) == 0
    exported = tmp_path / "export.yaml"
    assert run_cli("catalogue", "export", "-o", str(exported)) == 0
    document = yaml.safe_load(exported.read_text())
    assert document["hosts"][0]["location"] == "fra1"
    assert (document["hosts"][0]["rack"], document["hosts"][0]["rack_position"]) == ("fra1-r01", 10)
    assert document["cables"] == [
        {"label": "fra1-c0001", "a": "kvm-fra1-01/eno1", "b": "sw-fra1-r01/xe-0/0/1"}
    ]
    assert document["ports"][1] == {
        "port": "sw-fra1-r01/xe-0/0/1",
        "kind": "10gbase-x-sfpp",
        "device": "sw-fra1-r01",
    }
    assert document["products"][0]["image"] == "debian-12-fra1"
    assert "refund_policy" not in document["products"][0]["options"]
    assert document["products"][0]["firewall"] == {
        "enabled": True,
        "open_ports": ["tcp/80", "tcp/443"],  # canonical: sorted, every field
        "closed_ports": [],
        "block_smtp": True,
        "icmp_per_second": 10,
        "new_connections_per_minute": 120,
        "anti_spoofing": True,
    }
    capsys.readouterr()
    assert run_cli("catalogue", "apply", str(exported)) == 0
    assert "nothing to change (13 unchanged)" in capsys.readouterr().out
