"""The rendered rulesets, checked by nftables' own parser: Debian's `nft -c -f <file>`.

`nft` comes from Debian's `nftables` package (`scripts/services` installs it). Without it
the test fails. `nft -c` still opens a netlink socket, so a machine that refuses that
(no CAP_NET_ADMIN) cannot check anything: only then is the test skipped, with nft's error.
"""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest
import yaml

from fluxbilling.images import cloudinit, passwords
from fluxbilling.network import firewall, nftables
from tests.unit.network.test_nftables import CASES

pytestmark = pytest.mark.integration

_TRIVIAL = "table inet fluxbilling_probe {\n\tchain input {\n\t}\n}\n"


def nft_check(path: Path) -> subprocess.CompletedProcess[str]:
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if not Path(nft).exists():
        pytest.fail("nft is missing: run scripts/services (installs Debian's nftables)")
    return subprocess.run(
        [nft, "-c", "-f", str(path)], capture_output=True, text=True, check=False, timeout=30
    )


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip (only) when this machine lets nft check nothing at all, saying why."""
    probe = tmp_path_factory.mktemp("nft") / "probe.nft"
    probe.write_text(_TRIVIAL, encoding="utf-8")
    result = nft_check(probe)
    if result.returncode != 0 and "Operation not permitted" in result.stderr:
        pytest.skip(f"this machine refuses nft -c a netlink socket: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_nft_accepts_the_rendered_rulesets(checker: None, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(CASES[name]().text, encoding="utf-8")
    result = nft_check(path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("service_type", ["vps", "baremetal", "shared", "game"])
def test_nft_accepts_every_service_types_defaults(
    checker: None, tmp_path: Path, service_type: str
) -> None:
    policy = firewall.FirewallPolicy()
    ports = firewall.open_ports(policy, service_type, {"port_range": ["25565"]})
    ruleset = nftables.render(policy, ports, ipv4=["192.0.2.10"], ipv6=["2001:db8::/64"])
    path = tmp_path / "ruleset.nft"
    path.write_text(ruleset.text, encoding="utf-8")
    result = nft_check(path)
    assert result.returncode == 0, result.stderr


def test_nft_refuses_a_broken_ruleset(checker: None, tmp_path: Path) -> None:
    """The check is real: nft's parser does refuse what it cannot load."""
    path = tmp_path / "broken.nft"
    path.write_text(CASES["vps-dual-stack.nft"]().text.replace("policy drop;", "policy maybe;"))
    result = nft_check(path)
    assert result.returncode != 0
    assert "syntax error" in result.stderr or "Error" in result.stderr


def test_the_file_cloud_init_writes_is_what_nft_accepts(checker: None, tmp_path: Path) -> None:
    ruleset = CASES["vps-dual-stack.nft"]()
    documents = cloudinit.render(
        cloudinit.CloudInitSpec(
            hostname="vps1",
            fqdn="vps1.example.net",
            instance_id="svc-42-1",
            address=IPv4Interface("192.0.2.10/24"),
            gateway=IPv4Address("192.0.2.1"),
            dns_servers=(IPv4Address("192.0.2.53"),),
            root_password_hash=passwords.sha512_crypt("pw", "salt"),
            firewall_ruleset=ruleset.text,
        )
    )
    user_data = yaml.safe_load(documents.user_data)
    [conf] = [f for f in user_data["write_files"] if f["path"] == "/etc/nftables.conf"]
    path = tmp_path / "nftables.conf"
    path.write_text(conf["content"], encoding="utf-8")
    result = nft_check(path)
    assert result.returncode == 0, result.stderr
    assert user_data["runcmd"][0] == ["nft", "-f", "/etc/nftables.conf"]
