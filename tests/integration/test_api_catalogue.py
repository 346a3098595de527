"""The catalogue through the API: create, read, change and delete each entity; refusals while
in use; validation naming the field; one audit row per change.

The `installation` fixture seeds the demo catalogue: location `ams1`, subnet
`192.0.2.0/28`, hosts `kvm-ams1-01..03`, image `debian-12`, connection `solusvm2` and
product `vps-2g`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.accounts.roles import Principal, Role
from fluxbilling.api import create_app
from fluxbilling.api.auth import authenticate
from fluxbilling.db import schema
from tests.httpsupport import asgi_client
from tests.integration.support import finish, place_and_pay, place_order, rows, service_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SHA256 = "ab" * 32
SHA512 = "cd" * 64
IMAGE = {
    "slug": "alma-9",
    "name": "AlmaLinux 9",
    "os_family": "linux",
    "source_url": "https://repo.example.com/alma-9.qcow2",
    "sha512": SHA512,
}
PRODUCT = {
    "slug": "vps-4g",
    "name": "VPS 4 GB",
    "service_type": "vps",
    "location": "ams1",
    "connection": "solusvm2",
    "plugin": "solusvm2",
    "image": "debian-12",
    "options": {"plan_id": 3, "location_id": 1},
    "ram_mb": 4096,
    "vcpus": 2,
    "disk_gb": 80,
    "price_minor": 1900,
    "currency": "EUR",
}


async def _id(api: httpx.AsyncClient, path: str, **query: str) -> int:
    listed = await api.get(f"/api/v1/{path}", params=query)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    return int(item["id"])


async def _audit(api: httpx.AsyncClient, entity: str, entity_id: int) -> list[dict[str, Any]]:
    answer = await api.get("/api/v1/audit", params={"entity": entity, "entity_id": entity_id})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _problems(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    body = answer.json()["error"]
    return {p["path"]: p["message"] for p in body["details"]["problems"]}


async def test_a_location_is_created_read_changed_and_deleted_with_audit_rows(
    api: httpx.AsyncClient,
) -> None:
    created = await api.post("/api/v1/locations", json={"code": "fra1", "name": "Frankfurt"})
    assert created.status_code == 201, created.text
    location = created.json()
    assert location == {"id": location["id"], "code": "fra1", "name": "Frankfurt"}
    url = f"/api/v1/locations/{location['id']}"
    assert (await api.get(url)).json() == location

    changed = await api.patch(url, json={"name": "Frankfurt 1"})
    assert changed.status_code == 200
    assert changed.json()["name"] == "Frankfurt 1"
    again = await api.patch(url, json={"name": "Frankfurt 1"})  # nothing to change
    assert again.status_code == 200

    assert (await api.delete(url)).status_code == 204
    assert (await api.get(url)).status_code == 404
    audit = await _audit(api, "location", location["id"])
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("location.delete", "installation-token"),
        ("location.update", "installation-token"),
        ("location.create", "installation-token"),
    ]
    assert audit[1]["changes"] == {"name": {"from": "Frankfurt", "to": "Frankfurt 1"}}


async def test_lists_are_paginated_by_cursor_and_filtered(api: httpx.AsyncClient) -> None:
    first = (await api.get("/api/v1/hosts", params={"limit": 2})).json()
    assert [h["name"] for h in first["items"]] == ["kvm-ams1-01", "kvm-ams1-02"]
    rest = (
        await api.get("/api/v1/hosts", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [h["name"] for h in rest["items"]] == ["kvm-ams1-03"]
    assert rest["next_cursor"] is None
    assert (await api.get("/api/v1/hosts", params={"location": "nowhere"})).json()["items"] == []
    assert len((await api.get("/api/v1/hosts", params={"status": "active"})).json()["items"]) == 3


async def test_a_taken_natural_key_is_a_conflict(api: httpx.AsyncClient) -> None:
    answer = await api.post("/api/v1/locations", json={"code": "ams1", "name": "Again"})
    assert answer.status_code == 409
    assert answer.json()["error"]["message"] == "a location code 'ams1' exists already"
    fra = await api.post("/api/v1/locations", json={"code": "fra1", "name": "Frankfurt"})
    renamed = await api.patch(f"/api/v1/locations/{fra.json()['id']}", json={"code": "ams1"})
    assert renamed.status_code == 409


async def test_deleting_what_is_in_use_names_what_uses_it(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    location = await _id(api, "locations")
    answer = await api.delete(f"/api/v1/locations/{location}")
    assert answer.status_code == 409
    assert answer.json()["error"]["message"] == (
        "location ams1 has 3 hosts, 1 subnet and 1 product: it cannot be deleted while in use"
    )
    subnet = await _id(api, "subnets")
    message = (await api.delete(f"/api/v1/subnets/{subnet}")).json()["error"]["message"]
    assert message.startswith("subnet 192.0.2.0/28 has 3 hosts:")
    image = await _id(api, "images")
    message = (await api.delete(f"/api/v1/images/{image}")).json()["error"]["message"]
    assert message.startswith("image debian-12 is used by 1 product:")
    await place_order(installation, "one.example.com")
    product = await _id(api, "products")
    message = (await api.delete(f"/api/v1/products/{product}")).json()["error"]["message"]
    assert message.startswith("product vps-2g has 1 order:")
    customer = await _id(api, "customers")
    message = (await api.delete(f"/api/v1/customers/{customer}")).json()["error"]["message"]
    assert message.startswith("customer ada@example.com has 1 order:")
    assert len(await rows(installation, sa.select(schema.locations))) == 1


async def test_a_subnet_is_checked_and_its_reverse_zone_derived(api: httpx.AsyncClient) -> None:
    base = {"location": "ams1", "dns_servers": ["9.9.9.9"]}
    bad = await api.post(
        "/api/v1/subnets", json={**base, "cidr": "198.51.100.0/24", "gateway": "198.51.100.255"}
    )
    assert _problems(bad) == {"gateway": "is the broadcast address of 198.51.100.0/24"}
    bad = await api.post(
        "/api/v1/subnets",
        json={**base, "cidr": "198.51.100.7/24", "gateway": "10.0.0.1", "location": "nowhere"},
    )
    assert _problems(bad) == {"cidr": "has host bits set; the network is 198.51.100.0/24"}
    bad = await api.post(
        "/api/v1/subnets",
        json={
            **base,
            "cidr": "198.51.100.0/24",
            "gateway": "198.51.100.1",
            "reverse_zone": "99.51.198.in-addr.arpa",
        },
    )
    assert "reverse_zone" in _problems(bad)
    unknown = await api.post(
        "/api/v1/subnets",
        json={**base, "cidr": "198.51.100.0/24", "gateway": "198.51.100.1", "location": "x"},
    )
    assert _problems(unknown) == {"location": "no location code 'x'"}
    created = await api.post(
        "/api/v1/subnets", json={**base, "cidr": "198.51.100.0/24", "gateway": "198.51.100.1"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["reverse_zone"] == "100.51.198.in-addr.arpa"


async def test_a_host_carrying_services_keeps_its_place_and_capacity(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    order = await place_and_pay(installation, "busy.example.com")
    assert (await finish(installation, order)).state == "completed"
    host_id = (await service_of(installation, order)).host_id
    url = f"/api/v1/hosts/{host_id}"
    host = (await api.get(url)).json()
    assert host["ram_mb_used"] == 2048

    shrunk = await api.patch(url, json={"ram_mb": 1024})
    assert shrunk.status_code == 409
    assert "ram_mb: 2048 MB of RAM are in use" in shrunk.json()["error"]["message"]
    await api.post("/api/v1/locations", json={"code": "fra1", "name": "Frankfurt"})
    moved = await api.patch(url, json={"location": "fra1", "subnet": None})
    assert moved.status_code == 409
    assert "location: it carries 1 service" in moved.json()["error"]["message"]
    gone = await api.delete(url)
    assert gone.status_code == 409
    assert gone.json()["error"]["message"].startswith(f"host {host['name']} carries 1 service:")

    drained = await api.patch(url, json={"status": "draining", "ram_mb": 4096})
    assert drained.status_code == 200, drained.text
    assert (drained.json()["status"], drained.json()["ram_mb"]) == ("draining", 4096)
    bad = await api.patch(url, json={"status": "maintenance"})
    assert bad.status_code == 422


async def test_a_host_is_created_in_its_location_and_deleted_when_empty(
    api: httpx.AsyncClient,
) -> None:
    body = {"name": "kvm-ams1-09", "location": "ams1", "ram_mb": 8192, "vcpus": 8, "disk_gb": 100}
    elsewhere = await api.post("/api/v1/locations", json={"code": "fra1", "name": "Frankfurt"})
    assert elsewhere.status_code == 201
    wrong = await api.post(
        "/api/v1/hosts", json={**body, "location": "fra1", "subnet": "192.0.2.0/28"}
    )
    assert _problems(wrong) == {"subnet": "192.0.2.0/28 is not in fra1"}
    negative = await api.post("/api/v1/hosts", json={**body, "vcpus": -1})
    assert negative.status_code == 422
    null = await api.patch("/api/v1/hosts/1", json={"name": None, "status": None})
    assert set(_problems(null)) == {"name", "status"}
    options = await api.patch("/api/v1/products/1", json={"options": None})
    assert set(_problems(options)) == {"options"}
    created = await api.post(
        "/api/v1/hosts", json={**body, "subnet": "192.0.2.0/28", "connection": "solusvm2"}
    )
    assert created.status_code == 201, created.text
    host = created.json()
    assert (host["status"], host["ram_mb_used"], host["connection"]) == ("active", 0, "solusvm2")
    assert (await api.delete(f"/api/v1/hosts/{host['id']}")).status_code == 204


async def test_an_image_needs_a_digest_a_clean_url_and_a_sandboxed_template(
    api: httpx.AsyncClient,
) -> None:
    bad = await api.post(
        "/api/v1/images",
        json={
            **IMAGE,
            "sha512": "xyz",
            "source_url": "https://user:pw@repo.example.com/a.qcow2",
            "user_data_template": "#cloud-config\nhostname: {{hostname}}\n",
        },
    )
    problems = _problems(bad)
    assert problems["sha512"] == "must be 128 hexadecimal digits"
    assert "credentials" in problems["source_url"]
    assert "repeats keys FluxBilling sets: hostname" in problems["user_data_template"]
    assert "pw" not in bad.text
    none = await api.post("/api/v1/images", json={**IMAGE, "sha512": None})
    assert "sha256" in _problems(none)
    broken = await api.post("/api/v1/images", json={**IMAGE, "user_data_template": "{{#if x}}"})
    assert "user_data_template" in _problems(broken)

    created = await api.post(
        "/api/v1/images",
        json={
            **IMAGE,
            "sha512": SHA512.upper(),
            "user_data_template": "#cloud-config\npackages: [htop]\n",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["sha512"] == SHA512
    url = f"/api/v1/images/{created.json()['id']}"
    both = await api.patch(url, json={"sha256": SHA256})
    assert (both.json()["sha256"], both.json()["sha512"]) == (SHA256, SHA512)
    assert (await api.delete(url)).status_code == 204


async def test_a_product_fits_its_plugin_connection_and_options(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    unknown = await api.post("/api/v1/products", json={**PRODUCT, "plugin": "nope"})
    assert "plugin" in _problems(unknown)
    pinned = await api.post("/api/v1/products", json={**PRODUCT, "plugin_version": 999})
    assert "plugin_version" in _problems(pinned)
    options = await api.post("/api/v1/products", json={**PRODUCT, "options": {"plan_id": "x"}})
    assert set(_problems(options)) == {"options", "options.plan_id"}
    mismatch = await api.post("/api/v1/products", json={**PRODUCT, "plugin": "whm"})
    assert "connection" in _problems(mismatch)
    money = await api.post(
        "/api/v1/products", json={**PRODUCT, "currency": "eu", "price_minor": -1}
    )
    assert money.status_code == 422

    created = await api.post(
        "/api/v1/products",
        json={
            **PRODUCT,
            "plugin_version": 1,
            "refund_policy": "terminate",
            "alarm_after_minutes": 30,
        },
    )
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["plugin_version"] == 1
    assert product["refund_policy"] == "terminate"
    assert product["options"] == PRODUCT["options"]
    assert product["password_delivery"] == "mail"
    products = schema.products
    (stored,) = await rows(installation, sa.select(products).where(products.c.slug == "vps-4g"))
    assert stored.options["refund_policy"] == "terminate"  # where billing.reversals reads it
    url = f"/api/v1/products/{product['id']}"
    latest = await api.patch(url, json={"plugin_version": None, "price_minor": 2100})
    assert (latest.json()["plugin_version"], latest.json()["price_minor"]) == (None, 2100)
    audit = await _audit(api, "product", product["id"])
    assert audit[0]["changes"] == {
        "plugin_version": {"from": 1, "to": None},
        "price_minor": {"from": 1900, "to": 2100},
    }
    assert (await api.delete(url)).status_code == 204


async def test_a_pinned_plugin_version_is_what_new_services_run_on(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    document = (await api.get("/api/v1/plugins/solusvm2/versions/1")).json()["document"]
    document["plugin"]["name"] = "SolusVM 2 (renamed)"
    assert (await api.post("/api/v1/plugins", json=document)).json()["version"] == 2
    product = await _id(api, "products")
    pinned = await api.patch(f"/api/v1/products/{product}", json={"plugin_version": 1})
    assert pinned.status_code == 200, pinned.text
    order = await place_and_pay(installation, "pinned.example.com")
    assert (await finish(installation, order)).state == "completed"
    assert (await service_of(installation, order)).plugin_version == 1

    await api.patch(f"/api/v1/products/{product}", json={"plugin_version": None})
    newest = await place_and_pay(installation, "newest.example.com")
    assert (await finish(installation, newest)).state == "completed"
    assert (await service_of(installation, newest)).plugin_version == 2


async def test_a_product_with_live_orders_keeps_what_they_run_on(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    await place_and_pay(installation, "live.example.com")
    url = f"/api/v1/products/{await _id(api, 'products')}"
    resized = await api.patch(url, json={"ram_mb": 4096, "connection": "solusvm2"})
    assert resized.status_code == 409
    assert "ram_mb: 1 live order runs on it" in resized.json()["error"]["message"]
    repriced = await api.patch(url, json={"price_minor": 1500, "name": "VPS 2 GB (new price)"})
    assert repriced.status_code == 200, repriced.text
    assert repriced.json()["price_minor"] == 1500


async def test_customers_are_written_by_email(api: httpx.AsyncClient) -> None:
    bad = await api.post("/api/v1/customers", json={"email": "not-an-email", "name": "X"})
    assert bad.status_code == 422
    created = await api.post("/api/v1/customers", json={"email": "Bo@Example.com", "name": "Bo"})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "bo@example.com"
    found = await api.get("/api/v1/customers", params={"email": "BO@example.com"})
    assert [c["name"] for c in found.json()["items"]] == ["Bo"]
    url = f"/api/v1/customers/{created.json()['id']}"
    assert (await api.patch(url, json={"name": "Bo Diddley"})).json()["name"] == "Bo Diddley"
    assert (await api.delete(url)).status_code == 204


async def test_the_audit_list_is_newest_first_and_paginated(api: httpx.AsyncClient) -> None:
    for n in range(3):
        await api.post("/api/v1/locations", json={"code": f"x{n}", "name": f"X {n}"})
    page = (await api.get("/api/v1/audit", params={"entity": "location", "limit": 2})).json()
    assert [a["changes"]["code"] for a in page["items"]] == ["x2", "x1"]
    rest = await api.get("/api/v1/audit", params={"limit": 2, "cursor": page["next_cursor"]})
    assert [a["changes"]["code"] for a in rest.json()["items"]][:1] == ["x0"]


async def test_writing_the_catalogue_needs_the_token(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/api/v1/locations"),
        ("POST", "/api/v1/locations"),
        ("PATCH", "/api/v1/hosts/1"),
        ("DELETE", "/api/v1/products/1"),
        ("GET", "/api/v1/audit"),
    ):
        answer = await client.request(method, path, json={})
        assert answer.status_code == 401, (method, path)


SignedIn = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def as_role(installation: bootstrap.Installation) -> SignedIn:
    """A client signed in with a role (until the accounts arrive: `authenticate` overridden
    with a principal of that role, the way a user's session will present one)."""

    @asynccontextmanager
    async def client(role: str) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(installation)
        app.dependency_overrides[authenticate] = lambda: Principal(f"ann-{role}", Role(role))
        async with asgi_client(app, "http://api.test") as c:
            yield c

    return client


async def test_viewers_read_admins_write_and_operators_write_customers(
    api: httpx.AsyncClient, as_role: SignedIn
) -> None:
    async with as_role("viewer") as viewer:
        assert (await viewer.get("/api/v1/hosts")).status_code == 200
        assert (await viewer.get("/api/v1/audit")).status_code == 200
        refused = await viewer.post(
            "/api/v1/customers", json={"email": "v@example.com", "name": "V"}
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == "this needs the operator role"
    async with as_role("operator") as operator:
        location = await operator.post("/api/v1/locations", json={"code": "fra1", "name": "F"})
        assert location.status_code == 403
        assert location.json()["error"]["message"] == "this needs the admin role"
        assert (await operator.delete("/api/v1/hosts/1")).status_code == 403
        made = await operator.post(
            "/api/v1/customers", json={"email": "o@example.com", "name": "O"}
        )
        assert made.status_code == 201
    audit = await _audit(api, "customer", made.json()["id"])
    assert [(a["action"], a["actor"]) for a in audit] == [("customer.create", "ann-operator")]


async def test_placement_fields_and_storage_pools_round_trip_and_are_checked(
    api: httpx.AsyncClient, installation: bootstrap.Installation
) -> None:
    body: dict[str, Any] = {
        "name": "kvm-ams1-20",
        "location": "ams1",
        "ram_mb": 8192,
        "vcpus": 8,
        "disk_gb": 100,
        "region": "eu-west",
        "cpu_model": "AMD EPYC 9454P",
        "cpu_flags": ["avx2", "sse4_2"],
        "tags": ["gpu"],
        "nic_mbps": 1000,
        "storage_pools": [
            {"name": "nvme0", "type": "nvme", "total_gb": 500, "overcommit_percent": 150},
            {"name": "hdd0", "type": "hdd", "total_gb": 4000},
        ],
    }
    created = await api.post("/api/v1/hosts", json=body)
    assert created.status_code == 201, created.text
    host = created.json()
    assert {k: host[k] for k in body} == {
        **body,
        "storage_pools": [
            body["storage_pools"][0],
            {**body["storage_pools"][1], "overcommit_percent": 100},
        ],
    }
    assert (host["nic_mbps_used"], host["consecutive_failures"]) == (0, 0)
    assert host["quarantine_reason"] is None

    url = f"/api/v1/hosts/{host['id']}"
    changed = await api.patch(url, json={"storage_pools": [body["storage_pools"][0]]})
    assert changed.status_code == 200, changed.text
    assert [p["name"] for p in changed.json()["storage_pools"]] == ["nvme0"]
    pools = schema.host_storage_pools
    async with installation.db.begin() as conn:
        await conn.execute(pools.update().values(used_gb=600))
    shrink = await api.patch(
        url, json={"storage_pools": [{"name": "nvme0", "type": "nvme", "total_gb": 100}]}
    )
    assert shrink.status_code == 409
    assert "storage_pools[0]: 600 GB are reserved on it" in shrink.json()["error"]["message"]
    drop = await api.patch(url, json={"storage_pools": []})
    assert drop.status_code == 409

    bad = await api.post(
        "/api/v1/hosts",
        json={
            **body,
            "name": "kvm-ams1-21",
            "cpu_flags": ["avx2", "avx2"],
            "storage_pools": [
                {"name": "a", "type": "ssd", "total_gb": 1, "overcommit_percent": 50}
            ],
        },
    )
    assert bad.status_code == 422
    assert set(_problems(bad)) == {"body.storage_pools.0.overcommit_percent"}
    twice = await api.post(
        "/api/v1/hosts", json={**body, "name": "kvm-ams1-22", "cpu_flags": ["avx2", "avx2"]}
    )
    assert _problems(twice) == {"cpu_flags[1]": "avx2 is listed twice"}

    product = await _id(api, "products")
    wanted = {
        "cpu_flags": ["avx2"],
        "cpu_model": None,
        "storage_type": "nvme",
        "region": "eu-west",
        "host_tags": ["gpu"],
        "nic_mbps": 100,
        "max_per_host": 2,
        "placement_strategy": "fill",
    }
    patched = await api.patch(f"/api/v1/products/{product}", json=wanted)
    assert patched.status_code == 200, patched.text
    assert {k: patched.json()[k] for k in wanted} == wanted
    wrong = await api.patch(
        f"/api/v1/products/{product}", json={"placement_strategy": "pack", "max_per_host": 0}
    )
    assert wrong.status_code == 422
    assert set(_problems(wrong)) == {"body.placement_strategy", "body.max_per_host"}
