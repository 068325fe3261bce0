"""Network drops on a tablet: no answer the screen showed as given is lost, and none is stored twice.

Real chromium on a tablet viewport, the network cut with ``context.set_offline``;
driven by accessible names. The database is read afterwards: exactly the
answers given, each applied once (the draft's version counts the writes).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from formengine.db import get_db
from formengine.models import AuditEvent, Score
from tests.browser.conftest import VIEWPORTS, close_context
from tests.browser.test_fill_browser import login, progress, response_uuid, start, stored, tap_answer

pytestmark = pytest.mark.browser

PSS = "Forældrestress-skala (PSS)"
Q1 = "1. Glad for rollen som forælder"
Q2 = "2. Vil gøre næsten alt for barnet"
Q3 = "3. Omsorgen kræver mere tid og energi, end jeg har"
WAITING = "venter på at blive sendt"


def answer(page, question, option):
    page.get_by_role("group", name=question, exact=True).get_by_role("radio", name=option, exact=True).tap()


def wait_until_stored(page, app, uuid, expected):
    """Polls the database (the queue sends on its own once the network is back)."""
    for _ in range(100):
        if stored(app, uuid).answers == expected:
            return
        page.wait_for_timeout(100)
    assert stored(app, uuid).answers == expected


def wait_until_sent(page):
    page.wait_for_function("() => window.FormengineQueue && window.FormengineQueue.pending() === 0")


STORED_ON_DEVICE = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open('formengine-answers', 1);
  req.onupgradeneeded = () => req.result.createObjectStore('saves', {keyPath: 'seq', autoIncrement: true});
  req.onsuccess = () => {
    const all = req.result.transaction('saves').objectStore('saves').getAll();
    all.onsuccess = () => resolve(all.result.map(r => ({
      fields: Object.keys(r).sort(), clear: JSON.stringify({...r, data: null, iv: null}),
      sealed: Array.from(new Uint8Array(r.data), b => String.fromCharCode(b)).join('')})));
  };
  req.onerror = () => reject(req.error);
  req.onblocked = () => reject(new Error('blocked'));
})"""


def stored_on_device(page):
    return page.evaluate(STORED_ON_DEVICE)


def offline_answers(page, uuid):
    """Two answers tapped without a network: kept on screen, waiting on the tablet."""
    page.context.set_offline(True)
    answer(page, Q1, "Enig")
    answer(page, Q2, "Meget enig")
    page.locator("#save-status").get_by_text("Ikke gemt endnu").wait_for()
    page.get_by_role("status").filter(has_text=WAITING).wait_for()
    assert page.get_by_role("radio", name="Enig", exact=True).first.is_checked()
    # On the device: two sealed saves; in clear only whose they are, the draft's id and when.
    records = stored_on_device(page)
    assert len(records) == 2
    for record in records:
        assert record["fields"] == ["at", "data", "iv", "kid", "response", "seq", "user"]
        assert uuid in record["clear"] and "pss_" not in record["clear"]
        assert "pss_" not in record["sealed"] and "csrf" not in record["sealed"]


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_offline_answers_then_hand_over_wait_for_the_network_and_are_saved_once(tablet, live_app):
    page = tablet
    login(page)
    start(page, PSS)
    uuid = response_uuid(page)
    offline_answers(page, uuid)
    page.shots.take(page, "offline-answers")
    # Handing over without a network waits (no offline error page): the answers are sent first.
    page.get_by_role("button", name="Giv tabletten videre").tap()
    page.get_by_role("status").filter(has_text="svarene sendes først").wait_for()
    page.shots.take(page, "hand-over-waits")
    assert page.url.endswith(f"/fill/{uuid}") and page.get_by_role("navigation").count() == 1
    page.context.set_offline(False)
    page.get_by_role("link", name="Giv tabletten tilbage").wait_for()  # handed over, after the saves
    page.shots.take(page, "handed-over")
    assert page.get_by_role("radio", name="Enig", exact=True).first.is_checked()
    response = stored(live_app, uuid)
    assert response.answers == {"pss_1": 4, "pss_2": 5}
    assert response.version == 3  # two writes, each applied once
    assert stored_on_device(page) == []  # nothing kept after the sync


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_log_out_waits_for_the_answers_and_leaves_nothing_on_the_device(tablet, live_app):
    page = tablet
    login(page)
    start(page, PSS)
    uuid = response_uuid(page)
    offline_answers(page, uuid)
    page.get_by_role("button", name="Log ud").tap()
    page.get_by_role("status").filter(has_text="svarene sendes først").wait_for()
    page.context.set_offline(False)
    page.wait_for_url(re.compile(r"/login"))
    assert stored(live_app, uuid).answers == {"pss_1": 4, "pss_2": 5}
    assert stored_on_device(page) == []


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_offline_answers_then_a_language_switch_and_a_menu_link_keep_them(tablet, live_app):
    page = tablet
    login(page)
    start(page, PSS)
    uuid = response_uuid(page)
    offline_answers(page, uuid)
    page.get_by_role("button", name="Answer in English").tap()
    page.get_by_role("status").filter(has_text="svarene sendes først").wait_for()
    page.context.set_offline(False)
    page.get_by_role("group", name="1. Happy in the parent role").wait_for()
    assert page.get_by_role("radio", name="Agree", exact=True).first.is_checked()
    assert page.get_by_role("radio", name="Strongly agree", exact=True).nth(1).is_checked()
    # One more answer offline, then the main menu: the link waits too.
    page.context.set_offline(True)
    answer(page, "3. Caring takes more time and energy than I have", "Disagree")
    page.get_by_role("link", name="Familier").tap()
    page.context.set_offline(False)
    page.wait_for_url(re.compile(r"/families"))
    response = stored(live_app, uuid)
    assert response.answers == {"pss_1": 4, "pss_2": 5, "pss_3": 2} and response.language == "en"


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_offline_answers_then_reload_asks_first_and_sends_them_when_back_online(tablet, live_app):
    page = tablet
    login(page)
    start(page, PSS)
    uuid = response_uuid(page)
    # The service worker is in charge of the app's pages (it registers on the first page).
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    offline_answers(page, uuid)
    asked = []

    def on_dialog(dialog):
        asked.append(dialog.type)
        dialog.accept()

    page.on("dialog", on_dialog)
    page.reload()  # offline: the service worker's page says so, and that the answers are kept
    assert asked == ["beforeunload"]
    page.get_by_role("heading", name="Ingen forbindelse").wait_for()
    page.shots.take(page, "offline-page")
    assert stored_on_device(page) != []
    page.context.set_offline(False)
    # The offline page stands at the form's own address; its link loads that address again.
    page.get_by_role("link", name="Prøv igen").tap()
    page.get_by_role("button", name="Næste").wait_for()
    wait_until_stored(page, live_app, uuid, {"pss_1": 4, "pss_2": 5})
    # The step shows the sent answers once they are stored.
    page.get_by_role("radio", name="Meget enig", exact=True).nth(1).wait_for()
    page.wait_for_function("() => document.querySelectorAll('#fill-step input:checked').length === 2")
    wait_until_sent(page)
    page.shots.take(page, "after-reload")
    assert stored(live_app, uuid).version == 3


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_tab_closed_offline_sends_its_answers_when_the_app_is_opened_again(tablet, live_app):
    page = tablet
    login(page)
    start(page, PSS)
    uuid = response_uuid(page)
    offline_answers(page, uuid)
    context = page.context
    page.close()  # the tab is closed without a network
    context.set_offline(False)
    again = context.new_page()
    again.goto("/")  # any page of the app resumes sending
    wait_until_stored(again, live_app, uuid, {"pss_1": 4, "pss_2": 5})
    wait_until_sent(again)
    assert stored(live_app, uuid).version == 3


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_save_whose_reply_is_lost_is_sent_again_and_applied_once(tablet, live_app):
    page = tablet
    login(page)
    start(page, PSS)
    uuid = response_uuid(page)
    replies = []

    def lose_first_reply(route):
        if not replies:
            replies.append(route.fetch())  # the server applies it ...
            route.abort("internetdisconnected")  # ... but the reply never arrives
        else:
            route.continue_()

    page.route("**/save", lose_first_reply)
    answer(page, Q1, "Uenig")
    page.locator("#save-status").get_by_text("Gemt.").wait_for()
    wait_until_sent(page)
    response = stored(live_app, uuid)
    assert response.answers == {"pss_1": 2} and response.version == 2


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_the_same_draft_changed_on_another_device_while_offline_is_a_conflict(tablet, browser, live_app,
                                                                              live_server):
    page = tablet
    login(page)
    start(page, PSS)
    uuid = response_uuid(page)
    page.context.set_offline(True)
    answer(page, Q1, "Meget uenig")
    # Meanwhile the same form is answered on another tablet, online.
    other_context = browser.new_context(viewport=VIEWPORTS["portrait"], has_touch=True,
                                        base_url=live_server.url)
    other = other_context.new_page()
    login(other)
    other.goto(f"/fill/{uuid}")
    with other.expect_response(lambda r: r.url.endswith("/save")):
        answer(other, Q1, "Meget enig")
    other_context.close()
    page.context.set_offline(False)
    banner = page.get_by_role("alert").filter(has_text="ændret på en anden enhed")
    banner.wait_for()
    page.shots.take(page, "conflict")
    # Nothing silently overwritten: the stored answer stays and is what the screen shows.
    assert page.get_by_role("radio", name="Meget enig", exact=True).first.is_checked()
    assert not page.get_by_role("radio", name="Meget uenig", exact=True).first.is_checked()
    wait_until_sent(page)
    response = stored(live_app, uuid)
    assert response.answers == {"pss_1": 5} and response.version == 2


WHO5 = "WHO-5 Trivselsindeks"


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_prepared_form_is_finished_offline_with_hand_over_and_unlock_then_synced_once(tablet, live_app):
    page = tablet
    login(page)
    start(page, WHO5)
    uuid = response_uuid(page)
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Gør klar til brug uden net").tap()
    page.get_by_role("status").filter(has_text="Klar").wait_for()
    page.context.set_offline(True)

    tap_answer(page, "Har været i godt humør", "Det meste af tiden")
    assert progress(page) == "Spørgsmål 2 af 5"
    page.get_by_role("button", name="Giv tabletten videre").tap()
    page.get_by_role("button", name="Giv tabletten tilbage").wait_for()
    assert page.get_by_role("navigation").count() == 0 and not page.get_by_text("Log ud").is_visible()
    assert not page.get_by_text("Team A").is_visible()
    page.shots.take(page, "handed-over-offline")
    tap_answer(page, "Har følt mig rolig og afslappet", "Hele tiden")
    page.get_by_role("button", name="Tilbage", exact=True).tap()
    page.get_by_role("group", name="Har følt mig rolig og afslappet").wait_for()
    assert page.get_by_role("radio", name="Hele tiden").is_checked()
    page.get_by_role("button", name="Næste", exact=True).tap()
    page.get_by_role("group", name="Har følt mig aktiv og fuld af energi").wait_for()
    page.get_by_role("button", name="Vil ikke svare").tap()
    page.get_by_role("group", name="Er vågnet udhvilet").wait_for()
    tap_answer(page, "Er vågnet udhvilet", "Lidt af tiden")
    tap_answer(page, "Hverdagen har budt på ting, der interesserer mig", "Det meste af tiden")
    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    page.shots.take(page, "review-offline")
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("heading", name="Tak for dine svar").wait_for()
    page.shots.take(page, "thanks-offline")
    assert stored(live_app, uuid).answers == {} and stored(live_app, uuid).status == "draft"

    page.get_by_role("button", name="Giv tabletten tilbage").tap()
    page.get_by_label("Pinkode eller adgangskode", exact=True).fill("0000")
    page.get_by_role("button", name="Lås op").tap()
    assert page.get_by_role("alert").inner_text().startswith("Forkert pinkode")
    page.get_by_label("Pinkode eller adgangskode", exact=True).fill("1234")
    page.get_by_role("button", name="Lås op").tap()
    page.get_by_role("navigation").wait_for()
    page.get_by_role("status").filter(has_text=WAITING).wait_for()  # the team member sees what waits
    page.shots.take(page, "unlocked-waiting")

    page.context.set_offline(False)
    for _ in range(100):
        if stored(live_app, uuid).status == "submitted":
            break
        page.wait_for_timeout(100)
    wait_until_sent(page)
    response = stored(live_app, uuid)
    assert response.status == "submitted"
    assert response.answers == {"who5_1": 4, "who5_2": 5, "who5_4": 1, "who5_5": 4}
    assert response.declined == ["who5_3"]
    with get_db(live_app).session() as session:
        assert session.scalar(select(func.count()).select_from(Score)) == 1
        submits = select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "submit", AuditEvent.entity_id == uuid)
        assert session.scalar(submits) == 1
    assert stored_on_device(page) == []


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_two_open_pages_send_the_waiting_answers_once_and_in_order(tablet, live_app):
    page = tablet
    login(page)
    due = page.context.new_page()
    due.goto("/due")  # a second page of the app, which sends waiting answers too
    page.bring_to_front()
    start(page, PSS)
    uuid = response_uuid(page)
    offline_answers(page, uuid)
    answer(page, Q3, "Uenig")
    page.context.set_offline(False)
    wait_until_stored(page, live_app, uuid, {"pss_1": 4, "pss_2": 5, "pss_3": 2})
    wait_until_sent(page)
    wait_until_sent(due)
    assert stored(live_app, uuid).version == 4  # three writes, each once
    page.wait_for_function("() => document.querySelectorAll('#fill-step input:checked').length === 3")


def test_answers_given_offline_are_sent_after_the_browser_is_restarted(browser, live_server, live_app,
                                                                        tmp_path):
    """A browser profile on disk: quit chromium without a network, start it again with one."""
    from tests.browser.conftest import CHROMIUM_ARGS, _chromium_path

    def launch():
        context = browser.browser_type.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=_chromium_path(), args=CHROMIUM_ARGS,
            viewport=VIEWPORTS["portrait"], has_touch=True, locale="da-DK", base_url=live_server.url)
        context.set_default_timeout(15000)
        return context

    context = launch()
    try:
        page = context.pages[0] if context.pages else context.new_page()
        login(page)
        start(page, PSS)
        uuid = response_uuid(page)
        offline_answers(page, uuid)
    finally:
        context.close()  # the browser quits with the answers still waiting
    assert stored(live_app, uuid).answers == {}
    context = launch()
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.goto("/")  # still logged in (the session cookie outlives the browser); sending resumes
        wait_until_stored(page, live_app, uuid, {"pss_1": 4, "pss_2": 5})
        wait_until_sent(page)
        assert stored(live_app, uuid).version == 3
    finally:
        close_context(context)


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_a_prepared_form_handed_over_online_stays_locked_on_the_server_and_the_pin_unlocks_both(tablet,
                                                                                              live_app):
    page = tablet
    login(page)
    start(page, WHO5)
    uuid = response_uuid(page)
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Gør klar til brug uden net").tap()
    page.get_by_role("status").filter(has_text="Klar").wait_for()
    page.get_by_role("button", name="Giv tabletten videre").tap()  # online: locked here and on the server
    page.get_by_role("button", name="Giv tabletten tilbage").wait_for()
    assert page.get_by_role("navigation").count() == 0
    page.context.set_offline(True)
    tap_answer(page, "Har været i godt humør", "Lidt af tiden")
    assert progress(page) == "Spørgsmål 2 af 5"
    page.context.set_offline(False)
    wait_until_stored(page, live_app, uuid, {"who5_1": 1})
    # The server knows the tablet is handed over: another page of the app leads back to the form.
    other = page.context.new_page()
    other.goto("/families")
    assert other.url.endswith(f"/fill/{uuid}")
    other.close()
    page.get_by_role("button", name="Giv tabletten tilbage").tap()
    page.get_by_label("Pinkode eller adgangskode", exact=True).fill("1234")
    with page.expect_response(lambda r: r.url.endswith("/unlock")):
        page.get_by_role("button", name="Lås op").tap()
    page.get_by_role("navigation").wait_for()
    page.goto("/families")  # unlocked on the server as well
    assert page.url.endswith("/families")


def test_without_javascript_the_page_says_that_answering_offline_is_not_available(browser, live_server):
    context = browser.new_context(viewport=VIEWPORTS["portrait"], has_touch=True, java_script_enabled=False,
                                  base_url=live_server.url)
    page = context.new_page()
    try:
        login(page)
        start(page, PSS)
        # The text is inside <noscript>, which the locators skip; it is on the page the user sees.
        assert "det er ikke muligt at svare uden netforbindelse" in page.inner_text("main")
        assert not page.get_by_role("button", name="Gør klar til brug uden net").is_visible()
        # Plain form posts still save.
        answer(page, Q1, "Enig")
        with page.expect_navigation():
            page.get_by_role("button", name="Næste", exact=True).tap()
    finally:
        close_context(context)


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_offline_the_questions_a_display_condition_shows_appear_and_go(tablet, live_app):
    page = tablet
    login(page)
    start(page, "Alle spørgsmålstyper")
    uuid = response_uuid(page)
    page.goto(f"/fill/{uuid}?page=p_worry")
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Gør klar til brug uden net").tap()
    page.get_by_role("status").filter(has_text="Klar").wait_for()
    page.context.set_offline(True)
    tap_answer(page, "Bekymrer du dig?", "Nej")  # the follow-up step is skipped
    assert progress(page) == "Del 3 af 5"
    assert page.get_by_role("group", name="Hvad holder dig vågen?").count() == 0
    hours = page.get_by_label("Timers søvn", exact=True)
    hours.fill("4")
    hours.blur()  # a short night: the question about it appears on the same step
    page.get_by_role("group", name="Hvad holder dig vågen?").wait_for()
    awake = page.get_by_label("Hvad holder dig vågen?", exact=True)
    awake.fill("Lektier")
    awake.blur()
    page.get_by_role("button", name="Tilbage", exact=True).tap()
    tap_answer(page, "Bekymrer du dig?", "Ja")  # now the follow-up step is there
    page.get_by_role("group", name="Hvor tit bekymrer du dig?").wait_for()
    assert progress(page) == "Del 3 af 6"
    page.shots.take(page, "follow-up-offline")
    page.context.set_offline(False)
    wait_until_stored(page, live_app, uuid, {"worry": True, "hours": 4, "short_sleep": "Lektier"})
