"""Pure rendering of the three NoCloud seed documents for a Linux VPS.

`render(spec)` turns a `CloudInitSpec` into `user-data` (`#cloud-config`), `meta-data` and
`network-config` (version 2) text. No I/O; the service builds the seed ISO or hands
`user_data` to the panel.

What the user-data does (what customers of a VPS host expect):

- sets `hostname` and `fqdn`, and lets cloud-init manage `/etc/hosts` so the name resolves;
- logs in as **root**: the distro's default user (`debian`, `ubuntu`, …) is *not* created
  (a `users` list without `default`), root gets the password hash through `hashed_passwd`
  (applied even though root exists; understood by every cloud-init release in use, unlike
  `chpasswd.users` which needs 22.2) with `lock_passwd: false`, and the SSH keys through
  root's own `ssh_authorized_keys`; `disable_root: false` keeps cloud-init from prefixing
  root's keys with "log in as the default user";
- with a firewall (`firewall_ruleset`, rendered by `network.nftables`): the ruleset is
  written to `/etc/nftables.conf` (where Debian's and Ubuntu's `nftables.service` reads it at
  every boot), the `nftables` package is installed when missing, and `runcmd` loads the
  file (`nft -f`) and enables the service, so the rules hold from first boot on and after
  reboots. `packages`, `runcmd` and `write_files` are then ours: an operator cloud-config may
  not repeat them (a `#!` script still runs, after the firewall is loaded);
- with SSH keys: `ssh_pwauth: false` (key-only SSH; the password still works on the
  console). Without keys: `ssh_pwauth: true` plus an sshd drop-in
  `/etc/ssh/sshd_config.d/10-fluxbilling.conf` with `PermitRootLogin yes`, because Debian
  and Ubuntu default to `prohibit-password` and would refuse the password anyway (needs
  OpenSSH >= 8.2 with the stock `Include sshd_config.d/*.conf`: Debian 11+, Ubuntu 20.04+,
  EL9+).

Operator additions (`extra_user_data`, the output of the operator's template), one rule:

- `None` or blank: nothing is added.
- starts with `#cloud-config`: its body is **appended verbatim** after ours. It must be a
  block-style mapping (every non-blank, non-comment line at column 0 is `key:`), and its
  top-level keys must not repeat one of ours (`reserved_keys(spec)`): a repeated key would
  make YAML loaders either fail or silently drop our root credentials, so it is rejected
  with `errors.InvalidSettings` instead of merged.
- starts with `#!`: a script; it is written to `/var/lib/fluxbilling/operator-script`
  (mode 0700) and run once as the last `runcmd` step with its own interpreter.
- anything else: `errors.InvalidSettings`.

Network: one `ethernets` entry. With a MAC the entry matches `macaddress` and renames the
NIC to `interface_name` (stable across image naming schemes); without one the entry id *is*
the interface name, so the image must use that name (`eth0` needs `net.ifnames=0`; prefer
passing the MAC). The default route is `0.0.0.0/0` (understood by old cloud-init
releases, unlike `default`). The gateway must sit inside the address's subnet: routed /32
setups need netplan's `on-link`, which cloud-init's v2 subset does not include, so they
are rejected. IPv4 only for now.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from fluxbilling import errors
from fluxbilling.images import _yaml, passwords

__all__ = [
    "CLOUD_CONFIG_HEADER",
    "NFTABLES_CONF_PATH",
    "OPERATOR_SCRIPT_PATH",
    "SSHD_DROP_IN_PATH",
    "CloudInitDocuments",
    "CloudInitSpec",
    "render",
    "reserved_keys",
]

CLOUD_CONFIG_HEADER = "#cloud-config\n"
OPERATOR_SCRIPT_PATH = "/var/lib/fluxbilling/operator-script"
SSHD_DROP_IN_PATH = "/etc/ssh/sshd_config.d/10-fluxbilling.conf"
NFTABLES_CONF_PATH = "/etc/nftables.conf"
_FIREWALL_COMMANDS: tuple[_yaml.Value, ...] = (
    ["nft", "-f", NFTABLES_CONF_PATH],
    ["systemctl", "enable", "nftables.service"],
)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]|$)")


@dataclass(frozen=True, slots=True)
class CloudInitSpec:
    """Everything the first boot of one Linux VPS needs.

    Attributes:
        hostname: short host name (one DNS label; rendered lowercase).
        fqdn: fully qualified name (at least two labels; rendered lowercase, without a
            trailing dot); its first label must equal `hostname`.
        instance_id: cloud-init's first-boot key: our service id plus a rebuild
            generation, so a reinstall re-runs the per-instance modules.
        address: the service address with its prefix, e.g. `192.0.2.10/24`.
        gateway: the default gateway.
        dns_servers: resolvers, in order.
        root_password_hash: root's `$6$` (SHA-512 crypt) hash, see `passwords`.
        ssh_authorized_keys: public keys for root, one per entry.
        extra_user_data: the operator template's output (see the module docstring).
        mac_address: the NIC to configure; strongly recommended.
        interface_name: the name the NIC gets (with a MAC) or has (without one).
        firewall_ruleset: an nftables ruleset (`network.nftables.render`) to install as
            `/etc/nftables.conf` and load at first boot; None: no firewall.
    """

    hostname: str
    fqdn: str
    instance_id: str
    address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address
    dns_servers: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]
    root_password_hash: str
    ssh_authorized_keys: tuple[str, ...] = ()
    extra_user_data: str | None = None
    mac_address: str | None = None
    interface_name: str = "eth0"
    firewall_ruleset: str | None = None


@dataclass(frozen=True, slots=True)
class CloudInitDocuments:
    """The rendered NoCloud files (names as on the `cidata` seed)."""

    user_data: str
    meta_data: str
    network_config: str

    def files(self) -> dict[str, str]:
        """The seed's file names mapped to their contents."""
        return {
            "user-data": self.user_data,
            "meta-data": self.meta_data,
            "network-config": self.network_config,
        }


def _invalid(message: str, **details: Any) -> errors.InvalidSettings:
    return errors.InvalidSettings(message, **details)


def _check_names(spec: CloudInitSpec) -> None:
    if not _LABEL.match(spec.hostname):
        raise _invalid(f"hostname {spec.hostname!r} is not a lowercase DNS label")
    labels = spec.fqdn.split(".")
    if len(labels) < 2 or len(spec.fqdn) > 253 or not all(_LABEL.match(x) for x in labels):
        raise _invalid(f"fqdn {spec.fqdn!r} is not a lowercase fully qualified name")
    if labels[0] != spec.hostname:
        raise _invalid(f"fqdn {spec.fqdn!r} does not start with hostname {spec.hostname!r}")
    if not _INSTANCE_ID.match(spec.instance_id):
        raise _invalid(f"instance id {spec.instance_id!r} is empty or has unsafe characters")
    ruleset = spec.firewall_ruleset
    if ruleset is not None and (not ruleset.strip() or "\x00" in ruleset):
        raise _invalid("the firewall ruleset is empty or holds a NUL byte")


def _check_credentials(spec: CloudInitSpec) -> None:
    if not passwords.is_sha512_crypt(spec.root_password_hash):
        raise _invalid("root_password_hash is not a $6$ (SHA-512 crypt) hash")
    for key in spec.ssh_authorized_keys:
        if not key.strip() or "\n" in key or "\r" in key:
            raise _invalid("each SSH authorized key must be one non-empty line")


def _check_network(spec: CloudInitSpec) -> None:
    network = spec.address.network
    if spec.gateway not in network:
        # Routed setups (a /32 with an off-link gateway) need netplan's `on-link`, which is
        # outside cloud-init's v2 subset (its schema rejects the key).
        raise _invalid(
            f"gateway {spec.gateway} is outside {network}; off-link gateways are not supported"
        )
    if spec.gateway == spec.address.ip:
        raise _invalid("the gateway equals the service address", gateway=str(spec.gateway))
    if network.prefixlen < 31 and spec.address.ip in (
        network.network_address,
        network.broadcast_address,
    ):
        raise _invalid(f"{spec.address} is the network or broadcast address of its subnet")
    if spec.mac_address is not None and not _MAC.match(_mac(spec.mac_address)):
        raise _invalid(f"MAC address {spec.mac_address!r} is not six hex pairs")
    if not _IFNAME.match(spec.interface_name):
        raise _invalid(f"interface name {spec.interface_name!r} is not a valid Linux name")


def _mac(value: str) -> str:
    return value.strip().lower().replace("-", ":")


def _user_data_document(spec: CloudInitSpec) -> dict[str, _yaml.Value]:
    root: dict[str, _yaml.Value] = {
        "name": "root",
        "lock_passwd": False,
        "hashed_passwd": spec.root_password_hash,
    }
    if spec.ssh_authorized_keys:
        root["ssh_authorized_keys"] = [key.strip() for key in spec.ssh_authorized_keys]
    document: dict[str, _yaml.Value] = {
        "hostname": spec.hostname,
        "fqdn": spec.fqdn,
        "preserve_hostname": False,
        "manage_etc_hosts": True,
        "users": [root],
        "disable_root": False,
        "ssh_pwauth": not spec.ssh_authorized_keys,
    }
    files: list[_yaml.Value] = []
    if not spec.ssh_authorized_keys:
        files.append(
            {
                "path": SSHD_DROP_IN_PATH,
                "content": "# Written by FluxBilling: root logs in with its password.\n"
                "PermitRootLogin yes\n",
                "owner": "root:root",
                "permissions": "0644",
            }
        )
    if spec.firewall_ruleset is not None:
        files.append(
            {
                "path": NFTABLES_CONF_PATH,
                "content": spec.firewall_ruleset,
                "owner": "root:root",
                "permissions": "0755",
            }
        )
        document["packages"] = ["nftables"]
        document["runcmd"] = list(_FIREWALL_COMMANDS)
    if files:
        document["write_files"] = files
    return document


def reserved_keys(spec: CloudInitSpec) -> frozenset[str]:
    """Top-level cloud-config keys FluxBilling sets for `spec` (operators may not repeat them).

    Args:
        spec: the VPS being rendered.

    Returns:
        The keys of our part of the user-data, plus `runcmd`/`write_files` when a
        script in `extra_user_data` needs them.
    """
    keys = set(_user_data_document(spec))
    if (spec.extra_user_data or "").startswith("#!"):
        keys |= {"runcmd", "write_files"}
    return frozenset(keys)


def _operator_cloud_config(text: str, reserved: frozenset[str]) -> str:
    body = text.split("\n", 1)[1] if "\n" in text else ""
    seen: set[str] = set()
    for number, line in enumerate(body.splitlines(), start=2):
        if not line.strip() or line.startswith(("#", " ")):
            continue
        match = _TOP_LEVEL_KEY.match(line)
        if match is None:
            raise _invalid(
                "operator cloud-config must be a block mapping of plain keys "
                f"(line {number}: {line[:40]!r})"
            )
        seen.add(match.group(1))
    clashes = sorted(seen & reserved)
    if clashes:
        raise _invalid(
            "operator cloud-config repeats keys FluxBilling sets: " + ", ".join(clashes),
            keys=clashes,
        )
    return body if body.endswith("\n") or not body else body + "\n"


def _user_data(spec: CloudInitSpec) -> str:
    document = _user_data_document(spec)
    extra = spec.extra_user_data
    appended = ""
    if extra is not None and extra.strip():
        if extra.startswith("#cloud-config"):
            appended = _operator_cloud_config(extra, reserved_keys(spec))
        elif extra.startswith("#!"):
            script: dict[str, _yaml.Value] = {
                "path": OPERATOR_SCRIPT_PATH,
                "content": extra,
                "owner": "root:root",
                "permissions": "0700",
            }
            files = document.get("write_files")
            document["write_files"] = [*(files if isinstance(files, list) else []), script]
            commands = document.get("runcmd")
            document["runcmd"] = [
                *(commands if isinstance(commands, list) else []),
                [OPERATOR_SCRIPT_PATH],
            ]
        else:
            raise _invalid("extra user-data must start with '#cloud-config' or '#!'")
    body = _yaml.dump(document)
    if appended:
        body += "# Operator additions\n" + appended
    return CLOUD_CONFIG_HEADER + body


def _network_config(spec: CloudInitSpec) -> str:
    device: dict[str, _yaml.Value] = {}
    if spec.mac_address is not None:
        device["match"] = {"macaddress": _mac(spec.mac_address)}
        device["set-name"] = spec.interface_name
    route: dict[str, _yaml.Value] = {"to": "0.0.0.0/0", "via": str(spec.gateway)}
    device["addresses"] = [spec.address.with_prefixlen]
    device["routes"] = [route]
    if spec.dns_servers:
        device["nameservers"] = {"addresses": [str(server) for server in spec.dns_servers]}
    document: dict[str, _yaml.Value] = {
        "version": 2,
        "ethernets": {spec.interface_name: device},
    }
    return _yaml.dump(document)


def render(spec: CloudInitSpec) -> CloudInitDocuments:
    """Render the NoCloud `user-data`, `meta-data` and `network-config` for `spec`.

    Args:
        spec: the VPS's identity, address and credentials.

    Returns:
        The three documents; `user_data` starts with `#cloud-config`.

    Raises:
        errors.InvalidSettings: a field of `spec` is malformed, or `extra_user_data`
            breaks the rule in the module docstring.

    Examples:
        >>> from ipaddress import IPv4Address, IPv4Interface
        >>> docs = render(CloudInitSpec(
        ...     hostname="vps1", fqdn="vps1.example.net", instance_id="svc-42-1",
        ...     address=IPv4Interface("192.0.2.10/24"), gateway=IPv4Address("192.0.2.1"),
        ...     dns_servers=(IPv4Address("192.0.2.53"),),
        ...     root_password_hash=passwords.sha512_crypt("pw", "salt")))
        >>> docs.user_data.splitlines()[0]
        '#cloud-config'
    """
    # DNS names are case-insensitive; the guest gets them lowercase and without a root dot.
    spec = dataclasses.replace(
        spec, hostname=spec.hostname.lower(), fqdn=spec.fqdn.lower().rstrip(".")
    )
    _check_names(spec)
    _check_credentials(spec)
    _check_network(spec)
    meta: dict[str, _yaml.Value] = {
        "instance-id": spec.instance_id,
        "local-hostname": spec.hostname,
    }
    return CloudInitDocuments(
        user_data=_user_data(spec),
        meta_data=_yaml.dump(meta),
        network_config=_network_config(spec),
    )
