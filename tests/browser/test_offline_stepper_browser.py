"""A prepared form finished without a network does what the online stepper does.

Entries of a repeated group added and removed, the answer language switched,
the review with every answer, declines, the required-question check before the
queued submit. Real chromium on a tablet viewport, the network cut with
``context.set_offline``, driven by accessible names; afterwards the database
holds exactly what the screen showed, once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formengine.db import get_db
from formengine.models import AuditEvent
from tests.browser.conftest import run_axe
from tests.browser.test_fill_browser import login, progress, response_uuid, start, stored
from tests.browser.test_offline_browser import stored_on_device, wait_until_sent

pytestmark = pytest.mark.browser

LOFT = "LØFT-arbejdsark"


def prepare(page):
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Gør klar til brug uden net").tap()
    page.get_by_role("status").filter(has_text="Klar").wait_for()


def type_in(field, text):
    """Type an answer and leave the field (it is saved then, and the status line says so)."""
    field.fill(text)
    field.blur()


def entry(page, name):
    return page.get_by_role("group", name=name, exact=True)


def write_goal(page, name, number, goal, scaling):
    box = entry(page, name)
    box.get_by_label("Målnummer").fill(number)
    box.get_by_label("Målet med familiens egne ord").fill(goal)
    box.get_by_role("radio", name=scaling, exact=True).tap()  # leaving the text field saves it too


def review_rows(page):
    """The review table as the screen shows it: question -> answer text."""
    rows = page.locator("table.review-table tbody tr")
    return {rows.nth(i).locator("th").inner_text().strip():
            " ".join(rows.nth(i).locator("td").inner_text().split()) for i in range(rows.count())}


def wait_until_submitted(page, app, uuid):
    for _ in range(150):
        if stored(app, uuid).status == "submitted":
            break
        page.wait_for_timeout(100)
    wait_until_sent(page)


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_offline_goals_are_added_and_removed_the_language_switched_and_the_form_synced_as_shown(tablet,
                                                                                               live_app):
    page = tablet
    login(page)
    start(page, LOFT)
    uuid = response_uuid(page)
    prepare(page)
    page.context.set_offline(True)

    # An unanswered group starts with one entry (min_repeat); two more are added, the middle one removed.
    write_goal(page, "Nr. 1", "1", "Mere ro om morgenen", "4")
    page.get_by_role("button", name="Tilføj en mere").tap()
    write_goal(page, "Nr. 2", "2", "Et mål der fjernes igen", "2")
    page.get_by_role("button", name="Tilføj en mere").tap()
    write_goal(page, "Nr. 3", "3", "Far henter i børnehaven", "6")
    type_in(entry(page, "Nr. 3").get_by_label("Dato for skaleringen"), "2026-11-30")
    page.get_by_role("button", name="Fjern nr. 2").tap()
    assert entry(page, "Nr. 3").count() == 0
    second = entry(page, "Nr. 2")
    assert second.get_by_label("Målnummer").input_value() == "3"
    assert second.get_by_label("Målet med familiens egne ord").input_value() == "Far henter i børnehaven"
    assert second.get_by_role("radio", name="6", exact=True).is_checked()
    assert entry(page, "Nr. 1").get_by_role("radio", name="4", exact=True).is_checked()
    page.shots.take(page, "goals-offline")
    assert run_axe(page) == []
    page.get_by_role("button", name="Næste", exact=True).tap()

    type_in(page.get_by_label("Undtagelser: hvornår er problemet mindre eller væk?"), "Når vi har sovet godt")
    # The family prefers English: the prepared form switches without a network, answers kept.
    page.get_by_role("button", name="Answer in English").tap()
    answer = page.get_by_label("Exceptions: when is the problem smaller or absent?")
    assert answer.input_value() == "Når vi har sovet godt"
    type_in(page.get_by_label("What already works?"), "Bedtime stories")
    page.get_by_role("button", name="Back", exact=True).tap()
    # Back on the goals in English: the two entries as they were left.
    assert entry(page, "Entry 2").get_by_label("Goal number").input_value() == "3"
    assert page.get_by_role("button", name="Remove entry 3").count() == 0
    page.get_by_role("button", name="See all answers").tap()

    page.get_by_role("heading", name="Check the answers").wait_for()
    page.shots.take(page, "review-offline-english")
    assert run_axe(page) == []
    rows = review_rows(page)
    assert rows["The family's goals"] == (
        "Entry 1 Goal number 1 The goal in the family's own words Mere ro om morgenen "
        "Where are you now? (0-10) 4 Date of the scaling Not answered "
        "Entry 2 Goal number 3 The goal in the family's own words Far henter i børnehaven "
        "Where are you now? (0-10) 6 Date of the scaling 2026-11-30")
    assert rows["Exceptions: when is the problem smaller or absent?"] == "Når vi har sovet godt"
    assert rows["What already works?"] == "Bedtime stories"
    assert rows["Own resources"] == "Not answered"
    # The unanswered ones are linked back to their step.
    page.get_by_role("status").get_by_role("button", name="The next small step").tap()
    type_in(page.get_by_label("The next small step"), "Fælles morgenmad søndag")
    page.get_by_role("button", name="See all answers").tap()
    assert review_rows(page)["The next small step"] == "Fælles morgenmad søndag"
    page.get_by_role("button", name="Submit the answers").tap()
    page.get_by_role("heading", name="Thank you for your answers").wait_for()
    assert stored(live_app, uuid).status == "draft" and stored(live_app, uuid).answers == {}

    page.context.set_offline(False)
    wait_until_submitted(page, live_app, uuid)
    response = stored(live_app, uuid)
    assert response.status == "submitted" and response.language == "en"
    assert response.answers == {
        "goals": [{"goal_no": 1, "goal": "Mere ro om morgenen", "scaling": 4},
                  {"goal_no": 3, "goal": "Far henter i børnehaven", "scaling": 6, "scaled_on": "2026-11-30"}],
        "exceptions": "Når vi har sovet godt", "already_works": "Bedtime stories",
        "next_step": "Fælles morgenmad søndag",
    }
    assert response.declined == []
    with get_db(live_app).session() as session:
        submits = select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "submit", AuditEvent.entity_id == uuid)
        assert session.scalar(submits) == 1
    assert stored_on_device(page) == []


KITCHEN = "Alle spørgsmålstyper"


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_offline_declines_entry_limits_and_the_required_check_behave_as_online(tablet, live_app):
    page = tablet
    login(page)
    start(page, KITCHEN)
    uuid = response_uuid(page)
    prepare(page)
    page.context.set_offline(True)

    # Submitting with questions that must be answered is refused on the tablet, as the server would.
    page.get_by_role("button", name="Se alle svar").tap()
    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    assert page.get_by_role("status").filter(has_text="Spørgsmål, der ikke er besvaret endnu").count() == 1
    assert page.locator(".must-answer").count() == 5  # mood, worry, hours, date, stars; not the optional ones
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("alert").filter(has_text="Svarene blev ikke sendt").wait_for()
    page.shots.take(page, "refused-offline")
    queued = page.evaluate("() => window.FormengineQueue.pending()")

    # Handed over, the family switches to English on the review; taking the tablet back (in the team
    # member's language) returns the form to Danish, as the server's unlock does.
    page.get_by_role("button", name="Giv tabletten videre").tap()
    page.get_by_role("button", name="Answer in English").tap()
    page.get_by_role("heading", name="Check the answers").wait_for()
    assert page.locator(".must-answer").first.inner_text() == "must be answered"
    page.get_by_role("button", name="Giv tabletten tilbage").tap()
    page.get_by_label("Pinkode eller adgangskode", exact=True).fill("1234")
    page.get_by_role("button", name="Lås op").tap()
    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    page.get_by_role("navigation").wait_for()

    page.get_by_role("status").get_by_role("button", name="Jeg er glad").tap()
    page.get_by_role("button", name="Vil ikke svare").tap()
    page.get_by_role("group", name="Bekymrer du dig?").wait_for()
    page.get_by_role("button", name="Tilbage", exact=True).tap()
    # Declined: the step says so instead of offering the button again (as the server renders it).
    page.get_by_text("Du har valgt ikke at svare på dette spørgsmål.").wait_for()
    assert page.get_by_role("button", name="Vil ikke svare").count() == 0
    page.get_by_role("button", name="Næste", exact=True).tap()
    page.get_by_role("group", name="Bekymrer du dig?").get_by_role("radio", name="Nej").tap()
    assert progress(page) == "Del 3 af 5"
    # A short night shows a follow-up on the same step; a longer one hides it again, with its answer.
    type_in(page.get_by_label("Timers søvn", exact=True), "4")
    type_in(page.get_by_label("Hvad holder dig vågen?", exact=True), "Lektier")
    type_in(page.get_by_label("Timers søvn", exact=True), "8")
    assert page.get_by_role("group", name="Hvad holder dig vågen?").count() == 0
    type_in(page.get_by_label("Dato for samtalen"), "2026-11-30")
    # A number the server refuses is not saved here either: the step says so and stays.
    type_in(page.get_by_label("Timers søvn", exact=True), "25")
    page.get_by_role("button", name="Næste", exact=True).tap()
    # Worded as the server words the refusal online.
    refusal = "Ikke gemt: Timers søvn: 25 er for stort (højst 24)"
    page.locator("#save-status").filter(has_text=refusal).wait_for()
    assert progress(page) == "Del 3 af 5"
    type_in(page.get_by_label("Timers søvn", exact=True), "8")
    page.get_by_role("button", name="Næste", exact=True).tap()

    # A group without min_repeat starts empty; adding stops at max_repeat (3).
    page.get_by_text("Ingen endnu.").wait_for()
    for _ in range(3):
        page.get_by_role("button", name="Tilføj en mere").tap()
    assert page.get_by_role("button", name="Tilføj en mere").count() == 0
    entry(page, "Nr. 3").get_by_label("Navn").fill("Mormor")
    type_in(entry(page, "Nr. 3").get_by_label("Besøg om måneden"), "4")
    page.get_by_role("button", name="Fjern nr. 1").tap()
    page.get_by_role("button", name="Fjern nr. 1").tap()
    assert entry(page, "Nr. 1").get_by_label("Navn").input_value() == "Mormor"
    page.get_by_role("button", name="Tilføj en mere").wait_for()
    page.get_by_role("button", name="Næste", exact=True).tap()
    page.get_by_role("group", name="Giv stjerner").get_by_role("radio").nth(1).tap()
    page.get_by_role("button", name="Næste", exact=True).tap()

    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    rows = review_rows(page)
    assert rows["Jeg er glad"] == "Ville ikke svare"
    assert rows["Bekymrer du dig?"] == "Nej" and "Hvor tit bekymrer du dig?" not in rows
    assert rows["Hvem hjælper dig?"] == "Nr. 1 Navn Mormor Besøg om måneden 4"
    assert rows["En kort bemærkning"] == "Ikke besvaret"
    assert page.locator(".must-answer").count() == 0
    # The hidden follow-up's answer is listed as not to be submitted, as on the online review.
    hidden = page.locator(".notice").filter(has_text="Nogle tidligere svar gælder ikke længere")
    assert hidden.get_by_role("listitem").all_inner_texts() == ["Hvad holder dig vågen?"]
    page.shots.take(page, "review-offline")
    assert page.evaluate("() => window.FormengineQueue.pending()") > queued
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("heading", name="Tak for dine svar").wait_for()

    page.context.set_offline(False)
    wait_until_submitted(page, live_app, uuid)
    response = stored(live_app, uuid)
    assert response.status == "submitted" and response.language == "da"
    assert response.answers == {"worry": False, "hours": 8, "seen_on": "2026-11-30",
                                "helpers": [{"helper_name": "Mormor", "helper_visits": 4}], "stars": 1}
    assert response.declined == ["mood"]
    with get_db(live_app).session() as session:
        submits = select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "submit", AuditEvent.entity_id == uuid)
        assert session.scalar(submits) == 1


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_follow_up_question_appears_offline_on_the_step_the_server_sent(tablet, live_app):
    page = tablet
    login(page)
    start(page, KITCHEN)
    uuid = response_uuid(page)
    page.goto(f"/fill/{uuid}?page=p_facts")  # rendered by the server, the follow-up as a placeholder
    prepare(page)
    page.context.set_offline(True)
    type_in(page.get_by_label("Timers søvn", exact=True), "4")
    # Said as online, and that the answer is kept on the tablet.
    page.locator("#save-status").filter(has_text="Gemt på tabletten").filter(
        has_text="Et nyt spørgsmål er kommet frem.").wait_for()
    type_in(page.get_by_label("Hvad holder dig vågen?", exact=True), "Støj fra gaden")
    page.get_by_role("button", name="Næste", exact=True).tap()
    page.get_by_text("Ingen endnu.").wait_for()
    page.context.set_offline(False)
    wait_until_sent(page)
    assert stored(live_app, uuid).answers == {"hours": 4, "short_sleep": "Støj fra gaden"}


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_a_prepared_form_switches_language_in_place_online_and_goes_on_offline_in_it(tablet, live_app):
    page = tablet
    login(page)
    start(page, LOFT)
    uuid = response_uuid(page)
    prepare(page)
    page.evaluate("() => { window.samePage = true; }")
    page.get_by_role("button", name="Answer in English").tap()
    entry(page, "Entry 1").get_by_label("Goal number").wait_for()
    wait_until_sent(page)
    assert stored(live_app, uuid).language == "en"
    assert page.evaluate("() => window.samePage === true")  # no reload: the prepared form is still here
    page.context.set_offline(True)
    type_in(entry(page, "Entry 1").get_by_label("The goal in the family's own words"), "Calmer mornings")
    page.get_by_role("button", name="Next", exact=True).tap()
    page.get_by_role("group", name="What already works?").wait_for()
    page.context.set_offline(False)
    wait_until_sent(page)
    response = stored(live_app, uuid)
    assert response.answers == {"goals": [{"goal": "Calmer mornings"}]} and response.language == "en"


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_the_review_the_server_sent_links_back_to_its_steps_offline(tablet, live_app):
    page = tablet
    login(page)
    start(page, KITCHEN)
    uuid = response_uuid(page)
    page.goto(f"/fill/{uuid}/review")
    prepare(page)
    page.context.set_offline(True)
    page.get_by_role("status").get_by_role("link", name="Timers søvn").tap()
    type_in(page.get_by_label("Timers søvn", exact=True), "7")
    page.get_by_role("button", name="Se alle svar").tap()
    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    assert review_rows(page)["Timers søvn"] == "7"
    page.context.set_offline(False)
    wait_until_sent(page)
    assert stored(live_app, uuid).answers == {"hours": 7}


@pytest.mark.timeout(300)  # a hang fails in 5 minutes; the test takes under 2 even on a loaded machine
@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_language_switched_offline_stays_after_a_reload_offline_and_switches_back(tablet, live_app):
    from tests.browser.test_visit_browser import reload_offline, unlock_kept_forms

    page = tablet
    login(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    start(page, LOFT)
    uuid = response_uuid(page)
    prepare(page)
    page.context.set_offline(True)
    page.get_by_role("button", name="Answer in English").tap()
    type_in(entry(page, "Entry 1").get_by_label("The goal in the family's own words"), "Calmer mornings")
    # The form's state is kept on the tablet a moment after the answer (encrypted, in the background).
    page.wait_for_function("""async (uuid) => {
        const kept = await window.FormengineStore.form(uuid);
        return !!kept && !!kept.state && JSON.stringify(kept.state.answers).includes('Calmer mornings');
    }""", arg=uuid)
    reload_offline(page)
    unlock_kept_forms(page)  # the team member's PIN opens the kept form again, in English
    goal = entry(page, "Entry 1").get_by_label("The goal in the family's own words")
    assert goal.input_value() == "Calmer mornings"
    page.get_by_role("button", name="Svar på dansk").tap()
    type_in(entry(page, "Nr. 1").get_by_label("Målnummer"), "2")
    page.context.set_offline(False)
    wait_until_sent(page)
    response = stored(live_app, uuid)
    assert response.answers == {"goals": [{"goal_no": 2, "goal": "Calmer mornings"}]}
    assert response.language == "da"


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_offline_goals_left_empty_do_not_count_and_are_not_kept_at_the_synced_submit(tablet, live_app):
    page = tablet
    login(page)
    start(page, LOFT)
    uuid = response_uuid(page)
    prepare(page)
    page.context.set_offline(True)
    page.get_by_role("button", name="Se alle svar").tap()  # the first goal is left empty
    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    assert review_rows(page)["Familiens mål"] == "Ikke besvaret"
    missing = page.get_by_role("status").get_by_role("listitem").filter(has_text="Familiens mål")
    assert missing.inner_text() == "Familiens mål skal besvares"
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("alert").filter(has_text="Svarene blev ikke sendt").wait_for()
    page.get_by_role("status").get_by_role("button", name="Familiens mål").tap()
    type_in(entry(page, "Nr. 1").get_by_label("Målet med familiens egne ord"), "Mere ro om morgenen")
    page.get_by_role("button", name="Tilføj en mere").tap()  # a second goal, left empty
    page.get_by_role("button", name="Se alle svar").tap()
    assert review_rows(page)["Familiens mål"].startswith("Nr. 1 Målnummer Ikke besvaret Målet med familiens "
                                                         "egne ord Mere ro om morgenen")
    assert page.locator(".must-answer").count() == 0
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("heading", name="Tak for dine svar").wait_for()
    page.context.set_offline(False)
    wait_until_submitted(page, live_app, uuid)
    response = stored(live_app, uuid)
    assert response.status == "submitted" and response.answers == {"goals": [{"goal": "Mere ro om morgenen"}]}


def kitchen_prepared_and_answered_offline(page):
    """A practice fill of the test instrument, prepared, then three answers given offline; its id."""
    login(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    start(page, KITCHEN)
    uuid = response_uuid(page)
    prepare(page)
    page.context.set_offline(True)
    page.get_by_role("group", name="Jeg er glad").get_by_role("radio", name="Nogle gange").tap()
    page.get_by_role("group", name="Bekymrer du dig?").get_by_role("radio", name="Nej").tap()
    type_in(page.get_by_label("Timers søvn", exact=True), "8")
    return uuid


STATE_WRITES_BLOCKED = "() => { window.FormengineStore.saveState = () => Promise.resolve(); }"


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_answers_given_just_before_a_reload_offline_are_shown_after_it_and_synced_once(tablet, live_app):
    from tests.browser.test_visit_browser import reload_offline, unlock_kept_forms

    page = tablet
    uuid = kitchen_prepared_and_answered_offline(page)
    type_in(page.get_by_label("Dato for samtalen"), "2026-11-30")
    page.get_by_role("button", name="Næste", exact=True).tap()
    page.get_by_role("button", name="Tilføj en mere").tap()
    type_in(entry(page, "Nr. 1").get_by_label("Navn"), "Mormor")
    page.wait_for_function("""async (uuid) => {
        const kept = await window.FormengineStore.form(uuid);
        return !!kept && !!kept.state && JSON.stringify(kept.state.answers).includes('Mormor');
    }""", arg=uuid)

    # From here the form's state is not written on the tablet (as when the page is reloaded in the
    # moment between an answer and that write): the answers are only in the answer queue.
    page.evaluate(STATE_WRITES_BLOCKED)
    type_in(entry(page, "Nr. 1").get_by_label("Besøg om måneden"), "4")
    page.get_by_role("button", name="Tilføj en mere").tap()
    page.get_by_role("button", name="Answer in English").tap()
    entry(page, "Entry 2").wait_for()
    # Every save given offline is in the answer queue (ten: five steps' answers and moves, two adds, two
    # names and numbers of the first entry, the language) when the page is reloaded.
    page.wait_for_function("async (uuid) => (await window.FormengineQueue.waiting())[uuid] === 10", arg=uuid)
    reload_offline(page)
    unlock_kept_forms(page)

    # The reopened step shows every answer the screen showed, in the language chosen, the added entry once.
    first = entry(page, "Entry 1")
    first.wait_for()
    assert first.get_by_label("Name").input_value() == "Mormor"
    assert first.get_by_label("Visits a month").input_value() == "4"
    second = entry(page, "Entry 2")
    assert second.get_by_label("Name").input_value() == ""
    assert entry(page, "Entry 3").count() == 0
    assert progress(page) == "Part 4 of 5"
    type_in(second.get_by_label("Name"), "Nabo")
    type_in(second.get_by_label("Visits a month"), "1")
    page.get_by_role("button", name="Add an entry").tap()
    type_in(entry(page, "Entry 3").get_by_label("Name"), "Lærer")
    type_in(entry(page, "Entry 3").get_by_label("Visits a month"), "2")
    page.get_by_role("button", name="Next", exact=True).tap()
    page.get_by_role("group", name="Give stars").get_by_role("radio").nth(2).tap()
    page.get_by_role("button", name="Next", exact=True).tap()

    page.get_by_role("heading", name="Check the answers").wait_for()
    rows = review_rows(page)
    assert rows["Who helps you?"] == ("Entry 1 Name Mormor Visits a month 4 "
                                      "Entry 2 Name Nabo Visits a month 1 "
                                      "Entry 3 Name Lærer Visits a month 2")
    assert rows["Hours of sleep"] == "8"
    assert page.locator(".must-answer").count() == 0
    page.get_by_role("button", name="Submit the answers").tap()
    page.get_by_role("heading", name="Thank you for your answers").wait_for()

    page.context.set_offline(False)
    wait_until_submitted(page, live_app, uuid)
    response = stored(live_app, uuid)
    assert response.status == "submitted" and response.language == "en"
    assert response.answers == {
        "mood": 1, "worry": False, "hours": 8, "seen_on": "2026-11-30",
        "helpers": [{"helper_name": "Mormor", "helper_visits": 4},
                    {"helper_name": "Nabo", "helper_visits": 1},
                    {"helper_name": "Lærer", "helper_visits": 2}],
        "stars": 2,
    }
    with get_db(live_app).session() as session:
        submits = select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "submit", AuditEvent.entity_id == uuid)
        assert session.scalar(submits) == 1


# Lets the state write that goes with the next save through and blocks every one after it (the write of the
# step then shown): as when the page is reloaded in the moment between the two.
ONLY_THE_SAVES_STATE_WRITTEN = """() => {
    const store = window.FormengineStore, write = store.saveState;
    store.saveState = (response, state) => {
        if (window.keptWithTheSave) { return Promise.resolve(); }
        window.keptWithTheSave = write(response, state);
        return window.keptWithTheSave;
    };
}"""


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_reload_right_after_next_offline_reopens_on_the_step_it_led_to(tablet, live_app):
    from tests.browser.test_visit_browser import reload_offline, unlock_kept_forms

    page = tablet
    uuid = kitchen_prepared_and_answered_offline(page)
    page.wait_for_function("""async (uuid) => {
        const kept = await window.FormengineStore.form(uuid);
        return !!kept && !!kept.state && kept.state.answers.hours === 8;
    }""", arg=uuid)
    first_step = progress(page)

    page.evaluate(ONLY_THE_SAVES_STATE_WRITTEN)
    page.get_by_role("button", name="Næste", exact=True).tap()
    page.wait_for_function("(before) => document.getElementById('step-progress').textContent.trim() "
                           "!== before", arg=first_step)
    next_step = progress(page)
    page.wait_for_function("() => !!window.keptWithTheSave")
    page.evaluate("() => window.keptWithTheSave")
    reload_offline(page)
    unlock_kept_forms(page)

    page.locator("#step-progress").wait_for()
    assert progress(page) == next_step != first_step
    page.context.set_offline(False)
    wait_until_sent(page)
    assert stored(live_app, uuid).answers == {"mood": 1, "worry": False, "hours": 8}


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_words_being_typed_when_the_network_returns_stay_on_screen_and_are_saved(tablet, live_app):
    from tests.browser.test_visit_browser import reload_offline, unlock_kept_forms

    page = tablet
    uuid = kitchen_prepared_and_answered_offline(page)
    reload_offline(page)
    unlock_kept_forms(page)
    note = page.get_by_label("En kort bemærkning")
    note.fill("Sov godt")  # being typed: the field is not left yet, so nothing is saved
    page.evaluate("() => { window.sameScreen = true; }")

    # The network returns and the answers given before the reload are sent: the page must not reload
    # (to show the step as stored) under the family's fingers and lose what is being typed.
    page.context.set_offline(False)
    wait_until_sent(page)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => window.sameScreen === true")
    assert note.input_value() == "Sov godt"
    note.blur()
    wait_until_sent(page)
    assert stored(live_app, uuid).answers == {"mood": 1, "worry": False, "hours": 8, "note": "Sov godt"}
