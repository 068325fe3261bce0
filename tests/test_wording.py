"""Wording packs: validated at load, shown on the form, recorded on the response, listed by the CLI."""

import hashlib
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from formengine.cli import main
from formengine.db import get_db
from formengine.models import Response
from formengine.registry import get_registry
from formengine.texts import ProjectLabels
from formengine.wording import WordingPackError, load_packs, parse_pack, texts_for, wording_packs
from tests.conftest import csrf_token

SDQ_ITEMS = ["consid", "restles", "somatic", "shares", "tantrum", "loner", "obeys", "worries", "caring",
             "fidgety", "friend", "fights", "unhappy", "popular", "distrac", "clingy", "kind", "lies",
             "bullied", "helpout", "reflect", "steals", "oldbest", "afraid", "attends"]


def made_up_pack(**changes):
    """A made-up pack for sdq_p4_17 in Danish: every text is invented for the test."""
    pack = {
        "source": "Made-up test wording (not the official SDQ text)",
        "items": {item: f"OPDIGTET {item} tekst" for item in SDQ_ITEMS},
        "options": {"sdq3": {"0": "Opdigtet nej", "1": "Opdigtet måske", "2": "Opdigtet ja"}},
    }
    pack.update(changes)
    return pack


@pytest.fixture
def sdq(app):
    return get_registry(app).get("sdq_p4_17").definition


def install(app, pack, name="sdq_p4_17.da.json"):
    directory = app.config["TEXTS_DIR"]
    directory.mkdir(parents=True, exist_ok=True)
    raw = (pack if isinstance(pack, str) else json.dumps(pack, ensure_ascii=False)).encode("utf-8")
    (directory / name).write_bytes(raw)
    return hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("change, words", [
    ({"items": {"consid": "x", "not_an_item": "y"}}, "unknown item id 'not_an_item'"),
    ({"options": {"nosuchscale": {"0": "x"}}}, "unknown scale 'nosuchscale'"),
    ({"options": {"sdq3": {"3": "x"}}}, "scale 'sdq3' has no option code '3'"),
    ({"source": ""}, '"source"'),
    ({"items": {"consid": ""}}, "item 'consid' must be a non-empty string"),
    ({"items": ["consid"]}, '"items" must be an object'),
    ({"lang": "en"}, "\"lang\" is 'en'"),
    ({"surprise": 1}, "unknown key(s) surprise"),
])
def test_bad_packs_are_refused_with_the_reason(sdq, change, words):
    raw = json.dumps(made_up_pack(**change)).encode()
    with pytest.raises(WordingPackError) as caught:
        parse_pack(sdq, "da", raw, "sdq_p4_17.da.json")
    assert words in str(caught.value) and "sdq_p4_17.da.json" in str(caught.value)


def test_not_json_is_refused(sdq):
    with pytest.raises(WordingPackError, match="not valid UTF-8 JSON"):
        parse_pack(sdq, "da", b"{nope", "x.json")


def test_missing_texts_fall_back_to_project_labels_with_a_warning(sdq):
    pack = parse_pack(sdq, "da", json.dumps(made_up_pack(items={"consid": "OPDIGTET hensyn"},
                                                         options={})).encode())
    labels = ProjectLabels(sdq)
    consid, restles = sdq.items_by_id["consid"], sdq.items_by_id["restles"]
    assert pack.item(consid, "da") == "OPDIGTET hensyn"
    assert pack.item(restles, "da") == labels.item(restles, "da")
    assert pack.item(consid, "en") == labels.item(consid, "en")  # a Danish pack does not speak English
    option = sdq.scale_options(consid)[0]
    assert pack.option(consid, option, "da") == labels.option(consid, option, "da")
    assert any("restles" in w for w in pack.warnings) and any("sdq3" in w for w in pack.warnings)
    assert pack.official is True


def test_the_form_shows_the_pack_and_the_response_records_it(app, login_as):
    sha = install(app, made_up_pack())
    client = login_as("team-a")
    html = client.get("/instruments/sdq_p4_17").get_data(as_text=True)
    assert "<legend>OPDIGTET consid tekst</legend>" in html
    assert "Opdigtet måske" in html
    assert "officielle ordlyd er ikke installeret" not in html.lower() and "not installed" not in html
    data = {"csrf_token": csrf_token(html), **{item: "1" for item in SDQ_ITEMS}, "ebddiff": "0"}
    posted = client.post("/instruments/sdq_p4_17", data=data)
    assert posted.status_code == 302, posted.get_data(as_text=True)
    with get_db(app).session() as session:
        response = session.scalars(select(Response)).one()
        assert response.wording == {"kind": "wording_pack", "lang": "da", "sha256": sha,
                                    "source": "Made-up test wording (not the official SDQ text)"}


def test_without_a_pack_the_form_says_so_and_records_project_labels(app, login_as):
    client = login_as("team-a")
    html = client.get("/instruments/sdq_p4_17").get_data(as_text=True)
    assert "OPDIGTET" not in html
    assert "1. Hensyn til andres følelser" in html
    assert 'class="notice"' in html
    data = {"csrf_token": csrf_token(html), **{item: "2" for item in SDQ_ITEMS}, "ebddiff": "0"}
    assert client.post("/instruments/sdq_p4_17", data=data).status_code == 302
    with get_db(app).session() as session:
        assert session.scalars(select(Response)).one().wording == {"kind": "project_labels"}


def test_a_broken_pack_is_never_used(app, login_as):
    install(app, made_up_pack(items={"consid": "x", "bogus_item": "y"}))
    client = login_as("team-a")
    html = client.get("/instruments/sdq_p4_17").get_data(as_text=True)
    assert "1. Hensyn til andres følelser" in html and 'class="notice"' in html
    statuses = wording_packs(app).statuses
    assert [s.error for s in statuses] == [
        "sdq_p4_17.da.json: unknown item id 'bogus_item' (not in sdq_p4_17 1.0.0)"]


def test_packs_are_loaded_once_per_app(app, monkeypatch):
    install(app, made_up_pack())
    calls = []
    import formengine.wording as wording

    real = wording.load_packs
    monkeypatch.setattr(wording, "load_packs", lambda *a: calls.append(1) or real(*a))
    definition = get_registry(app).get("sdq_p4_17").definition
    for _ in range(3):
        assert texts_for(app, definition, "da").official
        assert not texts_for(app, definition, "en").official
    assert calls == [1]


def test_unknown_instrument_and_bad_file_names_are_listed(tmp_path, sdq):
    (tmp_path / "nosuch.da.json").write_text(json.dumps(made_up_pack()), "utf-8")
    (tmp_path / "sdq.json").write_text("{}", "utf-8")
    packs = load_packs(tmp_path, {"sdq_p4_17": sdq})
    errors = sorted(s.error for s in packs.statuses)
    assert errors == ["nosuch.da.json: no installed instrument 'nosuch'",
                      "sdq.json: the file name must be <instrument_id>.<lang>.json"]
    assert packs.packs == {}


def test_wording_command_lists_the_active_wording(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    (instance / "texts").mkdir(parents=True)
    (instance / "texts" / "sdq_p4_17.da.json").write_text(
        json.dumps(made_up_pack(items={"consid": "OPDIGTET"})), "utf-8")
    (instance / "texts" / "pss.da.json").write_text(json.dumps({"source": "x", "items": {"pss_99": "y"}}),
                                                    "utf-8")
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(instance))
    result = CliRunner().invoke(main, ["wording"], catch_exceptions=False)
    assert result.exit_code == 0
    out = result.output
    assert "sdq_p4_17 da: wording pack sdq_p4_17.da.json - Made-up test wording" in out
    assert "sdq_p4_17 en: project labels (official wording not installed)" in out
    assert "warning: no wording for item(s) restles" in out
    assert "pss da: project labels (official wording not installed)" in out
    assert "who5 da: project labels\n" in out
    assert "pss.da.json: unknown item id 'pss_99'" in out
