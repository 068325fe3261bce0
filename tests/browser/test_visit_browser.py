"""A home visit without a network: two due forms prepared for a family, answered offline across reloads.

Real chromium on a tablet viewport, the network cut with ``context.set_offline``,
driven by accessible names. The forms live on the tablet only encrypted; a
reload without a network asks for the PIN, and a form handed over stays
handed over. Afterwards the database holds exactly the answers given, each
form submitted once, and the tablet keeps nothing.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from formengine import catalogue
from formengine.db import get_db
from formengine.models import AuditEvent, Family, Municipality, Response
from formengine.registry import get_registry
from tests.browser.conftest import run_axe
from tests.browser.test_fill_browser import login, progress
from tests.browser.test_offline_browser import stored_on_device
from tests.conftest import load_demo_into

pytestmark = pytest.mark.browser

PROGRESS = "Progressionsmåling – forælder"
KIDSCREEN = "KIDSCREEN-10 – barn/ung"

PREPARED_ON_DEVICE = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open('formengine-prepared', 1);
  req.onupgradeneeded = () => { req.result.createObjectStore('vault', {keyPath: 'user'});
                                req.result.createObjectStore('forms', {keyPath: 'response'}); };
  req.onsuccess = () => {
    const t = req.result.transaction(['vault', 'forms']);
    const out = {};
    const text = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v)
      ? Array.from(new Uint8Array(v.buffer || v), b => String.fromCharCode(b)).join('') : v;
    ['vault', 'forms'].forEach(name => {
      const all = t.objectStore(name).getAll();
      all.onsuccess = () => { out[name] = all.result.map(r => {
        const flat = {};
        Object.keys(r).forEach(k => { flat[k] = typeof r[k] === 'object' && r[k] && !ArrayBuffer.isView(r[k])
          && !(r[k] instanceof ArrayBuffer) ? JSON.stringify(Object.fromEntries(Object.entries(r[k])
          .map(([a, b]) => [a, text(b)]))) : text(r[k]); });
        return flat; }); };
    });
    t.oncomplete = () => resolve(out);
  };
  req.onerror = () => reject(req.error);
  req.onblocked = () => reject(new Error('blocked'));
})"""


def prepared_on_device(page):
    return page.evaluate(PREPARED_ON_DEVICE)


@pytest.fixture
def visit_family(live_app):
    """DEMO-A-07 with two forms due: a parent's short progress form and the young person's KIDSCREEN."""
    load_demo_into(live_app, cases=True)
    registry = get_registry(live_app)
    with live_app.app_context(), get_db(live_app).session() as session:
        municipality = session.scalar(select(Municipality).where(Municipality.name == "Demo Kommune A"))
        for instrument_id in catalogue.enabled_ids(session, municipality.id):
            if instrument_id not in ("progress_parent", "kidscreen10_child"):
                catalogue.set_enabled(session, registry, municipality, instrument_id, False)
        session.commit()
        return session.scalar(select(Family.id).where(Family.case_ref == "DEMO-A-07"))


def answer_step(page, pick, given):
    """Tap option number ``pick`` in every question shown on the step; remembers what was given."""
    questions = page.locator("#fill-step fieldset.question:not([hidden])")
    count = questions.count()
    before = progress(page)
    for index in range(count):
        box = questions.nth(index)
        item = box.get_attribute("id")[2:]
        legend = box.locator("legend").first.inner_text().strip()
        radio = page.get_by_role("group", name=legend, exact=True).get_by_role("radio").nth(pick)
        given[item] = int(radio.get_attribute("value"))
        radio.tap()
    if count > 1:
        page.get_by_role("button", name="Næste", exact=True).tap()
    page.wait_for_function("(before) => { const p = document.getElementById('step-progress');"
                           " return !p || p.textContent.trim() !== before; }", arg=before)


def unlock_kept_forms(page, secret="1234"):
    page.get_by_text("De forberedte skemaer er låst").wait_for()
    page.get_by_label("Pinkode eller adgangskode", exact=True).fill(secret)
    page.get_by_role("button", name="Lås op").tap()


def reload_offline(page):
    """Reload without a network once the answers given are on the tablet, as they are a moment after a tap.

    (Reloading in that moment itself, while an answer is being sealed and written, the browser asks
    first, as it does whenever answers wait: see docs/offline.md.)
    """
    page.evaluate("""() => Promise.race([window.FormengineQueue.written(), new Promise((_, fail) =>
        setTimeout(() => fail(new Error('the answers were not written on the tablet in 15 s')), 15000))])""")
    page.once("dialog", lambda dialog: dialog.accept())  # answers wait: the browser asks first
    page.reload()


def form_link(page, title, who):
    return page.get_by_role("link", name=f"Åbn {title} for {who}")


def status_of(page, title, who):
    return page.locator("li").filter(has=form_link(page, title, who)).locator(".visit-status")


@pytest.mark.timeout(300)  # a hang fails in 5 minutes; the test takes under 2 even on a loaded machine
@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_prepared_visit_is_answered_offline_across_reloads_and_hand_over_then_synced_once(tablet, live_app,
                                                                                          visit_family):
    page = tablet
    login(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.goto(f"/families/{visit_family}")
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Forbered besøg").tap()
    page.wait_for_url(re.compile(r"/visit$"))
    form_link(page, KIDSCREEN, "Ung").wait_for()
    page.shots.take(page, "visit-prepared")
    assert run_axe(page) == []
    expect(status_of(page, PROGRESS, "Forælder")).to_have_text("Intet venter på at blive sendt")
    with get_db(live_app).session() as session:
        drafts = select(Response).where(Response.status == "draft", Response.instrument_id.in_(
            ["progress_parent", "kidscreen10_child"]))
        uuids = {r.instrument_id: r.uuid for r in session.scalars(drafts)}
    assert len(uuids) == 2

    # Kept on the tablet only encrypted: in clear the user's number, the forms' ids and the family's number.
    kept = prepared_on_device(page)
    assert len(kept["vault"]) == 1 and len(kept["forms"]) == 2
    everything = repr(kept)
    assert "k10_" not in everything and "pp_" not in everything and "KIDSCREEN" not in everything
    assert "1234" not in everything

    page.context.set_offline(True)
    given_progress: dict[str, int] = {}
    form_link(page, PROGRESS, "Forælder").tap()
    page.wait_for_url(re.compile(uuids["progress_parent"]))
    expect(page.locator("#step-progress")).to_have_text("Spørgsmål 1 af 3")
    answer_step(page, 1, given_progress)
    expect(page.locator("#step-progress")).to_have_text("Spørgsmål 2 af 3")

    # Reloaded without a network: the kept form opens again after the PIN, where it stood.
    reload_offline(page)
    page.shots.take(page, "reloaded-offline-locked")
    unlock_kept_forms(page, "0000")
    page.get_by_role("alert").filter(has_text="Forkert pinkode").wait_for()
    unlock_kept_forms(page)
    expect(page.locator("#step-progress")).to_have_text("Spørgsmål 2 af 3")
    page.shots.take(page, "reloaded-offline-unlocked")
    answer_step(page, 2, given_progress)
    answer_step(page, 0, given_progress)
    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("heading", name="Tak for dine svar").wait_for()

    page.get_by_role("link", name="Tilbage til besøget").tap()
    form_link(page, KIDSCREEN, "Ung").wait_for()
    expect(status_of(page, PROGRESS, "Forælder")).to_have_text("Afsendt; venter på at blive sendt")
    expect(status_of(page, KIDSCREEN, "Ung")).to_have_text("Intet venter på at blive sendt")
    page.shots.take(page, "visit-offline-waiting")
    assert run_axe(page) == []

    # The second form: handed over, then the page is reloaded without a network.
    given_kidscreen: dict[str, int] = {}
    form_link(page, KIDSCREEN, "Ung").tap()
    page.locator("#step-progress").wait_for()
    page.get_by_role("button", name="Giv tabletten videre").tap()
    page.get_by_role("button", name="Giv tabletten tilbage").wait_for()
    assert page.get_by_role("link", name="Tilbage til besøget").count() == 0
    answer_step(page, 3, given_kidscreen)
    reload_offline(page)
    unlock_kept_forms(page)
    # Still handed over: only this form, no menu, no way back to the visit without the PIN.
    page.get_by_role("button", name="Giv tabletten tilbage").wait_for()
    expect(page.locator("#step-progress")).to_have_text("Del 2 af 2")
    assert not page.get_by_role("link", name="Besøget").is_visible()
    assert not page.get_by_role("link", name="Tilbage til besøget").is_visible()
    page.shots.take(page, "handed-over-after-reload")
    answer_step(page, 4, given_kidscreen)
    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("heading", name="Tak for dine svar").wait_for()
    page.get_by_role("button", name="Giv tabletten tilbage").tap()
    page.get_by_label("Pinkode eller adgangskode", exact=True).fill("1234")
    page.get_by_role("button", name="Lås op").tap()
    page.get_by_role("link", name="Tilbage til besøget").tap()
    form_link(page, KIDSCREEN, "Ung").wait_for()
    expect(status_of(page, KIDSCREEN, "Ung")).to_have_text("Afsendt; venter på at blive sendt")
    assert stored(live_app, uuids["kidscreen10_child"]).answers == {}

    # Nothing on the tablet is readable: sealed saves and sealed forms.
    kept = prepared_on_device(page)
    everything = repr(kept) + repr(stored_on_device(page))
    assert "k10_" not in everything and "pp_" not in everything and "csrf" not in everything

    page.context.set_offline(False)
    for _ in range(150):
        if all(stored(live_app, u).status == "submitted" for u in uuids.values()):
            break
        page.wait_for_timeout(100)
    for _ in range(100):
        kept = prepared_on_device(page)
        if not kept["forms"] and not kept["vault"] and not stored_on_device(page):
            break
        page.wait_for_timeout(100)
    assert kept == {"vault": [], "forms": []} and stored_on_device(page) == []
    assert page.evaluate("() => localStorage.length") == 0
    progress_form = stored(live_app, uuids["progress_parent"])
    kidscreen_form = stored(live_app, uuids["kidscreen10_child"])
    assert progress_form.status == kidscreen_form.status == "submitted"
    assert progress_form.answers == given_progress and len(given_progress) == 3
    assert kidscreen_form.answers == given_kidscreen and len(given_kidscreen) == 10
    with get_db(live_app).session() as session:
        for uuid in uuids.values():
            submits = select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "submit", AuditEvent.entity_id == uuid)
            assert session.scalar(submits) == 1


def stored(app, uuid):
    with get_db(app).session() as session:
        return session.scalar(select(Response).where(Response.uuid == uuid))


def wait_for_db(page, check):
    for _ in range(150):
        if check():
            return
        page.wait_for_timeout(100)
    assert check()


@pytest.mark.parametrize("tablet", ["landscape"], indirect=True)
def test_five_wrong_pins_after_a_reload_offline_remove_the_visit_and_logout_leaves_nothing(tablet, live_app,
                                                                                         visit_family):
    page = tablet
    login(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.goto(f"/families/{visit_family}")
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Forbered besøg").tap()
    form_link(page, PROGRESS, "Forælder").wait_for()
    page.context.set_offline(True)
    form_link(page, PROGRESS, "Forælder").tap()
    expect(page.locator("#step-progress")).to_have_text("Spørgsmål 1 af 3")
    given: dict[str, int] = {}
    answer_step(page, 0, given)
    reload_offline(page)
    for left in (4, 3, 2, 1):
        unlock_kept_forms(page, "9999")
        page.get_by_role("alert").filter(has_text=f"{left} forsøg tilbage").wait_for()
    unlock_kept_forms(page, "9999")
    page.get_by_text("For mange forkerte forsøg").wait_for()
    page.shots.take(page, "wiped-after-five-tries")
    assert prepared_on_device(page) == {"vault": [], "forms": []}
    assert len(stored_on_device(page)) == 1  # the answer given is kept (sealed) and sent later
    page.context.set_offline(False)
    page.goto("/due")  # any page of the app sends what waits
    wait_for_db(page, lambda: stored_on_device(page) == [])
    with get_db(live_app).session() as session:
        answered = session.scalar(select(Response).where(Response.instrument_id == "progress_parent",
                                                         Response.status == "draft"))
        assert answered.answers == given

    # Prepared again, then logging out removes it from the tablet.
    page.goto(f"/families/{visit_family}")
    page.get_by_label("Din pinkode eller adgangskode").fill("demo")
    page.get_by_role("button", name="Forbered besøg").tap()
    form_link(page, PROGRESS, "Forælder").wait_for()
    assert len(prepared_on_device(page)["forms"]) == 2
    page.get_by_role("link", name="Målinger, der skal tages").tap()
    page.get_by_role("button", name="Log ud").tap()
    page.wait_for_url(re.compile(r"/login"))
    assert prepared_on_device(page) == {"vault": [], "forms": []}
    assert page.evaluate("() => localStorage.length") == 0


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_single_prepared_form_goes_on_after_a_reload_offline(tablet, live_app):
    from tests.browser.test_fill_browser import response_uuid, start, tap_answer

    page = tablet
    login(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    start(page, "WHO-5 Trivselsindeks")
    uuid = response_uuid(page)
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Gør klar til brug uden net").tap()
    page.get_by_role("status").filter(has_text="Klar").wait_for()
    page.context.set_offline(True)
    tap_answer(page, "Har været i godt humør", "Det meste af tiden")
    reload_offline(page)
    unlock_kept_forms(page)
    expect(page.locator("#step-progress")).to_have_text("Spørgsmål 2 af 5")
    for question in ("Har følt mig rolig og afslappet", "Har følt mig aktiv og fuld af energi",
                     "Er vågnet udhvilet", "Hverdagen har budt på ting, der interesserer mig"):
        tap_answer(page, question, "Lidt af tiden")
    page.get_by_role("button", name="Send svarene").tap()
    page.get_by_role("heading", name="Tak for dine svar").wait_for()
    page.context.set_offline(False)
    wait_for_db(page, lambda: stored(live_app, uuid).status == "submitted")
    assert stored(live_app, uuid).answers == {"who5_1": 4, "who5_2": 1, "who5_3": 1, "who5_4": 1, "who5_5": 1}
    wait_for_db(page, lambda: prepared_on_device(page) == {"vault": [], "forms": []})


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_handed_over_offline_then_reloaded_with_a_network_the_form_stays_locked_here_and_on_the_server(
        tablet, live_app, visit_family):
    page = tablet
    login(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.goto(f"/families/{visit_family}")
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Forbered besøg").tap()
    # With a network the link loads the form's own page, which takes up the kept form.
    form_link(page, KIDSCREEN, "Ung").tap()
    page.wait_for_url(re.compile(r"/fill/"))
    uuid = re.search(r"/fill/([0-9a-f-]{36})", page.url).group(1)
    page.wait_for_function("() => !!window.FormengineOffline && window.FormengineOffline.current() !== null")
    page.context.set_offline(True)
    page.get_by_role("button", name="Giv tabletten videre").tap()  # only the page knows: no network
    page.get_by_role("button", name="Giv tabletten tilbage").wait_for()
    page.context.set_offline(False)
    page.reload()
    page.get_by_role("button", name="Giv tabletten tilbage").wait_for()
    assert not page.get_by_role("navigation").is_visible()
    # The server locked the tablet as well: another page of the app leads back to the form.
    for _ in range(50):
        other = page.context.new_page()
        other.goto("/families")
        moved = other.url.endswith(f"/fill/{uuid}")
        other.close()
        if moved:
            break
        page.wait_for_timeout(100)
    assert moved
    # Reloaded again, it is the server's hand-over page (one way to give the tablet back); its unlock
    # page ends the lock on the server and on the page alike.
    page.reload()
    give_back = page.get_by_role("link", name="Giv tabletten tilbage")
    give_back.wait_for()
    page.wait_for_function("() => !!window.FormengineOffline && window.FormengineOffline.current() !== null")
    assert page.get_by_role("button", name="Giv tabletten tilbage").count() == 0
    give_back.tap()
    page.get_by_label("Pinkode eller adgangskode", exact=True).fill("1234")
    page.get_by_role("button", name="Lås op").tap()
    page.get_by_role("navigation").wait_for()
    page.wait_for_function("() => !!window.FormengineOffline && window.FormengineOffline.current() !== null")
    assert page.get_by_role("button", name="Giv tabletten videre").is_visible()
    assert page.get_by_role("button", name="Giv tabletten tilbage").count() == 0
    page.goto("/families")
    assert page.url.endswith("/families")


@pytest.mark.parametrize("tablet", ["portrait"], indirect=True)
def test_a_form_of_the_visit_submitted_with_a_network_is_no_longer_kept_on_the_tablet(tablet, live_app,
                                                                                     visit_family):
    page = tablet
    login(page)
    page.goto(f"/families/{visit_family}")
    page.get_by_label("Din pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Forbered besøg").tap()
    form_link(page, PROGRESS, "Forælder").tap()
    page.wait_for_url(re.compile(r"/fill/"))
    given: dict[str, int] = {}
    for pick in (0, 1, 2):
        answer_step(page, pick, given)
    page.get_by_role("heading", name="Se svarene igennem").wait_for()
    page.get_by_role("button", name="Send svarene").tap()
    page.wait_for_url(re.compile(r"/responses/"))
    wait_for_db(page, lambda: len(prepared_on_device(page)["forms"]) == 1)
    page.goto("/visit")
    form_link(page, KIDSCREEN, "Ung").wait_for()
    assert form_link(page, PROGRESS, "Forælder").count() == 0
