"""The tablet stepper over HTTP (no browser): saves, resume, conflicts, hand-over, languages, submit once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from formengine.db import get_db
from formengine.models import AuditEvent, Response, Score, User
from formengine.registry import get_registry
from formengine.security import verify_secret
from tests.browser.kitchen import PLUGINS
from tests.conftest import csrf_token, load_demo_into, login

WHO5 = ["who5_1", "who5_2", "who5_3", "who5_4", "who5_5"]
HX = {"HX-Request": "true"}


@pytest.fixture
def app(make_app):
    """The app with the all-item-types test instrument next to the bundled ones, and demo data."""
    app = make_app(EXTRA_PLUGINS=PLUGINS)
    load_demo_into(app)
    return app


@pytest.fixture
def team(app):
    client = app.test_client()
    assert login(client, "team-a").status_code == 302
    return client


def start(client, instrument_id="who5"):
    token = csrf_token(client.get("/instruments").get_data(as_text=True))
    response = client.post(f"/fill/start/{instrument_id}", data={"csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    uuid = response.headers["Location"].rsplit("/", 1)[-1]
    return uuid


def page_state(client, uuid, page=None):
    url = f"/fill/{uuid}" + (f"?page={page}" if page else "")
    html = client.get(url).get_data(as_text=True)
    version = int(re.search(r'name="version" id="fill-version" value="(\d+)"', html).group(1))
    current = re.search(r'name="page" value="([^"]+)"', html).group(1)
    return html, version, current


def save(client, uuid, data, headers=None):
    html, version, current = page_state(client, uuid, data.pop("_page", None))
    form = {"csrf_token": csrf_token(html), "version": str(version), "page": current}
    form.update(data)
    return client.post(f"/fill/{uuid}/save", data=form, headers=headers or {})


def stored(app, uuid):
    with get_db(app).session() as session:
        return session.scalar(select(Response).where(Response.uuid == uuid))


def count(app, model, *where):
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_start_from_the_instrument_list_opens_the_first_question(app, team):
    listing = team.get("/instruments").get_data(as_text=True)
    assert "Start en øvelsesudfyldning" in listing
    uuid = start(team)
    html, version, current = page_state(team, uuid)
    assert current == "who5_1" and version == 1
    assert "Spørgsmål 1 af 5" in html
    assert "<legend id=\"q-who5_1-legend\" tabindex=\"-1\">Har været i godt humør</legend>" in html
    assert 'src="/static/vendor/htmx/htmx.min.js"' in html
    assert "https://" not in html.split("<main", 1)[1]  # no third-party resources
    draft = stored(app, uuid)
    assert draft.status == "draft" and draft.person_id is None and draft.wording == {"kind": "project_labels"}


def test_one_answer_without_javascript_saves_and_moves_to_the_next_question(app, team):
    uuid = start(team)
    response = save(team, uuid, {"who5_1": "3", "go": "next"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/fill/{uuid}?page=who5_2")
    draft = stored(app, uuid)
    assert draft.answers == {"who5_1": 3} and draft.version == 2


def test_htmx_save_answers_with_the_next_step_fragment(app, team):
    uuid = start(team)
    response = save(team, uuid, {"who5_1": "4", "go": "next"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="fill-step"') and "<html" not in html
    assert "Spørgsmål 2 af 5" in html and 'value="2"' in html
    assert response.headers["HX-Push-Url"] == f"/fill/{uuid}?page=who5_2"
    assert "HX-Request" in response.headers["Vary"]
    assert "HX-Request" in team.get(f"/fill/{uuid}").headers["Vary"]


def test_the_same_question_of_two_drafts_shows_each_drafts_own_answer_links_and_version(app, team):
    first, second = start(team), start(team)
    save(team, first, {"who5_1": "3", "go": "next"})
    save(team, first, {"_page": "who5_2", "who5_2": "1", "go": "next"})
    for uuid in (first, second):  # the same step, shown twice for each draft
        for _ in range(2):
            html = team.get(f"/fill/{uuid}?page=who5_1").get_data(as_text=True)
            other = second if uuid == first else first
            assert f"/fill/{uuid}/save" in html and other not in html
            assert f'href="/fill/{uuid}?page=who5_1"' in html
            assert csrf_token(html) in html
    html = team.get(f"/fill/{first}?page=who5_1").get_data(as_text=True)
    assert 'value="3" checked' in html and 'id="fill-version" value="3"' in html
    html = team.get(f"/fill/{second}?page=who5_1").get_data(as_text=True)
    assert " checked" not in html and 'id="fill-version" value="1"' in html
    # The next question after a save is the second draft's own, with its new version.
    reply = save(team, second, {"who5_1": "5", "go": "next"}, headers=HX)
    html = reply.get_data(as_text=True)
    assert f"/fill/{second}/save" in html and first not in html
    assert 'id="fill-version" value="2"' in html and " checked" not in html
    reply = save(team, second, {"_page": "who5_2", "go": "back"}, headers=HX)
    assert 'value="5" checked' in reply.get_data(as_text=True)


def test_saving_in_place_returns_only_the_new_version_and_status(app, team):
    uuid = start(team, "kitchen")
    response = save(team, uuid, {"_page": "p_facts", "note": "hej", "go": "stay"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="fill-version" value="2" hx-swap-oob="true"' in html and "Gemt." in html
    assert stored(app, uuid).answers == {"note": "hej"}


def test_reload_resumes_at_the_first_unanswered_question(app, team):
    uuid = start(team)
    for item in WHO5[:3]:
        save(team, uuid, {"_page": item, item: "2", "go": "next"})
    _, version, current = page_state(team, uuid)
    assert (current, version) == ("who5_4", 4)
    # Another device (a new login of the same team member) resumes at the same place.
    other = app.test_client()
    login(other, "team-a")
    assert page_state(other, uuid)[2] == "who5_4"


def test_back_goes_to_the_previous_question_with_its_answer(app, team):
    uuid = start(team)
    save(team, uuid, {"who5_1": "1", "go": "next"})
    response = save(team, uuid, {"_page": "who5_2", "go": "back"})
    assert response.headers["Location"].endswith("page=who5_1")
    html = team.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="1" checked' in html


def test_a_tampered_code_is_refused_with_a_message_and_nothing_changes(app, team):
    uuid = start(team)
    response = save(team, uuid, {"who5_1": "9", "go": "next"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Svaret blev ikke gemt" in html and "who5_1" in html
    draft = stored(app, uuid)
    assert draft.answers == {} and draft.version == 1


def test_a_number_that_is_not_a_number_is_refused_and_kept_on_screen(app, team):
    uuid = start(team, "kitchen")
    response = save(team, uuid, {"_page": "p_facts", "hours": "many", "note": "kept", "go": "next"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "er ikke et tal" in html and 'value="kept"' in html
    assert stored(app, uuid).answers == {}


def test_a_stale_write_is_refused_with_an_offer_to_reload(app, team):
    uuid = start(team)
    html, version, _ = page_state(team, uuid)
    token = csrf_token(html)
    first = team.post(f"/fill/{uuid}/save", data={"csrf_token": token, "version": version, "page": "who5_1",
                                                   "who5_1": "5", "go": "stay"})
    assert first.status_code == 303
    stale = team.post(f"/fill/{uuid}/save", data={"csrf_token": token, "version": version, "page": "who5_1",
                                                   "who5_1": "0", "go": "next"})
    body = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "ændret på en anden enhed" in body and "Hent de nyeste svar" in body
    assert stored(app, uuid).answers == {"who5_1": 5}
    # The screen shows the stored answer again, not the refused one.
    checked = re.findall(r'<input[^>]*type="radio"[^>]*>', body)
    assert [re.search(r'value="(\d)"', i).group(1) for i in checked if " checked" in i] == ["5"]


def test_resending_a_save_that_already_got_through_is_not_a_conflict(app, team):
    uuid = start(team)
    html, version, _ = page_state(team, uuid)
    data = {"csrf_token": csrf_token(html), "version": version, "page": "who5_1", "who5_1": "2", "go": "next"}
    assert team.post(f"/fill/{uuid}/save", data=data).status_code == 303
    # The reply was lost (network drop), so the tablet sends the same save again.
    again = team.post(f"/fill/{uuid}/save", data=data)
    assert again.status_code == 303 and again.headers["Location"].endswith("page=who5_2")
    assert stored(app, uuid).version == 2


def test_decline_is_stored_apart_from_unanswered(app, team):
    uuid = start(team)
    response = save(team, uuid, {"decline": "who5_1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("page=who5_2")
    draft = stored(app, uuid)
    assert draft.declined == ["who5_1"] and draft.answers == {}
    html = team.get(f"/fill/{uuid}?page=who5_1").get_data(as_text=True)
    assert "Du har valgt ikke at svare" in html


def test_declining_one_question_of_a_section_keeps_the_other_answers_and_the_step(app, team):
    uuid = start(team, "kitchen")
    response = save(team, uuid, {"_page": "p_facts", "note": "", "hours": "7", "decline": "note"})
    assert response.status_code == 303 and response.headers["Location"].endswith("page=p_facts")
    draft = stored(app, uuid)
    assert draft.answers == {"hours": 7} and draft.declined == ["note"] and draft.version == 3


def test_display_condition_shows_a_question_only_after_yes(app, team):
    uuid = start(team, "kitchen")
    save(team, uuid, {"mood": "1", "go": "next"})
    no = save(team, uuid, {"_page": "p_worry", "worry": "false", "go": "next"})
    assert no.headers["Location"].endswith("page=p_facts")
    html, _, _ = page_state(team, uuid, "p_worry")
    assert "Del 2 af 5" in html
    yes = save(team, uuid, {"_page": "p_worry", "worry": "true", "go": "next"})
    assert yes.headers["Location"].endswith("page=p_worry_often")
    html, _, _ = page_state(team, uuid, "p_worry_often")
    assert "Hvor tit bekymrer du dig?" in html and "Del 3 af 6" in html


def test_a_follow_up_question_appears_on_the_same_step_as_soon_as_it_applies(app, team):
    uuid = start(team, "kitchen")
    in_place = save(team, uuid, {"_page": "p_facts", "hours": "4", "go": "stay"}, headers=HX)
    html = in_place.get_data(as_text=True)
    # Only the new question is swapped in (out of band): what is typed elsewhere stays untouched.
    assert '<fieldset class="question" id="q-short_sleep" hx-swap-oob="true">' in html
    assert "Hvad holder dig vågen?" in html and "Et nyt spørgsmål er kommet til" in html
    assert 'id="q-note"' not in html and 'id="q-seen_on"' not in html
    gone = save(team, uuid, {"_page": "p_facts", "hours": "8", "go": "stay"}, headers=HX)
    gone = gone.get_data(as_text=True)
    assert '<fieldset class="question" id="q-short_sleep" hidden hx-swap-oob="true"></fieldset>' in gone
    # Without JavaScript, "next" stays on the step so the new question is asked first.
    uuid = start(team, "kitchen")
    stay = save(team, uuid, {"_page": "p_facts", "hours": "4", "go": "next"})
    assert stay.headers["Location"].endswith("page=p_facts")
    assert "Hvad holder dig vågen?" in team.get(stay.headers["Location"]).get_data(as_text=True)
    moved = save(team, uuid, {"_page": "p_facts", "hours": "4", "short_sleep": "Lektier", "go": "next"})
    assert moved.headers["Location"].endswith("page=p_helpers")


def test_every_item_type_renders_and_saves(app, team):
    uuid = start(team, "kitchen")
    html, _, _ = page_state(team, uuid, "p_facts")
    assert 'type="date"' in html and 'inputmode="decimal"' in html and 'maxlength="20"' in html
    assert "Den officielle ordlyd er ikke installeret" in html
    save(team, uuid, {"_page": "p_facts", "note": "<b>hej</b>", "hours": "8", "seen_on": "2024-05-01"})
    added = save(team, uuid, {"_page": "p_helpers", "helpers__count": "0", "go": "add:helpers"})
    assert added.headers["Location"].endswith("page=p_helpers")
    save(team, uuid, {"_page": "p_helpers", "helpers__count": "1", "helpers__0__helper_name": "Mormor",
                      "helpers__0__helper_visits": "4", "go": "next"})
    html, _, _ = page_state(team, uuid, "p_stars")
    assert "★★★" in html  # the plugin's widget
    save(team, uuid, {"_page": "p_stars", "stars": "2"})
    draft = stored(app, uuid)
    assert draft.answers == {"note": "<b>hej</b>", "hours": 8, "seen_on": "2024-05-01",
                             "helpers": [{"helper_name": "Mormor", "helper_visits": 4}], "stars": 2}
    html, _, _ = page_state(team, uuid, "p_facts")
    assert "&lt;b&gt;hej&lt;/b&gt;" in html  # typed text is escaped
    removed = save(team, uuid, {"_page": "p_helpers", "helpers__count": "1",
                                "helpers__0__helper_name": "Mormor", "go": "remove:helpers:0"})
    assert removed.status_code == 303 and "helpers" not in stored(app, uuid).answers


def test_review_lists_unanswered_questions_with_links_back(app, team):
    uuid = start(team)
    save(team, uuid, {"who5_1": "3", "go": "review"})
    html = team.get(f"/fill/{uuid}/review").get_data(as_text=True)
    assert "Spørgsmål, der ikke er besvaret endnu: 4" in html
    assert f'href="/fill/{uuid}?page=who5_2"' in html


def answer_all(client, uuid, code="4"):
    for item in WHO5:
        save(client, uuid, {"_page": item, item: code, "go": "next"})


def submit(client, uuid):
    html = client.get(f"/fill/{uuid}/review").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    return client.post(f"/fill/{uuid}/submit", data={"csrf_token": csrf_token(html), "version": version}), (
        csrf_token(html), version)


def test_submit_twice_gives_one_submission_and_shows_the_score(app, team):
    uuid = start(team)
    answer_all(team, uuid)
    first, (token, version) = submit(team, uuid)
    assert first.status_code == 303 and first.headers["Location"] == f"/responses/{uuid}"
    second = team.post(f"/fill/{uuid}/submit", data={"csrf_token": token, "version": version})
    assert second.status_code == 303 and second.headers["Location"] == f"/responses/{uuid}"
    result = team.get(f"/responses/{uuid}").get_data(as_text=True)
    assert "80" in result and "Ingen indikation" in result
    draft = stored(app, uuid)
    assert draft.status == "submitted"
    assert count(app, Score) == 1
    assert count(app, AuditEvent, AuditEvent.action == "submit", AuditEvent.entity_id == uuid) == 1
    # A submitted response no longer takes answers.
    assert team.get(f"/fill/{uuid}").status_code == 303


def test_submit_is_refused_until_every_required_question_is_answered_or_declined(app, team):
    uuid = start(team)
    save(team, uuid, {"who5_1": "3", "go": "next"})
    refused, _ = submit(team, uuid)
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/review?error=missing")
    review = team.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Svarene blev ikke sendt. Besvar først de spørgsmål" in review
    assert review.count('<strong class="must-answer">skal besvares</strong>') == 4
    assert f'href="/fill/{uuid}?page=who5_2"' in review  # each missing question links to its step
    assert stored(app, uuid).status == "draft" and count(app, Score) == 0
    # Declining on purpose is an answer too: the score then says what is missing, in plain words.
    for item in WHO5[1:]:
        save(team, uuid, {"_page": item, "decline": item, "go": "next"})
    submitted, _ = submit(team, uuid)
    assert submitted.headers["Location"] == f"/responses/{uuid}"
    result = team.get(f"/responses/{uuid}").get_data(as_text=True)
    assert "Resultatet er ikke gyldigt" in result and "missing_items" in result


def test_answers_hidden_by_a_later_answer_are_removed_at_submit_and_audited(app, team):
    uuid = start(team, "kitchen")
    for page, data in [("p_mood", {"mood": "1"}), ("p_worry", {"worry": "true"}),
                       ("p_worry_often", {"worry_often": "2"}),
                       ("p_facts", {"hours": "8", "seen_on": "2026-01-05"}), ("p_stars", {"stars": "2"}),
                       ("p_worry", {"worry": "false"})]:
        assert save(team, uuid, {"_page": page, **data, "go": "next"}).status_code == 303
    assert stored(app, uuid).answers["worry_often"] == 2  # kept until submit: the answer may switch back
    submitted, _ = submit(team, uuid)
    assert submitted.status_code == 303, submitted.get_data(as_text=True)[:300]
    assert "worry_often" not in stored(app, uuid).answers
    with get_db(app).session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "clear",
                                                        AuditEvent.entity_id == uuid))
        assert event.detail == {"items": ["worry_often"], "reason": "hidden_by_condition"}


def test_hand_over_hides_everything_but_the_questions_until_unlocked(app, team):
    uuid = start(team)
    html = team.get(f"/fill/{uuid}").get_data(as_text=True)
    locked = team.post(f"/fill/{uuid}/handover", data={"csrf_token": csrf_token(html)})
    assert locked.status_code == 303
    page = team.get(f"/fill/{uuid}").get_data(as_text=True)
    assert "Team A" not in page and "Log ud" not in page and "Instrumenter" not in page
    assert "Giv tabletten tilbage" in page
    for url in ("/", "/instruments/who5", f"/responses/{uuid}", "/account/pin"):
        response = team.get(url)
        assert response.status_code == 303 and response.headers["Location"] == f"/fill/{uuid}", url
    other = start_other_draft(app)
    assert team.get(f"/fill/{other}").headers["Location"] == f"/fill/{uuid}"
    token = csrf_token(page)
    wrong = team.post(f"/fill/{uuid}/unlock", data={"csrf_token": token, "secret": "0000"})
    assert wrong.status_code == 303 and wrong.headers["Location"] == f"/fill/{uuid}/unlock"  # PRG
    shown = team.get(wrong.headers["Location"])
    assert shown.status_code == 401 and "Forkert pinkode eller adgangskode" in shown.get_data(as_text=True)
    assert "Forkert pinkode" not in team.get(f"/fill/{uuid}/unlock").get_data(as_text=True)  # said once
    assert team.get("/").status_code == 303
    right = team.post(f"/fill/{uuid}/unlock", data={"csrf_token": token, "secret": "1234"})
    assert right.status_code == 303
    assert team.get("/instruments").status_code == 200


def start_other_draft(app):
    client = app.test_client()
    login(client, "team-a")
    return start(client)


def test_hand_over_submit_shows_thanks_not_scores_and_the_password_also_unlocks(app, team):
    uuid = start(team)
    answer_all(team, uuid, "1")
    html = team.get(f"/fill/{uuid}/review").get_data(as_text=True)
    team.post(f"/fill/{uuid}/handover", data={"csrf_token": csrf_token(html)})
    done, _ = submit(team, uuid)
    assert done.headers["Location"] == f"/fill/{uuid}/done"
    thanks = team.get(f"/fill/{uuid}/done").get_data(as_text=True)
    assert "Tak for dine svar" in thanks and "Ingen indikation" not in thanks and "Råscore" not in thanks
    unlock_page = team.get(f"/fill/{uuid}/unlock").get_data(as_text=True)
    token = csrf_token(unlock_page)
    unlocked = team.post(f"/fill/{uuid}/unlock", data={"csrf_token": token, "secret": "demo"})
    assert unlocked.headers["Location"] == f"/responses/{uuid}"


def test_five_wrong_unlock_attempts_end_the_session(app, team):
    uuid = start(team)
    html = team.get(f"/fill/{uuid}").get_data(as_text=True)
    token = csrf_token(html)
    team.post(f"/fill/{uuid}/handover", data={"csrf_token": token})
    for _ in range(5):
        last = team.post(f"/fill/{uuid}/unlock", data={"csrf_token": token, "secret": "9999"})
    assert last.status_code == 303 and last.headers["Location"].endswith("/login")
    login_page = team.get("/login").get_data(as_text=True)
    assert "Tabletten blev låst" in login_page and "svar, der er givet indtil nu, er gemt" in login_page
    assert "Tabletten blev låst" not in team.get("/login").get_data(as_text=True)
    assert team.get(f"/fill/{uuid}").status_code == 302  # logged out
    assert stored(app, uuid).status == "draft"


def test_thanks_only_after_the_answers_were_sent(app, team):
    uuid = start(team)
    html = team.get(f"/fill/{uuid}").get_data(as_text=True)
    team.post(f"/fill/{uuid}/handover", data={"csrf_token": csrf_token(html)})
    typed = team.get(f"/fill/{uuid}/done")
    assert typed.status_code == 303 and typed.headers["Location"] == f"/fill/{uuid}"
    assert "Tak for dine svar" not in team.get(f"/fill/{uuid}").get_data(as_text=True)


def test_after_unlocking_the_team_member_continues_in_their_own_language(app, team):
    uuid = start(team)
    html = team.get(f"/fill/{uuid}").get_data(as_text=True)
    token = csrf_token(html)
    team.post(f"/fill/{uuid}/handover", data={"csrf_token": token})
    team.post(f"/fill/{uuid}/language", data={"csrf_token": token, "lang": "en", "page": "who5_1"})
    assert "Has been in good spirits" in team.get(f"/fill/{uuid}").get_data(as_text=True)
    unlocked = team.post(f"/fill/{uuid}/unlock", data={"csrf_token": token, "secret": "1234"})
    assert unlocked.headers["Location"] == f"/fill/{uuid}"
    page = team.get(f"/fill/{uuid}/review").get_data(as_text=True)
    assert "Se svarene igennem" in page and "Send svarene" in page and "Check the answers" not in page
    assert stored(app, uuid).language == "da"


def test_the_respondent_answers_in_english_while_the_team_member_keeps_danish(app, team):
    uuid = start(team)
    html = team.get(f"/fill/{uuid}").get_data(as_text=True)
    switched = team.post(f"/fill/{uuid}/language",
                         data={"csrf_token": csrf_token(html), "lang": "en", "page": "who5_1"})
    assert switched.status_code == 303
    page = team.get(switched.headers["Location"]).get_data(as_text=True)
    assert "Has been in good spirits" in page and "Question 1 of 5" in page and "At no time" in page
    assert "Giv tabletten videre" in page  # the team member's own controls stay Danish
    assert stored(app, uuid).language == "en"
    answer_all(team, uuid)
    submit(team, uuid)
    assert stored(app, uuid).language == "en"


def test_the_team_member_can_switch_the_interface_to_english(app, team):
    html = team.get("/instruments").get_data(as_text=True)
    team.post("/language", data={"csrf_token": csrf_token(html), "lang": "en", "next": "/instruments"})
    uuid = start(team)
    page = team.get(f"/fill/{uuid}").get_data(as_text=True)
    assert "Has been in good spirits" in page and "Hand over the tablet" in page


def test_another_municipality_gets_not_found(app, team):
    uuid = start(team)
    other = app.test_client()
    login(other, "team-b")
    assert other.get(f"/fill/{uuid}").status_code == 404
    token = csrf_token(other.get("/instruments").get_data(as_text=True))
    saved = other.post(f"/fill/{uuid}/save", data={"csrf_token": token, "version": "1", "page": "who5_1",
                                                   "who5_1": "1"})
    assert saved.status_code == 404 and stored(app, uuid).answers == {}


def test_htmx_request_after_the_session_ended_reloads_the_page(app, team):
    uuid = start(team)
    anonymous = app.test_client()
    token = csrf_token(anonymous.get("/login").get_data(as_text=True))
    response = anonymous.post(f"/fill/{uuid}/save", data={"csrf_token": token}, headers=HX)
    assert response.status_code == 401 and response.headers["HX-Refresh"] == "true"


def test_session_timeout_is_configurable(make_app):
    app = make_app(SESSION_TIMEOUT_MINUTES=7)
    assert app.permanent_session_lifetime.total_seconds() == 7 * 60


def test_set_pin_needs_the_password_and_four_to_eight_digits(app, team):
    html = team.get("/account/pin").get_data(as_text=True)
    token = csrf_token(html)
    bad = team.post("/account/pin", data={"csrf_token": token, "password": "wrong", "pin": "4321",
                                          "pin_repeat": "4321"})
    assert bad.status_code == 303 and bad.headers["Location"] == "/account/pin"  # PRG: no resubmission
    assert team.get("/account/pin").status_code == 400
    short = team.post("/account/pin", data={"csrf_token": token, "password": "demo", "pin": "12",
                                            "pin_repeat": "12"}, follow_redirects=True)
    assert short.status_code == 400 and "4 til 8 cifre" in short.get_data(as_text=True)
    ok = team.post("/account/pin", data={"csrf_token": token, "password": "demo", "pin": "4321",
                                         "pin_repeat": "4321"})
    assert ok.status_code == 303
    assert "Din nye pinkode er gemt" in team.get("/account/pin").get_data(as_text=True)
    with get_db(app).session() as session:
        user = session.scalar(select(User).where(User.username == "team-a"))
        assert verify_secret(user.pin_hash, "4321") and not verify_secret(user.pin_hash, "1234")


def test_every_registered_instrument_can_be_filled_step_by_step(app, team):
    """Each step of every instrument renders; answering the first option everywhere reaches the review."""
    for instrument in get_registry(app).sorted_instruments():
        uuid = start(team, instrument.id)
        for _ in range(200):
            response = team.get(f"/fill/{uuid}")
            if response.status_code == 303:
                assert response.headers["Location"] == f"/fill/{uuid}/review", instrument.id
                break
            html = response.get_data(as_text=True)
            assert response.status_code == 200, instrument.id
            data = first_choices(html)
            posted = save(team, uuid, {**data, "go": "next"})
            if posted.status_code != 303:
                # Items without a choice (text, numbers): leave them and go on from the review.
                break
        review = team.get(f"/fill/{uuid}/review")
        assert review.status_code == 200, instrument.id


def first_choices(html):
    data = {}
    for name, value in re.findall(r'<input type="radio" name="([^"]+)" value="([^"]+)"', html):
        data.setdefault(name, value.replace("&#34;", '"'))
    return data


def test_a_keyed_save_is_applied_at_most_once_even_after_the_draft_moved_on(app, team):
    """The tablet's queue resends a save whose reply was lost; its key makes the resend a no-op."""
    uuid = start(team)
    html, version, _ = page_state(team, uuid)
    data = {"csrf_token": csrf_token(html), "version": version, "page": "who5_1", "who5_1": "2", "go": "stay"}
    keyed = {"Idempotency-Key": "tablet-1-0001"}
    first = team.post(f"/fill/{uuid}/save", data=data, headers={**HX, **keyed})
    assert first.status_code == 200 and first.headers["X-Draft-Version"] == str(version + 1)
    # Meanwhile the answer is changed (another window, no key) ...
    save(team, uuid, {"_page": "who5_1", "who5_1": "5", "go": "stay"})
    assert stored(app, uuid).version == version + 2
    # ... and the first save arrives again: acknowledged, not applied, not a conflict.
    again = team.post(f"/fill/{uuid}/save", data=data, headers={**HX, **keyed})
    assert again.status_code == 200 and again.headers["X-Draft-Version"] == str(version + 2)
    assert stored(app, uuid).answers == {"who5_1": 5}
    # The same stale save without its key (or with another key) is refused as a conflict, as always.
    other = team.post(f"/fill/{uuid}/save", data=data, headers={**HX, "Idempotency-Key": "tablet-1-0002"})
    assert other.status_code == 409
    assert team.post(f"/fill/{uuid}/save", data=data, headers=HX).status_code == 409
    assert stored(app, uuid).answers == {"who5_1": 5}


def test_a_keyed_decline_is_applied_once(app, team):
    uuid = start(team)
    html, version, _ = page_state(team, uuid)
    data = {"csrf_token": csrf_token(html), "version": version, "page": "who5_1", "decline": "who5_1"}
    keyed = {**HX, "Idempotency-Key": "tablet-2-0001"}
    assert team.post(f"/fill/{uuid}/save", data=data, headers=keyed).status_code == 200
    assert team.post(f"/fill/{uuid}/save", data=data, headers=keyed).status_code == 200
    response = stored(app, uuid)
    assert response.declined == ["who5_1"] and response.version == version + 1


@pytest.mark.parametrize("key", ["", "short", "x" * 65, "tablet 1 0001", "tablet-1-ø001"])
def test_a_malformed_save_key_is_refused_and_changes_nothing(app, team, key):
    uuid = start(team)
    html, version, _ = page_state(team, uuid)
    data = {"csrf_token": csrf_token(html), "version": version, "page": "who5_1", "who5_1": "2", "go": "stay"}
    reply = team.post(f"/fill/{uuid}/save", data=data, headers={**HX, "Idempotency-Key": key})
    assert reply.status_code == 400 and "Genindlæs siden" in reply.get_data(as_text=True)
    assert stored(app, uuid).answers == {} and stored(app, uuid).version == version
