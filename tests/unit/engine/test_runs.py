"""What an attempt leaves on its activity row (`AttemptFacts`), with literals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fluxbilling.engine.runs import AttemptFacts

STARTED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EXCHANGE = {
    "upstream": "whm",
    "operation": "console",
    "request": {"method": "POST", "url": "https://whm.test/x", "headers": {"A": "***"}, "body": {}},
    "response": {"status": 200, "headers": {}, "body": {"url": "https://whm.test/login?s=SECRET"}},
    "error": None,
}


def test_facts_are_json_with_the_start_and_the_exchanges() -> None:
    facts = AttemptFacts(STARTED, (EXCHANGE,), dropped=2)
    assert facts.to_dict() == {
        "started_at": "2026-01-01T12:00:00+00:00",
        "exchanges": [EXCHANGE],
        "exchanges_dropped": 2,
    }


def test_facts_carry_the_end_when_it_is_known() -> None:
    facts = AttemptFacts(STARTED, finished_at=STARTED + timedelta(milliseconds=5))
    assert facts.to_dict()["finished_at"] == "2026-01-01T12:00:00.005000+00:00"
    assert facts.without_bodies().finished_at == facts.finished_at


def test_attempts_that_went_on_keep_no_answers() -> None:
    cut = AttemptFacts(STARTED, (EXCHANGE,)).without_bodies().to_dict()
    assert cut["exchanges"] == [
        {
            "upstream": "whm",
            "operation": "console",
            "request": {"method": "POST", "url": "https://whm.test/x"},
            "response": {"status": 200},
            "error": None,
            "omitted": True,
        }
    ]
    assert "SECRET" not in str(cut)
