"""Tests for `fluxbilling.network.dcim_drift`: what to write, what to report as drift."""

from __future__ import annotations

from fluxbilling.network.dcim_drift import Drift, Kind, plan

KEY = "service:1:address"


def test_a_missing_object_is_created_with_all_of_ours() -> None:
    decided = plan(Kind.IP_ADDRESS, KEY, {"dns_name": "a.example", "status": "active"}, None, None)
    assert decided.create
    assert decided.writes == {"dns_name": "a.example", "status": "active"}
    assert decided.pushed == decided.writes
    assert decided.drift == ()


def test_an_object_that_agrees_needs_nothing() -> None:
    ours = {"dns_name": "a.example"}
    decided = plan(Kind.IP_ADDRESS, KEY, ours, dict(ours), dict(ours))
    assert (decided.create, dict(decided.writes), decided.drift) == (False, {}, ())
    assert decided.pushed == ours


def test_our_change_is_written_when_they_still_hold_our_last_push() -> None:
    decided = plan(
        Kind.DEVICE,
        "host:hv1",
        {"status": "active", "position": 12},
        {"status": "active", "position": 10},
        {"status": "active", "position": 10},
    )
    assert decided.writes == {"position": 12}
    assert decided.pushed == {"status": "active", "position": 12}
    assert decided.drift == ()


def test_their_edit_is_drift_and_is_not_overwritten() -> None:
    decided = plan(
        Kind.IP_ADDRESS,
        KEY,
        {"dns_name": "a.example", "status": "active"},
        {"dns_name": "hand.example", "status": "active"},
        {"dns_name": "a.example", "status": "active"},
    )
    assert decided.writes == {}
    assert decided.drift == (
        Drift(Kind.IP_ADDRESS, KEY, "dns_name", "a.example", "hand.example", "a.example"),
    )
    # the last push stays: the drift is reported again until someone settles it
    assert decided.pushed["dns_name"] == "a.example"


def test_their_edit_and_our_change_of_the_same_field_is_still_drift() -> None:
    decided = plan(
        Kind.IP_ADDRESS,
        KEY,
        {"dns_name": "new.example"},
        {"dns_name": "hand.example"},
        {"dns_name": "old.example"},
    )
    assert decided.writes == {}
    assert [(d.ours, d.theirs, d.pushed) for d in decided.drift] == [
        ("new.example", "hand.example", "old.example")
    ]


def test_safe_fields_are_written_beside_a_drifted_one() -> None:
    decided = plan(
        Kind.IP_ADDRESS,
        KEY,
        {"dns_name": "a.example", "description": "svc 1 (moved)"},
        {"dns_name": "hand.example", "description": "svc 1"},
        {"dns_name": "a.example", "description": "svc 1"},
    )
    assert decided.writes == {"description": "svc 1 (moved)"}
    assert [d.field for d in decided.drift] == ["dns_name"]


def test_an_object_we_never_pushed_that_differs_is_drift() -> None:
    decided = plan(Kind.SITE, "site:AMS1", {"name": "Amsterdam 1"}, {"name": "AMS-1 (DC)"}, None)
    assert not decided.create
    assert decided.writes == {}
    assert [(d.field, d.pushed) for d in decided.drift] == [("name", None)]


def test_an_object_we_never_pushed_that_agrees_is_adopted() -> None:
    decided = plan(Kind.SITE, "site:AMS1", {"name": "Amsterdam 1"}, {"name": "Amsterdam 1"}, None)
    assert (dict(decided.writes), decided.drift) == ({}, ())
    assert decided.pushed == {"name": "Amsterdam 1"}


def test_a_field_new_to_our_model_is_drift_until_they_agree() -> None:
    decided = plan(
        Kind.DEVICE,
        "host:hv1",
        {"status": "active", "position": 3},
        {"status": "active", "position": None},
        {"status": "active"},
    )
    assert [d.field for d in decided.drift] == ["position"]
