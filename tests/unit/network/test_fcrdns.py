"""Tests for `fluxbilling.network.fcrdns.decide`: the forward-confirmed judgement."""

from __future__ import annotations

from fluxbilling.network.fcrdns import Answer, Record, decide

PTR4 = "10.2.0.192.in-addr.arpa."
PTR6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."


def ptr(name: str, *targets: str) -> Answer:
    return Answer("NOERROR", tuple(Record(name, "PTR", t) for t in targets))


def a(host: str, rtype: str, *addresses: str) -> Answer:
    return Answer("NOERROR", tuple(Record(host, rtype, x) for x in addresses))


def test_the_ptr_and_the_a_record_agree() -> None:
    verdict = decide(
        "192.0.2.10",
        "Web.Example.TEST",
        ptr(PTR4, "web.example.test."),
        a("web.example.test.", "A", "198.51.100.1", "192.0.2.10"),
    )
    assert verdict.confirmed
    assert verdict.ptr == ("web.example.test.",)
    assert verdict.addresses == ("198.51.100.1", "192.0.2.10")


def test_ipv6_compares_addresses_not_their_spelling() -> None:
    verdict = decide(
        "2001:db8::1",
        "web.example.test.",
        ptr(PTR6, "web.example.test."),
        a("web.example.test.", "AAAA", "2001:0db8:0000::0001"),
    )
    assert verdict.confirmed and verdict.addresses == ("2001:db8::1",)


def test_an_ipv6_address_is_not_confirmed_by_an_a_record() -> None:
    verdict = decide(
        "2001:db8::1",
        "web.example.test.",
        ptr(PTR6, "web.example.test."),
        a("web.example.test.", "A", "192.0.2.10"),
    )
    assert not verdict.confirmed
    assert verdict.reason == "no AAAA for web.example.test. (NOERROR)"


def test_no_ptr_names_the_response_code() -> None:
    verdict = decide("192.0.2.10", "web.example.test", Answer("NXDOMAIN"), None)
    assert not verdict.confirmed
    assert verdict.reason == "no PTR for 192.0.2.10 (NXDOMAIN)"


def test_a_ptr_naming_another_host_is_refused() -> None:
    verdict = decide("192.0.2.10", "web.example.test", ptr(PTR4, "db.example.test."), None)
    assert not verdict.confirmed
    assert verdict.reason == "the PTR of 192.0.2.10 is db.example.test., not web.example.test."


def test_the_forward_answer_must_hold_the_address() -> None:
    verdict = decide(
        "192.0.2.10",
        "web.example.test",
        ptr(PTR4, "web.example.test."),
        a("web.example.test.", "A", "192.0.2.11"),
    )
    assert not verdict.confirmed
    assert verdict.reason == "web.example.test. A is 192.0.2.11, not 192.0.2.10"
    unasked = decide("192.0.2.10", "web.example.test", ptr(PTR4, "web.example.test."), None)
    assert not unasked.confirmed and unasked.reason == "web.example.test. A was not asked"


def test_cnames_are_followed_on_both_sides() -> None:
    child = "10.0/25.2.0.192.in-addr.arpa."
    reverse = Answer("NOERROR", (Record(PTR4, "CNAME", child), Record(child, "PTR", "web.test.")))
    forward = Answer(
        "NOERROR",
        (Record("web.test.", "CNAME", "edge.test."), Record("edge.test.", "A", "192.0.2.10")),
    )
    assert decide("192.0.2.10", "web.test", reverse, forward).confirmed


def test_a_record_beside_the_chain_does_not_count() -> None:
    stray = Answer(
        "NOERROR", (Record(PTR4, "CNAME", "gone.test."), Record("other.test.", "PTR", "web.test."))
    )
    assert decide("192.0.2.10", "web.test", stray, None).reason == "no PTR for 192.0.2.10 (NOERROR)"


def test_a_cname_loop_ends() -> None:
    loop = Answer("NOERROR", (Record(PTR4, "CNAME", "x.test."), Record("x.test.", "CNAME", PTR4)))
    assert not decide("192.0.2.10", "web.test", loop, None).confirmed
