"""Tests for `fluxbilling.images.cloudinit`: rendered documents validate against the schemas."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from ipaddress import IPv4Address, IPv4Interface, IPv6Address
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from fluxbilling import errors
from fluxbilling.images import cloudinit, passwords

# Byte-for-byte copies of the vendor schemas (see the README next to them).
SCHEMAS = Path(__file__).parents[2] / "fixtures" / "cloud-init"
ROOT_HASH = passwords.sha512_crypt("correct horse", "fixedsalt")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl c@h"
BASE = cloudinit.CloudInitSpec(
    hostname="vps1",
    fqdn="vps1.example.net",
    instance_id="svc-42-gen-1",
    address=IPv4Interface("192.0.2.10/24"),
    gateway=IPv4Address("192.0.2.1"),
    dns_servers=(IPv4Address("192.0.2.53"), IPv6Address("2001:db8::53")),
    root_password_hash=ROOT_HASH,
)


@cache
def validator(name: str) -> Any:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    cls = jsonschema.Draft4Validator if "cloud-config" in name else jsonschema.Draft7Validator
    return cls(schema)


def user_data(spec: cloudinit.CloudInitSpec) -> dict[str, Any]:
    text = cloudinit.render(spec).user_data
    assert text.startswith("#cloud-config\n")
    document = yaml.safe_load(text)
    validator("schema-cloud-config-v1.json").validate(document)
    assert isinstance(document, dict)
    return document


def network(spec: cloudinit.CloudInitSpec) -> dict[str, Any]:
    document = yaml.safe_load(cloudinit.render(spec).network_config)
    validator("schema-network-config-v2.json").validate(document)
    assert isinstance(document, dict)
    return document


def test_schema_copies_are_the_vendor_files() -> None:
    import hashlib

    expected = {
        "schema-cloud-config-v1.json": "ba057d1e4f798bdd3b545b44a99ab3e5680c3c4d1562f82ed790a48a6989417a",
        "schema-network-config-v2.json": "0ad5a7b76e130909f4f6482c010c1765cc7bb8990fbc2b72186a3f2380a1788d",
    }
    for name, digest in expected.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest


def test_the_validator_catches_a_broken_document() -> None:
    # Guards against a vacuous schema check.
    with pytest.raises(jsonschema.ValidationError):
        validator("schema-cloud-config-v1.json").validate({"hostnme": "x"})


def test_password_only_vps_logs_in_as_root_with_password() -> None:
    document = user_data(BASE)
    assert document["hostname"] == "vps1"
    assert document["fqdn"] == "vps1.example.net"
    assert document["manage_etc_hosts"] is True
    assert document["users"] == [
        {"name": "root", "lock_passwd": False, "hashed_passwd": ROOT_HASH}
    ]  # no "default": the distro's default user is not created
    assert document["disable_root"] is False
    assert document["ssh_pwauth"] is True
    [drop_in] = document["write_files"]
    assert drop_in["path"] == cloudinit.SSHD_DROP_IN_PATH
    assert "PermitRootLogin yes" in drop_in["content"]


def test_with_keys_ssh_is_key_only() -> None:
    document = user_data(dataclasses.replace(BASE, ssh_authorized_keys=(KEY + "  ",)))
    [root] = document["users"]
    assert root["ssh_authorized_keys"] == [KEY]
    assert root["hashed_passwd"] == ROOT_HASH  # still usable on the console
    assert document["ssh_pwauth"] is False
    assert "write_files" not in document


def test_meta_data() -> None:
    docs = cloudinit.render(BASE)
    assert yaml.safe_load(docs.meta_data) == {
        "instance-id": "svc-42-gen-1",
        "local-hostname": "vps1",
    }
    assert set(docs.files()) == {"user-data", "meta-data", "network-config"}
    assert docs.files()["user-data"] == docs.user_data


def test_network_config_by_mac() -> None:
    spec = dataclasses.replace(BASE, mac_address="52-54-00-AB-CD-EF")
    document = network(spec)
    assert document == {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": "52:54:00:ab:cd:ef"},
                "set-name": "eth0",
                "addresses": ["192.0.2.10/24"],
                "routes": [{"to": "0.0.0.0/0", "via": "192.0.2.1"}],
                "nameservers": {"addresses": ["192.0.2.53", "2001:db8::53"]},
            }
        },
    }
    # The MAC is quoted so YAML 1.1 cannot read it as a base-60 number.
    assert 'macaddress: "52:54:00:ab:cd:ef"' in cloudinit.render(spec).network_config


def test_network_config_by_name_without_mac() -> None:
    document = network(dataclasses.replace(BASE, interface_name="ens3", dns_servers=()))
    device = document["ethernets"]["ens3"]
    assert "match" not in device
    assert "nameservers" not in device


def test_gateway_outside_the_subnet_is_rejected() -> None:
    # cloud-init's v2 subset has no `on-link`, so a routed /32 cannot be expressed.
    spec = dataclasses.replace(
        BASE, address=IPv4Interface("203.0.113.7/32"), gateway=IPv4Address("172.31.1.1")
    )
    with pytest.raises(errors.InvalidSettings, match="off-link"):
        cloudinit.render(spec)


def test_operator_cloud_config_is_appended() -> None:
    extra = "#cloud-config\n# ours\npackages:\n  - htop\nruncmd:\n  - [systemctl, enable, --now, qemu-guest-agent]"
    document = user_data(dataclasses.replace(BASE, extra_user_data=extra))
    assert document["packages"] == ["htop"]
    assert document["runcmd"] == [["systemctl", "enable", "--now", "qemu-guest-agent"]]
    assert document["users"][0]["hashed_passwd"] == ROOT_HASH


def test_header_only_operator_cloud_config_adds_nothing() -> None:
    plain = cloudinit.render(BASE).user_data
    assert (
        cloudinit.render(dataclasses.replace(BASE, extra_user_data="#cloud-config")).user_data
        == plain
    )
    assert cloudinit.render(dataclasses.replace(BASE, extra_user_data="  \n")).user_data == plain


@pytest.mark.parametrize("key", ["users", "ssh_pwauth", "hostname", "write_files"])
def test_operator_cannot_override_our_keys(key: str) -> None:
    spec = dataclasses.replace(BASE, extra_user_data=f"#cloud-config\n{key}: []\n")
    with pytest.raises(errors.InvalidSettings, match=key):
        cloudinit.render(spec)


@pytest.mark.parametrize(
    "body",
    ['"users": []', "---\npackages: [x]", "{users: []}", "<<: *x", "- a", "\tusers: []"],
)
def test_operator_cloud_config_must_be_a_plain_block_mapping(body: str) -> None:
    spec = dataclasses.replace(BASE, extra_user_data="#cloud-config\n" + body)
    with pytest.raises(errors.InvalidSettings, match="block mapping"):
        cloudinit.render(spec)


def test_operator_script_runs_once_with_its_interpreter() -> None:
    script = "#!/bin/bash\nset -eu\necho 'hello from the operator'\n"
    document = user_data(dataclasses.replace(BASE, extra_user_data=script))
    files = {entry["path"]: entry for entry in document["write_files"]}
    assert files[cloudinit.OPERATOR_SCRIPT_PATH]["content"] == script
    assert files[cloudinit.OPERATOR_SCRIPT_PATH]["permissions"] == "0700"
    assert cloudinit.SSHD_DROP_IN_PATH in files
    assert document["runcmd"] == [[cloudinit.OPERATOR_SCRIPT_PATH]]


def test_operator_script_with_keys_has_only_the_script_file() -> None:
    spec = dataclasses.replace(
        BASE, ssh_authorized_keys=(KEY,), extra_user_data="#!/bin/sh\ntrue\n"
    )
    document = user_data(spec)
    assert [entry["path"] for entry in document["write_files"]] == [cloudinit.OPERATOR_SCRIPT_PATH]
    assert {"runcmd", "write_files"} <= cloudinit.reserved_keys(spec)


def test_other_extra_user_data_is_rejected() -> None:
    with pytest.raises(errors.InvalidSettings, match="must start with"):
        cloudinit.render(dataclasses.replace(BASE, extra_user_data="packages: [htop]\n"))


@pytest.mark.parametrize(
    "changes",
    [
        {"hostname": "vps 1"},
        {"hostname": "-vps"},
        {"hostname": "vps_1"},
        {"fqdn": "vps1"},
        {"fqdn": "vps2.example.net"},
        {"fqdn": "vps1..example.net"},
        {"instance_id": ""},
        {"instance_id": "svc 1"},
        {"root_password_hash": "hunter2"},
        {"root_password_hash": "$1$salt$abcdefghijklmnopqrstuv"},
        {"ssh_authorized_keys": ("",)},
        {"ssh_authorized_keys": ("ssh-ed25519 AAAA\nssh-rsa BBBB",)},
        {"gateway": IPv4Address("192.0.2.10")},
        {"address": IPv4Interface("192.0.2.0/24")},
        {"address": IPv4Interface("192.0.2.255/24")},
        {"mac_address": "52:54:00:ab:cd"},
        {"mac_address": "zz:54:00:ab:cd:ef"},
        {"interface_name": "a-very-long-interface-name"},
        {"interface_name": "eth 0"},
    ],
)
def test_invalid_specs_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidSettings):
        cloudinit.render(dataclasses.replace(BASE, **changes))


def test_fqdn_trailing_dot_is_dropped_and_point_to_point_addresses_are_allowed() -> None:
    spec = dataclasses.replace(
        BASE,
        fqdn="vps1.example.net.",
        address=IPv4Interface("198.51.100.0/31"),
        gateway=IPv4Address("198.51.100.1"),
    )
    assert user_data(spec)["fqdn"] == "vps1.example.net"
    assert network(spec)["ethernets"]["eth0"]["addresses"] == ["198.51.100.0/31"]


def test_names_are_lowercased() -> None:
    document = user_data(dataclasses.replace(BASE, hostname="VPS1", fqdn="Vps1.Example.NET"))
    assert (document["hostname"], document["fqdn"]) == ("vps1", "vps1.example.net")


def test_rendering_is_deterministic() -> None:
    assert cloudinit.render(BASE) == cloudinit.render(BASE)


def test_tricky_text_survives_rendering_under_the_cloud_config_header() -> None:
    # YAML 1.1 words, numbers, comment and indicator characters, and non-ASCII: all reach
    # the guest as the same strings.
    script = "#!/bin/sh\n# yes: on\necho '~' null 0x10 1e3 - : caf\u00e9 \U0001f600\n"
    key = KEY.replace("c@h", "yes: # on ~")
    spec = dataclasses.replace(BASE, ssh_authorized_keys=(key,), extra_user_data=script)
    text = cloudinit.render(spec).user_data
    assert text.startswith("#cloud-config\n")
    document = user_data(spec)
    assert document["users"][0]["ssh_authorized_keys"] == [key]
    files = {entry["path"]: entry for entry in document["write_files"]}
    assert files[cloudinit.OPERATOR_SCRIPT_PATH]["content"] == script


RULESET = "#!/usr/sbin/nft -f\ntable inet fluxbilling {\n\tchain input {\n\t\ttcp dport { 22 } accept\n\t}\n}\n"


def test_a_firewall_is_written_as_nftables_conf_and_loaded_at_first_boot() -> None:
    document = user_data(dataclasses.replace(BASE, firewall_ruleset=RULESET))
    conf = document["write_files"][-1]
    assert conf == {
        "path": "/etc/nftables.conf",
        "content": RULESET,
        "owner": "root:root",
        "permissions": "0755",
    }
    assert document["packages"] == ["nftables"]
    assert document["runcmd"] == [
        ["nft", "-f", "/etc/nftables.conf"],
        ["systemctl", "enable", "nftables.service"],
    ]
    assert "packages" not in user_data(BASE) and "runcmd" not in user_data(BASE)


def test_an_operator_script_runs_after_the_firewall_is_loaded() -> None:
    spec = dataclasses.replace(BASE, firewall_ruleset=RULESET, extra_user_data="#!/bin/sh\ntrue\n")
    document = user_data(spec)
    assert [f["path"] for f in document["write_files"]] == [
        cloudinit.SSHD_DROP_IN_PATH,
        "/etc/nftables.conf",
        cloudinit.OPERATOR_SCRIPT_PATH,
    ]
    assert document["runcmd"][-1] == [cloudinit.OPERATOR_SCRIPT_PATH]
    assert document["runcmd"][0] == ["nft", "-f", "/etc/nftables.conf"]


def test_with_a_firewall_operator_cloud_config_may_not_repeat_runcmd() -> None:
    spec = dataclasses.replace(
        BASE, firewall_ruleset=RULESET, extra_user_data="#cloud-config\nruncmd:\n  - [true]\n"
    )
    with pytest.raises(errors.InvalidSettings, match="runcmd"):
        cloudinit.render(spec)


@pytest.mark.parametrize("ruleset", ["", "  \n", "table inet x {\x00}"])
def test_an_empty_or_binary_ruleset_is_refused(ruleset: str) -> None:
    with pytest.raises(errors.InvalidSettings, match="firewall ruleset"):
        cloudinit.render(dataclasses.replace(BASE, firewall_ruleset=ruleset))
