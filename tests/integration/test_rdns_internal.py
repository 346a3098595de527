"""The internal rDNS backend: upsert and delete of PTR rows, on both databases."""

from __future__ import annotations

import pytest

from fluxbilling.db import Database
from fluxbilling.network.rdns import InternalRdns, RdnsBackend

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_set_is_an_upsert_and_delete_removes_only_that_ptr(db: Database) -> None:
    rdns = InternalRdns(db)
    assert isinstance(rdns, RdnsBackend)
    assert await rdns.set_ptr("192.0.2.10", "web1.example.com") == (
        "2.0.192.in-addr.arpa.",
        "10.2.0.192.in-addr.arpa.",
    )
    await rdns.set_ptr("192.0.2.10", "web2.example.com.")
    await rdns.set_ptr("2001:db8::1", "v6.example.com")
    assert await rdns.lookup("192.0.2.10") == "web2.example.com."
    await rdns.delete_ptr("192.0.2.10")
    assert await rdns.lookup("192.0.2.10") is None
    assert await rdns.lookup("2001:db8::1") == "v6.example.com."
    await rdns.delete_ptr("192.0.2.10")  # nothing left: not an error
    assert await rdns.lookup("192.0.2.10") is None
