"""The examples in docs/plugins.md ("When a plugin fails", "Flags and alerts", "Settings") run as shown."""

from __future__ import annotations

import re
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest

from formengine.alerts import AlertNotice
from formengine.api import Instrument, load_definition
from formengine.plugins import PluginRegistry

GUIDE = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text("utf-8")


def section(heading: str) -> str:
    return GUIDE.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def examples(heading: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section(heading), re.DOTALL)


def module_from(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"docs/plugins.md ({name})", "exec"), module.__dict__)  # noqa: S102 - the guide's own code
    return module


def definition(score_name: str, items: tuple[str, ...], maximum: int) -> dict:
    return {
        "id": "mean_check", "version": "1.0", "title": {"da": "Eksempel", "en": "Example"},
        "respondent": "self",
        "licence": {"holder": "Test", "terms": {"da": "Fri", "en": "Free"}},
        "scales": {"s": {"options": [{"code": c, "label": {"da": str(c), "en": str(c)}} for c in range(4)]}},
        "items": [{"id": i, "scale": "s", "label": {"da": i, "en": i}} for i in items],
        "scores": [{"name": score_name, "label": {"da": "S", "en": "S"}, "min": 0, "max": maximum}],
    }


def test_when_a_plugin_fails_example_gives_the_documented_error():
    (source,) = examples("## When a plugin fails")
    example = module_from(source, "mean_check")
    instrument = Instrument(load_definition(definition("mean", ("q1", "q2"), 3)), example.score,
                            plugin="mean_check")
    assert instrument.score_guarded({"q1": 2, "q2": 3}).scores == {"mean": 2.5}
    failed = instrument.score_guarded({})
    assert failed.error == "plugin 'mean_check' raised ZeroDivisionError"
    assert f"`{failed.error}`" in section("## When a plugin fails")
    assert f"`error: mean_check: scoring failed: {failed.error}`" in section("## When a plugin fails")


def test_flags_and_alerts_example_raises_an_alert_only_in_the_very_high_band():
    (source,) = examples("## Flags and alerts")
    example = module_from(source, "alerting")
    high = example.score({"q1": 3, "q2": 3, "q3": 1})
    assert [(f.code, f.level) for f in high.flags] == [("very_high", "alert")]
    assert high.alerts() == high.flags
    assert example.score({"q1": 3, "q2": 3}).flags == []


def test_the_formengine_alert_example_loads_and_mails_without_answers(monkeypatch):
    (source,) = examples("### formengine_alert")
    sent = []

    class FakeSMTP:
        def __init__(self, host):
            self.host = host

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(message)

    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    example = module_from(source, "leader_mail")
    registry = PluginRegistry()
    assert registry.add(example, "leader_mail", "docs/plugins.md"), registry.failed
    notice = AlertNotice(code="likely_depression", message="Percent score 24 is low.", instrument_id="who5",
                         response_uuid="0b1c", municipality="Demo Kommune A",
                         raised_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    example.formengine_alert(notice, None)
    (message,) = sent
    assert message["Subject"] == "Alert on who5 in Demo Kommune A"
    assert "Response 0b1c, raised 2026-03-01 09:30 UTC." in message.get_content()


def test_the_settings_example_reads_its_option_and_the_kit_checks_vectors_against_it(tmp_path):
    from formengine.testing import ConformanceError, check_vector

    (source,) = examples("## Settings")
    example = module_from(source, "sleep_check")
    data = definition("total", ("q1", "q2", "q3"), 9)
    data["scores"][0]["bands"] = {"ok": {"da": "OK", "en": "OK"}, "high": {"da": "Højt", "en": "High"}}
    instrument = example.instrument(load_definition(data))
    answers = {"q1": 2, "q2": 2, "q3": 2}
    strict = check_vector(instrument, {"answers": answers, "expected": {"bands": {"total": "high"}}})
    lenient = check_vector(instrument, {"answers": answers, "options": {"sleep_cut_off": "lenient"},
                                        "expected": {"bands": {"total": "ok"}}})
    assert (strict.bands, lenient.bands) == ({"total": "high"}, {"total": "ok"})
    with pytest.raises(ConformanceError, match="option sleep_cut_off='medium' is not one of its choices"):
        check_vector(instrument, {"answers": answers, "options": {"sleep_cut_off": "medium"}, "expected": {}})
    with pytest.raises(ConformanceError, match="option 'cut_off' is not a declared setting"):
        check_vector(instrument, {"answers": answers, "options": {"cut_off": "strict"}, "expected": {}})


@pytest.mark.parametrize("heading", ["## When a plugin fails", "## Flags and alerts", "## Settings"])
def test_the_sections_exist_with_examples(heading):
    assert examples(heading)
