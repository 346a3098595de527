from __future__ import annotations

from fluxbilling.orders import actions, lifecycle


def test_a_verb_that_moves_the_service_is_allowed_exactly_where_the_table_allows_it() -> None:
    for verb, event in actions.RESULT_EVENT.items():
        if event is None:
            continue
        table_from = {s for (s, e) in lifecycle.SERVICE_TABLE if e == event}
        assert actions.ALLOWED_FROM[verb] == table_from, verb


def test_every_verb_has_both_rows() -> None:
    assert set(actions.RESULT_EVENT) == set(actions.ALLOWED_FROM)
