"""The default scorecard on companies that are not the demo (issue 20): a consumer
product with no sign-in event, a B2B product with weekly logins and seats, and churn from
causes the demo does not use (``tests/health_generators.py``). On each the default
scorecard's backtest must beat the naive signal (fewer events in the last 30 days =
riskier) by at least 0.05 ROC-AUC; a mapping that zeroes activity is reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kizuna.db import Session, ensure_schema, make_engine, session_scope
from kizuna.domain.usage import DEFAULT_MAPPING
from kizuna.services import health as health_service
from kizuna.services.usage import contributions, mapping_from_dict
from tests import health_generators as gen

pytestmark = pytest.mark.slow

#: name → (ROC-AUC of the default scorecard, of the naive signal, samples, churned samples)
EXPECTED = {
    "consumer": (0.6443, 0.5859, 1604, 109),
    "b2b": (0.6777, 0.5352, 1658, 92),
    "causes": (0.7035, 0.6203, 1554, 108),
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def company(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Session]]:
    name = str(request.param)
    url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'store.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    with session_scope(engine) as session:
        made = gen.build(session, name)
    assert made.accounts == 300
    assert made.churned > 40
    with session_scope(engine) as session:
        yield name, session
    engine.dispose()


def test_the_default_scorecard_beats_the_naive_signal(company: tuple[str, Session]) -> None:
    name, session = company
    # the month-ends only: the day-to-day grade changes of the last days are not checked here
    result = health_service.backtest(session, as_of=gen.AS_OF, horizon_days=90, stability_days=0)
    auc, naive, samples, churned = EXPECTED[name]
    assert result.auc is not None
    assert result.naive_auc is not None
    assert result.auc >= result.naive_auc + 0.05
    assert (round(result.auc, 4), round(result.naive_auc, 4)) == (auc, naive)
    assert (result.samples, result.churned) == (samples, churned)
    # not every account is red (the silent all-red of a mapping without a sign-in event)
    assert result.by_grade["red"]["accounts"] < samples / 4
    measures = {m.key: m for m in result.measures}
    if name == "consumer":  # no logins, no session minutes in the store: missing for everyone, not zero
        for key in ("logins_vs_baseline", "login_trend", "login_days", "usage_minutes_per_seat"):
            assert (measures[key].samples, measures[key].direction) == (0, "none")
    assert measures["events_vs_baseline"].direction == "right"


def test_a_mapping_without_a_sign_in_event_is_reported(company: tuple[str, Session]) -> None:
    name, session = company
    warnings = health_service.mapping_warnings(session, gen.AS_OF, DEFAULT_MAPPING)
    if name != "consumer":
        assert warnings == []
        return
    assert [w.entry for w in warnings] == ["[login] events"]
    assert warnings[0].accounts > 200
    assert "no event matches the usage mapping's [login] events (Signed In)" in warnings[0].message
    assert "any_activity = true" in warnings[0].message


def test_any_activity_counts_every_event_as_a_login(tmp_path: Path) -> None:
    mapping = mapping_from_dict({"login": {"any_activity": True}}, "mapping.toml")
    assert contributions(mapping, "Song Played", {}) == [("events", 1.0), ("logins", 1.0)]
    assert contributions(DEFAULT_MAPPING, "Song Played", {}) == [("events", 1.0)]
    from kizuna.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"mapping\.toml: login\.any_activity: expected true or false"):
        mapping_from_dict({"login": {"any_activity": "yes"}}, "mapping.toml")
