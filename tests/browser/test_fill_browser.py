"""The stepper in real chromium on tablet viewports: tap through, reload, network drop, hand-over, languages.

Driven by accessible names (roles, labels, legends) as a user with a screen
reader would; every step is photographed to test-artifacts/browser/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from formengine.db import get_db
from formengine.models import Response, Score
from formengine.registry import get_registry
from tests.browser.conftest import close_context, run_axe

pytestmark = pytest.mark.browser

REVIEW_DA = "Se svarene igennem"
REVIEW_EN = "Check the answers"


def login(page, username="team-a", password="demo"):
    page.goto("/login")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(password)
    page.get_by_role("button", name="Log ind").tap()
    page.wait_for_url(lambda url: "/login" not in url)


def start(page, title):
    """Start a practice fill of the instrument called ``title`` from the instrument list."""
    page.goto("/instruments")
    card = page.locator("li.card").filter(has=page.get_by_role("heading", name=title, exact=True))
    card.get_by_role("button", name="Start en øvelsesudfyldning").tap()
    page.wait_for_url(re.compile(r"/fill/[0-9a-f-]{36}"))


def response_uuid(page):
    return re.search(r"/fill/([0-9a-f-]{36})", page.url).group(1)


def stored(app, uuid):
    with get_db(app).session() as session:
        return session.scalar(select(Response).where(Response.uuid == uuid))


def progress(page):
    locator = page.locator("#step-progress")
    return locator.inner_text().strip() if locator.count() else ""


def wait_for_next_step(page, before):
    page.wait_for_function(
        """(before) => {
            const p = document.getElementById('step-progress');
            return (!p || p.textContent.trim() !== before) && document.readyState === 'complete';
        }""",
        arg=before,
    )


def tap_answer(page, question, answer):
    """Tap ``answer`` in the question whose legend is ``question``; returns when the next step shows."""
    before = progress(page)
    page.get_by_role("group", name=question, exact=True).get_by_role("radio", name=answer, exact=True).tap()
    wait_for_next_step(page, before)


STRUCTURE_JS = """() => {
  // The accessible name of a label: its text without decorations hidden from assistive technology.
  const nameOf = (label) => {
    const copy = label.cloneNode(true);
    copy.querySelectorAll('[aria-hidden=true]').forEach(e => e.remove());
    return copy.textContent.trim().replace(/\\s+/g, ' ');
  };
  return Array.from(document.querySelectorAll(
    '#fill-step fieldset.question:not([hidden]), #fill-step fieldset.sub-question'))
  .filter(fs => !fs.querySelector('fieldset.sub-question') || fs.classList.contains('sub-question'))
  .map(fs => {
    const legend = fs.querySelector(':scope > legend').textContent.trim();
    const radio = fs.querySelector('input[type=radio]');
    const field = fs.querySelector(':scope > input:not([type=hidden]), :scope > textarea');
    const add = fs.querySelector('button[value^="add:"]');
    return {legend, sub: fs.classList.contains('sub-question'),
            option: radio ? nameOf(radio.closest('label')) : null,
            field: field ? (field.type === 'date' ? 'date'
                            : (field.inputMode === 'decimal' ? 'number' : 'text')) : null,
            add: !!add && !fs.querySelector('fieldset.entry'), checked: !!fs.querySelector('input:checked'),
            empty: !!field && field.value === ''};
  });
}"""


def fill_step(page):
    """Answer every question on the current step with its first option (or a short value), then go on.

    Answers may make follow-up questions appear on the same step, so it looks again until
    nothing is left to answer.
    """
    autoadvance = page.locator("form.step-form").get_attribute("data-autoadvance") == "1"
    before = progress(page)
    for _ in range(5):
        questions = page.evaluate(STRUCTURE_JS)
        adding = next((q for q in questions if q["add"]), None)
        if adding:
            group = page.get_by_role("group", name=adding["legend"], exact=True)
            group.get_by_role("button", name="Tilføj en mere").tap()
            page.wait_for_selector("#fill-step fieldset.entry")
            continue
        todo = [q for q in questions if (q["option"] and not q["checked"]) or (q["field"] and q["empty"])]
        if not todo:
            break
        for question in todo:
            group = page.get_by_role("group", name=question["legend"], exact=True).first
            if question["option"]:
                if autoadvance:
                    group.get_by_role("radio", name=question["option"], exact=True).tap()
                    wait_for_next_step(page, before)
                    return
                with page.expect_response(lambda r: r.url.endswith("/save")):
                    group.get_by_role("radio", name=question["option"], exact=True).tap()
                wait_until_saved(page)
            else:
                value = {"date": "2024-05-01", "number": "1", "text": "Testsvar"}[question["field"]]
                field = group.get_by_label(question["legend"], exact=True)
                # Leaving the field saves it (and may reveal a follow-up question).
                with page.expect_response(lambda r: r.url.endswith("/save")):
                    field.fill(value)
                    field.blur()
                wait_until_saved(page)
    page.get_by_role("button", name="Næste", exact=True).tap()
    wait_for_next_step(page, before)


def wait_until_saved(page):
    """The reply has been applied to the step (the status line says it is saved), so a
    follow-up question it reveals is on the page, as the respondent sees it."""
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^(Gemt|Saved)"))
    page.wait_for_load_state()


def fill_to_review(page, shots, prefix="", limit=80):
    for _ in range(limit):
        if page.get_by_role("heading", name=REVIEW_DA).count():
            return
        shots.take(page, f"{prefix}{progress(page) or 'step'}")
        fill_step(page)
    raise AssertionError("the stepper never reached the review screen")


def submit(page):
    page.get_by_role("button", name="Send svarene").tap()
    page.wait_for_url(lambda url: "/review" not in url)
    page.wait_for_load_state()
    finished = re.search(r"/(responses/[0-9a-f-]{36}|fill/[0-9a-f-]{36}/done)$", page.url)
    assert finished, page.inner_text("main")


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_who5_tap_reload_hand_over_and_submit_once(tablet, live_app):
    page = tablet
    login(page)
    start(page, "WHO-5 Trivselsindeks")
    uuid = response_uuid(page)
    assert progress(page) == "Spørgsmål 1 af 5"
    assert run_axe(page) == []
    page.shots.take(page, "q1")
    tap_answer(page, "Har været i godt humør", "Det meste af tiden")
    assert progress(page) == "Spørgsmål 2 af 5"
    page.shots.take(page, "q2")
    tap_answer(page, "Har følt mig rolig og afslappet", "Hele tiden")
    assert stored(live_app, uuid).answers == {"who5_1": 4, "who5_2": 5}

    # Reload half-way: back at the first unanswered question.
    page.goto(f"/fill/{uuid}")
    assert progress(page) == "Spørgsmål 3 af 5"
    # Back shows the earlier answer, still selected.
    before = progress(page)
    page.get_by_role("button", name="Tilbage").tap()
    wait_for_next_step(page, before)
    assert page.get_by_role("radio", name="Hele tiden").is_checked()
    page.goto(f"/fill/{uuid}")

    # Hand the tablet over: no menus, no names, no scores.
    page.get_by_role("button", name="Giv tabletten videre").tap()
    page.get_by_role("link", name="Giv tabletten tilbage").wait_for()
    assert page.get_by_role("navigation").count() == 0
    assert page.get_by_text("Team A").count() == 0 and page.get_by_text("Log ud").count() == 0
    page.shots.take(page, "handed-over")
    assert run_axe(page) == []
    page.goto("/")  # a curious respondent tries the start page
    assert page.url.endswith(f"/fill/{uuid}")
    tap_answer(page, "Har følt mig aktiv og fuld af energi", "Det meste af tiden")
    page.get_by_role("button", name="Vil ikke svare").tap()  # declines "woken up rested"
    wait_for_next_step(page, "Spørgsmål 4 af 5")
    tap_answer(page, "Hverdagen har budt på ting, der interesserer mig", "Det meste af tiden")
    page.get_by_role("heading", name=REVIEW_DA).wait_for()
    assert page.get_by_text("Ville ikke svare").is_visible()
    page.shots.take(page, "review")
    assert run_axe(page) == []

    # Double tap on submit: one submission.
    page.evaluate("""() => { const f = document.querySelector('form.submit-form');
                             f.requestSubmit(); f.requestSubmit(); }""")
    page.wait_for_url(re.compile(f"/fill/{uuid}/done$"))
    assert page.get_by_role("heading", name="Tak for dine svar").is_visible()
    assert page.get_by_text("Ingen indikation").count() == 0
    page.shots.take(page, "thanks")
    page.get_by_role("link", name="Giv tabletten tilbage").tap()
    page.get_by_label("Pinkode eller adgangskode").fill("0000")
    page.get_by_role("button", name="Lås op").tap()
    assert page.get_by_role("alert").inner_text().startswith("Forkert pinkode")
    page.get_by_label("Pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Lås op").tap()
    page.wait_for_url(re.compile(f"/responses/{uuid}$"))
    page.shots.take(page, "result")
    assert run_axe(page) == []
    assert page.get_by_role("navigation").count() == 1
    result = stored(live_app, uuid)
    assert result.status == "submitted" and result.declined == ["who5_4"]
    assert result.answers == {"who5_1": 4, "who5_2": 5, "who5_3": 4, "who5_5": 4}
    with get_db(live_app).session() as session:
        assert session.scalar(select(func.count()).select_from(Score)) == 1
    # WHO-5 with one of five missing is not scored; the page says why in plain words.
    assert page.get_by_text("Resultatet er ikke gyldigt").is_visible()


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_a_dropped_save_is_retried_until_it_gets_through(tablet, live_app):
    page = tablet
    login(page)
    start(page, "WHO-5 Trivselsindeks")
    uuid = response_uuid(page)
    attempts = []

    def flaky(route):
        attempts.append(route.request.url)
        if len(attempts) <= 2:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/save", flaky)
    page.get_by_role("group", name="Har været i godt humør").get_by_role("radio", name="Lidt af tiden").tap()
    status = page.locator("#save-status")
    status.get_by_text("Ikke gemt endnu").wait_for()
    page.shots.take(page, "not-saved-retrying")
    # The answer stays on screen while it is retried.
    assert page.get_by_role("radio", name="Lidt af tiden").is_checked()
    wait_for_next_step(page, "Spørgsmål 1 af 5")
    assert progress(page) == "Spørgsmål 2 af 5"
    assert len(attempts) == 3
    assert stored(live_app, uuid).answers == {"who5_1": 1}
    page.unroute("**/save")


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_stale_device_is_refused_and_offered_a_reload(tablet, browser, live_app, live_server):
    page = tablet
    login(page)
    start(page, "WHO-5 Trivselsindeks")
    uuid = response_uuid(page)
    other_context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True,
                                        base_url=live_server.url)
    other = other_context.new_page()
    login(other)
    other.goto(f"/fill/{uuid}")
    tap_answer(other, "Har været i godt humør", "Hele tiden")
    other_context.close()
    # This tablet still shows version 1 of question 1.
    page.get_by_role("radio", name="På intet tidspunkt").tap()
    banner = page.get_by_role("alert").filter(has_text="ændret på en anden enhed")
    banner.wait_for()
    page.shots.take(page, "conflict")
    assert stored(live_app, uuid).answers == {"who5_1": 5}
    # The refused choice is not left on screen as if it were kept: the stored answer is shown.
    assert page.get_by_role("radio", name="Hele tiden").is_checked()
    assert not page.get_by_role("radio", name="På intet tidspunkt").is_checked()
    page.get_by_role("link", name="Hent de nyeste svar").tap()
    page.wait_for_load_state()
    assert page.get_by_role("radio", name="Hele tiden").is_checked()


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_the_respondent_answers_in_english(tablet, live_app):
    page = tablet
    login(page)
    start(page, "WHO-5 Trivselsindeks")
    uuid = response_uuid(page)
    page.get_by_role("button", name="Answer in English").tap()
    page.get_by_role("group", name="Has been in good spirits").wait_for()
    assert progress(page) == "Question 1 of 5"
    assert page.get_by_role("button", name="Giv tabletten videre").is_visible()  # team member stays Danish
    for question in ("Has been in good spirits", "Has felt calm and relaxed",
                     "Has felt active and full of energy", "Has woken up rested",
                     "Daily life has held things that interest me"):
        page.shots.take(page, question)
        tap_answer(page, question, "Most of the time")
    page.get_by_role("heading", name=REVIEW_EN).wait_for()
    assert run_axe(page) == []
    page.get_by_role("button", name="Submit the answers").tap()
    page.wait_for_url(re.compile(f"/responses/{uuid}$"))
    assert page.get_by_text("Ingen indikation").is_visible()  # the team member reads Danish
    assert stored(live_app, uuid).language == "en"
    # The team member switches the interface to English as well.
    page.get_by_role("button", name="English").tap()
    page.get_by_text("No indication").wait_for()


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_every_registered_instrument_from_start_to_finish(tablet, live_app):
    """Every instrument, every step, every question type (the test instrument has all of them)."""
    page = tablet
    login(page)
    instruments = get_registry(live_app).sorted_instruments()
    assert len(instruments) >= 2
    for instrument in instruments:
        start(page, instrument.definition.title("da"))
        uuid = response_uuid(page)
        assert run_axe(page) == [], instrument.id
        fill_to_review(page, page.shots, prefix=f"{instrument.id}-")
        submit(page)
        response = stored(live_app, uuid)
        assert response.status == "submitted", instrument.id
        definition = instrument.definition
        shown = [i for i in definition.items if definition.is_shown(i, response.answers)]
        assert {i["id"] for i in shown} <= set(response.answers), instrument.id
        page.shots.take(page, f"{instrument.id}-result")


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_sdq_impact_questions_appear_only_after_a_yes_to_difficulties(tablet, live_app):
    page = tablet
    login(page)
    start(page, "SDQ – forælderversion (4-17 år)")
    uuid = response_uuid(page)
    page.goto(f"/fill/{uuid}?page=overall")
    assert progress(page) == "Del 6 af 6"
    overall = ("Alt i alt: har barnet vanskeligheder med følelser, koncentration, adfærd "
               "eller at komme overens med andre?")
    tap_answer(page, overall, "Ja, små")
    assert progress(page) == "Del 7 af 7"
    assert page.get_by_role("group", name="Hvor længe har vanskelighederne varet?").is_visible()
    page.shots.take(page, "impact-after-yes")
    fill_step(page)  # answer the impact questions
    page.get_by_role("heading", name=REVIEW_DA).wait_for()
    # Changing the answer to "no" takes the impact questions away again.
    page.get_by_role("link", name=overall).tap()
    page.wait_for_url(re.compile(r"page=overall"))
    page.wait_for_load_state()  # the step's scripts run before the answer is tapped, as for a person
    tap_answer(page, overall, "Nej")
    page.get_by_role("heading", name=REVIEW_DA).wait_for()
    assert page.get_by_text("gælder ikke længere").is_visible()  # the impact answers will not be submitted
    page.shots.take(page, "review-after-no")
    response = stored(live_app, uuid)
    assert response.answers["ebddiff"] == 0 and "ebdchron" in response.answers
    # The earlier steps are still open: the submit is refused and the review says so.
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("alert").filter(has_text="Svarene blev ikke sendt").wait_for()
    page.goto(f"/fill/{uuid}")  # resumes at the first open question
    fill_to_review(page, page.shots, prefix="sdq-rest-")
    page.get_by_role("button", name="Send svarene").tap()
    page.wait_for_url(re.compile(f"/responses/{uuid}$"))
    assert "ebdchron" not in stored(live_app, uuid).answers


def test_without_javascript_the_form_still_works_with_plain_posts(browser, live_server, live_app):
    """htmx only enhances: with scripts off, tap an answer and then "Næste", through to the score."""
    context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True,
                                  java_script_enabled=False, base_url=live_server.url)
    page = context.new_page()
    try:
        login(page)
        start(page, "WHO-5 Trivselsindeks")
        uuid = response_uuid(page)
        for number, question in enumerate(("Har været i godt humør", "Har følt mig rolig og afslappet",
                                           "Har følt mig aktiv og fuld af energi", "Er vågnet udhvilet",
                                           "Hverdagen har budt på ting, der interesserer mig"), start=1):
            assert progress(page) == f"Spørgsmål {number} af 5"
            group = page.get_by_role("group", name=question)
            group.get_by_role("radio", name="Mere end halvdelen af tiden").tap()
            with page.expect_navigation():
                page.get_by_role("button", name="Næste", exact=True).tap()
        page.get_by_role("heading", name=REVIEW_DA).wait_for()
        page.get_by_role("button", name="Send svarene").tap()
        page.wait_for_url(re.compile(f"/responses/{uuid}$"))
        assert page.get_by_text("Ingen indikation").is_visible()  # 15 of 25 -> 60
        assert stored(live_app, uuid).answers == {f"who5_{i}": 3 for i in range(1, 6)}
    finally:
        close_context(context)


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_the_review_links_a_missing_required_question_and_the_link_reaches_it(tablet, live_app):
    page = tablet
    login(page)
    start(page, "WHO-5 Trivselsindeks")
    uuid = response_uuid(page)
    tap_answer(page, "Har været i godt humør", "Det meste af tiden")
    page.get_by_role("button", name="Se alle svar", exact=True).tap()
    page.get_by_role("heading", name=REVIEW_DA).wait_for()
    # The still open questions are listed as links, each marked as one that must be answered.
    missing = page.locator("ul.missing-list")
    calm = "Har følt mig rolig og afslappet"
    assert missing.get_by_role("link", name=calm, exact=True).is_visible()
    assert missing.get_by_role("listitem").filter(has_text=calm).get_by_text("skal besvares").is_visible()
    assert missing.get_by_role("link", name="Har været i godt humør").count() == 0  # answered
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("alert").filter(has_text="Svarene blev ikke sendt").wait_for()
    assert stored(live_app, uuid).status == "draft"
    page.shots.take(page, "review-missing")
    # Following the link opens that question's step, ready to be answered.
    missing.get_by_role("link", name=calm, exact=True).tap()
    page.get_by_role("group", name=calm, exact=True).wait_for()
    assert progress(page) == "Spørgsmål 2 af 5"
    tap_answer(page, calm, "Hele tiden")
    assert stored(live_app, uuid).answers == {"who5_1": 4, "who5_2": 5}


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_the_whole_form_page_lists_missing_questions_and_takes_declines(tablet, live_app):
    page = tablet
    login(page)
    page.goto("/instruments/who5")
    good_mood, calm = "Har været i godt humør", "Har følt mig rolig og afslappet"
    page.get_by_role("group", name=good_mood).get_by_role("radio", name="Det meste af tiden").check()
    page.get_by_role("button", name="Indsend").tap()
    alert = page.get_by_role("alert").filter(has_text="Svarene blev ikke sendt")
    alert.wait_for()
    assert alert.get_by_role("link").count() == 4
    mood = page.get_by_role("group", name=good_mood)
    assert mood.get_by_role("radio", name="Det meste af tiden").is_checked()  # kept
    page.shots.take(page, "whole-form-missing")
    alert.get_by_role("link", name=calm).tap()
    page.wait_for_url(re.compile("#q-who5_2$"))
    assert page.get_by_role("group", name=re.compile(calm)).is_visible()
    with get_db(live_app).session() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 0
    # Answer one, decline the rest: submitted.
    page.get_by_role("group", name=re.compile(calm)).get_by_role("radio", name="Hele tiden").check()
    for number in (3, 4, 5):
        page.locator(f"#q-who5_{number}").get_by_role("checkbox", name="Vil ikke svare").check()
    page.get_by_role("button", name="Indsend").tap()
    page.wait_for_url(re.compile(r"/responses/[0-9a-f-]{36}(#q-who5_2)?$"))  # the browser keeps the anchor
    with get_db(live_app).session() as session:
        response = session.scalars(select(Response)).one()
        assert response.answers == {"who5_1": 4, "who5_2": 5}
        assert sorted(response.declined) == ["who5_3", "who5_4", "who5_5"]
