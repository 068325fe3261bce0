"""The first web page: any instrument as a form, stored and scored; tampering and CSRF refused."""

from sqlalchemy import func, select

from formengine.db import get_db
from formengine.models import Municipality, Response, Score
from tests.conftest import csrf_token, login

ITEMS = ["who5_1", "who5_2", "who5_3", "who5_4", "who5_5"]


def count(app, model):
    with get_db(app).session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_pages_need_login(client, demo):
    response = client.get("/instruments/who5")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_is_refused(client, demo):
    response = login(client, "team-a", "wrong")
    assert response.status_code == 401
    assert "Forkert brugernavn eller adgangskode" in response.get_data(as_text=True)


def test_fill_who5_stores_the_response_and_shows_the_score(app, login_as):
    client = login_as("team-a")
    page = client.get("/instruments/who5")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<legend>Har været i godt humør</legend>" in html
    data = {"csrf_token": csrf_token(html)}
    data.update({item: "4" for item in ITEMS})
    posted = client.post("/instruments/who5", data=data)
    assert posted.status_code == 302
    result = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "80" in result and "Ingen indikation" in result
    with get_db(app).session() as s:
        response = s.scalars(select(Response)).one()
        municipality = s.scalars(select(Municipality).where(Municipality.name == "Demo Kommune A")).one()
        assert response.answers == {item: 4 for item in ITEMS}
        assert response.status == "submitted"
        assert response.municipality_id == municipality.id
        assert response.wording == {"kind": "project_labels"}
        score = s.scalars(select(Score)).one()
        assert (score.valid, score.scores, score.bands) == (True, {"raw": 20, "percent": 80},
                                                            {"percent": "good_wellbeing"})
        assert (score.instrument_version, score.scoring_version) == ("1.0.0", "1")


def test_declined_items_are_stored_as_an_invalid_score_with_a_plain_remark(app, login_as):
    client = login_as("team-a")
    token = csrf_token(client.get("/instruments/who5").get_data(as_text=True))
    posted = client.post("/instruments/who5", data={"csrf_token": token, "who5_1": "2",
                                                   "decline": ITEMS[1:]})
    page = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "Ikke scoret: der mangler svar" in page and "missing_items" in page
    token = csrf_token(page)
    client.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
    english = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "Not scored: questions that must be answered" in english
    assert "who5_2" in english  # the scoring's own detail, for English readers


def test_a_flag_text_from_the_definition_is_shown_in_the_readers_language(app):
    from formengine.registry import get_registry
    from formengine.web.flag_texts import explain_flag

    definition = get_registry(app).get("who5").definition
    definition.data.setdefault("flag_texts", {})["made_up"] = {"da": "Forklaring", "en": "Explanation"}
    with app.test_request_context():
        assert explain_flag({"code": "made_up", "message": "raw"}, definition, "da")["text"] == "Forklaring"
        assert explain_flag({"code": "other", "message": "raw"}, definition, "da") == {
            "text": "raw", "detail": ""}
    del definition.data["flag_texts"]["made_up"]


def test_a_tampered_code_gets_400_and_nothing_is_stored(app, login_as):
    client = login_as("team-a")
    token = csrf_token(client.get("/instruments/who5").get_data(as_text=True))
    data = {"csrf_token": token, **{item: "3" for item in ITEMS}, "who5_3": "9"}
    response = client.post("/instruments/who5", data=data)
    assert response.status_code == 400
    assert "Svarene blev ikke gemt" in response.get_data(as_text=True)
    assert count(app, Response) == 0 and count(app, Score) == 0


def test_a_post_without_csrf_token_is_refused(app, login_as):
    client = login_as("team-a")
    response = client.post("/instruments/who5", data={item: "3" for item in ITEMS})
    assert response.status_code == 400
    assert count(app, Response) == 0


def test_another_municipality_gets_not_found_for_a_result(app, client, demo):
    login(client, "team-a")
    token = csrf_token(client.get("/instruments/who5").get_data(as_text=True))
    posted = client.post("/instruments/who5", data={"csrf_token": token, **{i: "1" for i in ITEMS}})
    url = posted.headers["Location"]
    client.post("/logout", data={"csrf_token": token})
    other = demo.test_client()
    login(other, "team-b")
    assert other.get(url).status_code == 404
    admin = demo.test_client()
    login(admin, "sysadmin")
    assert admin.get(url).status_code == 200


def test_unknown_instrument_is_404(login_as):
    assert login_as("team-a").get("/instruments/nope").status_code == 404


def test_language_switch_to_english(login_as):
    client = login_as("team-a")
    token = csrf_token(client.get("/instruments").get_data(as_text=True))
    client.post("/language", data={"lang": "en", "next": "/instruments/who5", "csrf_token": token})
    html = client.get("/instruments/who5").get_data(as_text=True)
    assert '<html lang="en">' in html and "<legend>Has been in good spirits</legend>" in html
    assert "Submit" in html
