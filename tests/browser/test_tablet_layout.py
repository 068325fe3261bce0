"""Every page a team member, a family and an administrator use, on two tablet sizes.

Visits each page as every role (and every step of every instrument, the
review, the hand-over screens and the result) at 768×1024 (portrait) and
1024×1366, and fails on anything wider than the viewport and on any
interactive element smaller than 44×44 CSS px (WCAG 2.5.5). axe-core runs on
every page at the narrow size. A full-page screenshot of each page at both
sizes is saved under test-artifacts/browser/layout-<size>/.

One browser, one context per role and size; pages are found by following the
links each role sees, one page per kind (e.g. one family page, not all ten).
"""

from __future__ import annotations

import random
import re
import shutil
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from formengine.db import get_db
from formengine.demo import load_demo, plausible_answers
from formengine.drafts import save_answers
from formengine.models import Response, User
from formengine.registry import get_registry
from formengine.responses import start_draft
from tests.browser.conftest import ARTIFACTS, close_context, run_axe
from tests.browser.test_fill_browser import login

pytestmark = pytest.mark.browser

SIZES = {"768x1024": {"width": 768, "height": 1024}, "1024x1366": {"width": 1024, "height": 1366}}
MIN_TARGET = 44
ROLES = ("team-a", "admin-a", "sysadmin")
# Where each role starts following links; query strings are pages the menus reach through GET forms.
SEEDS = {
    "team-a": ["/due", "/families", "/families?status=closed", "/instruments", "/account/pin"],
    "admin-a": ["/due", "/admin/", "/reports/", "/exports/",
                "/reports/progression?score=who5:percent&from=1&to=2"],
    "sysadmin": ["/due", "/admin/", "/reports/", "/exports/", "/families"],
}
NOT_PAGES = re.compile(r"^/(static|fill|logout)/|\.(csv|xlsx|sav|dta|json|zip|pdf)$|^/fill/")

MEASURE_JS = """(minTarget) => {
  const doc = document.documentElement;
  const width = doc.clientWidth;
  const visible = (el) => {
    const style = getComputedStyle(el);
    return el.getClientRects().length > 0 && style.visibility !== 'hidden' && style.display !== 'none';
  };
  const describe = (el) => {
    const text = (el.getAttribute('aria-label') || el.innerText || el.value || el.name || '')
      .trim().replace(/\\s+/g, ' ').slice(0, 50);
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (text ? ' "' + text + '"' : '');
  };
  const overflow = [];
  if (doc.scrollWidth > width + 1) { overflow.push('the page is ' + doc.scrollWidth + ' px wide'); }
  // The outermost elements that reach past the right edge (their children would only repeat them).
  for (const el of document.body.querySelectorAll('*')) {
    if (!visible(el) || el.closest('.skip-link')) { continue; }
    const rect = el.getBoundingClientRect();
    const parent = el.parentElement;
    if (rect.right > width + 1 && !(parent && parent.getBoundingClientRect().right > width + 1)) {
      overflow.push(describe(el) + ' reaches ' + Math.round(rect.right) + ' px');
    }
  }
  const small = [];
  const interactive = 'a[href], button, input:not([type=hidden]), select, textarea, summary, '
                      + '[role=button], [tabindex]:not([tabindex="-1"])';
  for (const el of document.querySelectorAll(interactive)) {
    if (!visible(el) || el.classList.contains('skip-link') || el.closest('[hidden]')) { continue; }
    // A radio or checkbox is tapped through its label, which is the target a finger meets.
    let target = el;
    if (el.type === 'radio' || el.type === 'checkbox') {
      target = el.closest('label') || (el.id && document.querySelector('label[for="' + el.id + '"]')) || el;
    }
    const rect = target.getBoundingClientRect();
    if (rect.width < minTarget - 0.5 || rect.height < minTarget - 0.5) {
      small.push(describe(el) + ' is ' + Math.round(rect.width) + 'x' + Math.round(rect.height));
    }
  }
  return {overflow, small};
}"""


def _pattern(path: str) -> str:
    """One visit per kind of page: ids, uuids and query values do not make a new kind."""
    parts = urlsplit(path)
    kind = re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27}", "/U", parts.path)
    kind = re.sub(r"/\d+", "/N", kind)
    keys = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair})
    return kind + ("?" + "&".join(keys) if keys else "")


class Checker:
    """Visits pages in one context and collects every problem, so one run reports them all."""

    def __init__(self, page, size: str, label: str):
        self.page = page
        self.size = size
        self.label = label
        self.problems: list[str] = []
        self.log = ARTIFACTS / "layout-problems.txt"
        self.folder = ARTIFACTS / f"layout-{size}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.logged = 0

    def check(self, name: str, axe: bool) -> None:
        self.page.wait_for_load_state()
        found = self.page.evaluate(MEASURE_JS, MIN_TARGET)
        where = f"{self.size} {self.label} {name} ({urlsplit(self.page.url).path})"
        self.problems += [f"{where}: overflow: {text}" for text in found["overflow"]]
        self.problems += [f"{where}: small target: {text}" for text in found["small"]]
        if axe:
            self.problems += [f"{where}: axe {v['id']} ({v['impact']}): {v['nodes']}"
                              for v in run_axe(self.page)]
        with self.log.open("a") as log:  # written as found: a run that stops half-way still says what it saw
            log.writelines(f"{problem}\n" for problem in self.problems[self.logged:])
        self.logged = len(self.problems)
        self.count += 1
        slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"{self.label}-{name}").strip("-")[:100]
        shot = self.folder / f"{self.label}-{self.count:03d}-{slug}.png"
        self.page.screenshot(path=str(shot), full_page=True)

    def visit(self, path: str, name: str | None = None, axe: bool = False) -> None:
        self.page.goto(path)
        self.check(name or path, axe)


def _links(page, origin: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if href.startswith(origin) and not NOT_PAGES.search(parts.path):
            found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return sorted(set(found))


def _crawl(checker: Checker, seeds: list[str], origin: str, axe: bool, limit: int = 60) -> list[str]:
    """Visit the seeds and every new kind of page they link to; returns the paths visited."""
    queue = list(seeds)
    seen: set[str] = set()
    visited: list[str] = []
    while queue and len(visited) < limit:
        path = queue.pop(0)
        if _pattern(path) in seen:
            continue
        seen.add(_pattern(path))
        response = checker.page.goto(path)
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        checker.check(path, axe)
        visited.append(path)
        queue += [link for link in _links(checker.page, origin) if _pattern(link) not in seen]
    return visited


def _drafts(app) -> list[tuple[str, str, list[str]]]:
    """A practice draft of every instrument, answered so that every conditional page shows.

    Returns (instrument id, response uuid, page ids) for each.
    """
    made = []
    with get_db(app).session() as session:
        team = session.scalar(select(User).where(User.username == "team-a"))
        for instrument in get_registry(app).sorted_instruments():
            definition = instrument.definition
            best = plausible_answers(definition, random.Random(0))
            for seed in range(1, 40):  # the answer set that shows the most pages (e.g. SDQ's impact page)
                answers = plausible_answers(definition, random.Random(seed), seed % 4)
                if len(_shown_pages(definition, answers)) > len(_shown_pages(definition, best)):
                    best = answers
            response = start_draft(session, instrument, municipality_id=team.municipality_id,
                                   entered_by=team.id, wording={"kind": "project_labels"})
            session.flush()
            save_answers(session, response, definition, best, response.version)
            made.append((instrument.id, response.uuid, _shown_pages(definition, best)))
        session.commit()
    return made


def _shown_pages(definition, answers) -> list[str]:
    return [p["id"] for p in definition.pages
            if any(definition.is_shown(definition.items_by_id[i], answers) for i in p["items"])]


def _results(app) -> list[tuple[str, str]]:
    """One submitted response of each instrument in Demo Kommune A (the demo answers them)."""
    with get_db(app).session() as session:
        team = session.scalar(select(User).where(User.username == "team-a"))
        rows = session.execute(select(Response.instrument_id, Response.uuid).where(
            Response.status == "submitted", Response.municipality_id == team.municipality_id)
            .order_by(Response.instrument_id, Response.id)).all()
    first: dict[str, str] = {}
    for instrument_id, uuid in rows:
        first.setdefault(instrument_id, uuid)
    return sorted(first.items())


def _hand_over_and_submit(checker: Checker, uuid: str, axe: bool) -> None:
    """The family's screens: a handed-over step, the review, the thanks, and the unlock page."""
    page = checker.page
    page.goto(f"/fill/{uuid}")
    page.get_by_role("button", name="Giv tabletten videre").tap()
    page.get_by_role("link", name="Giv tabletten tilbage").wait_for()
    checker.check("handed-over step", axe)
    page.goto(f"/fill/{uuid}/review")
    checker.check("handed-over review", axe)
    page.get_by_role("link", name="Giv tabletten tilbage").tap()
    page.get_by_label("Pinkode eller adgangskode").wait_for()
    checker.check("unlock", axe)
    with page.expect_navigation():  # every question is answered, so this is the review
        page.get_by_role("link", name="Tilbage til spørgsmålene").tap()
    page.get_by_role("button", name="Send svarene").tap()
    page.wait_for_url(re.compile(r"/done$"))
    checker.check("thanks", axe)
    page.get_by_role("link", name="Giv tabletten tilbage").tap()
    page.get_by_label("Pinkode eller adgangskode").fill("0000")
    with page.expect_navigation():
        page.get_by_role("button", name="Lås op").tap()
    checker.check("unlock wrong pin", axe)
    page.get_by_label("Pinkode eller adgangskode").fill("1234")
    page.get_by_role("button", name="Lås op").tap()
    page.wait_for_url(re.compile(r"/responses/"))
    checker.check("result after unlock", axe)


def test_every_page_fits_a_tablet_and_every_target_is_thumb_sized(browser, live_app, live_server):
    with get_db(live_app).session() as session:
        load_demo(session, get_registry(live_app), cases=True)
        session.commit()
    (ARTIFACTS / "layout-problems.txt").unlink(missing_ok=True)
    for size in SIZES:
        shutil.rmtree(ARTIFACTS / f"layout-{size}", ignore_errors=True)
    drafts = _drafts(live_app)
    results = _results(live_app)
    problems: list[str] = []
    visited: dict[str, list[str]] = {}
    states: dict[str, dict] = {}
    for size, viewport in SIZES.items():
        axe = size == "768x1024"  # axe's findings do not depend on the width; once is enough

        def context(state=None, viewport=viewport):
            made = browser.new_context(viewport=viewport, has_touch=True, locale="da-DK", bypass_csp=True,
                                       base_url=live_server.url, storage_state=state)
            made.set_default_timeout(15000)
            return made

        anonymous = context()
        checker = Checker(anonymous.new_page(), size, "anonymous")
        checker.visit("/login", "login", axe)
        checker.page.get_by_label("Brugernavn").fill("team-a")
        checker.page.get_by_label("Adgangskode").fill("wrong")
        with checker.page.expect_navigation():
            checker.page.get_by_role("button", name="Log ind").tap()
        checker.check("login refused", axe)
        problems += checker.problems
        anonymous.close()

        for role in ROLES:
            ctx = context(states.get(role))
            checker = Checker(ctx.new_page(), size, role)
            if role not in states:
                login(checker.page, role)
                states[role] = ctx.storage_state()
            # The crawl at the first size fixes the list of pages; the second size visits the same ones.
            if role in visited:
                for path in visited[role]:
                    checker.visit(path, axe=axe)
            else:
                visited[role] = _crawl(checker, SEEDS[role], live_server.url, axe)
            checker.visit("/families/999999", "not found", axe)
            if role == "team-a":
                for instrument_id, uuid, pages in drafts:
                    for number, page_id in enumerate(pages):
                        # Every step shares one template: axe on the first, the layout checks on all.
                        checker.visit(f"/fill/{uuid}?page={page_id}", f"{instrument_id}-{page_id}",
                                      axe and number == 0)
                    checker.visit(f"/fill/{uuid}/review", f"{instrument_id}-review", axe)
                    checker.visit(f"/instruments/{instrument_id}", f"{instrument_id}-whole-form", axe)
                for instrument_id, uuid in results:
                    checker.visit(f"/responses/{uuid}", f"{instrument_id}-result", axe)
            problems += checker.problems
            ctx.close()

        ctx = context(states["team-a"])
        checker = Checker(ctx.new_page(), size, "family")
        who5 = next(uuid for instrument_id, uuid, _ in drafts if instrument_id == "who5")
        with get_db(live_app).session() as session:  # a fresh draft per size: this one is submitted
            instrument = get_registry(live_app).get("who5")
            team = session.scalar(select(User).where(User.username == "team-a"))
            response = start_draft(session, instrument, municipality_id=team.municipality_id,
                                   entered_by=team.id, wording={"kind": "project_labels"})
            session.flush()
            original = session.scalar(select(Response).where(Response.uuid == who5))
            save_answers(session, response, instrument.definition, original.answers, response.version)
            session.commit()
            uuid = response.uuid
        _hand_over_and_submit(checker, uuid, axe)
        problems += checker.problems
        ctx.close()

    for role, paths in visited.items():
        assert len(paths) >= 5, (role, paths)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


SDQ_PARENT = "SDQ – forælderversion (4-17 år)"


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_after_an_answer_the_next_question_of_a_long_step_comes_into_view(browser, live_server, motion):
    """An SDQ step holds five questions, over two screens at 768×1024: each answer brings the next."""
    context = browser.new_context(viewport=SIZES["768x1024"], has_touch=True, locale="da-DK",
                                  reduced_motion=motion, base_url=live_server.url)
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        login(page)
        page.goto("/instruments")
        card = page.locator("li.card").filter(has=page.get_by_role("heading", name=SDQ_PARENT, exact=True))
        card.get_by_role("button", name="Start en øvelsesudfyldning").tap()
        page.wait_for_url(re.compile(r"/fill/[0-9a-f-]{36}"))
        questions = page.locator("#step-form > fieldset.question:not([hidden])")
        legends = [legend.strip() for legend in questions.locator(":scope > legend").all_inner_texts()]
        assert len(legends) >= 4
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height > 1.5 * 1024  # the step really is longer than the screen
        in_view = """(name) => {
            const fs = [...document.querySelectorAll('#step-form > fieldset.question')]
                .find(f => f.querySelector(':scope > legend').textContent.trim() === name);
            const r = fs.getBoundingClientRect();
            return r.top >= 0 && r.top < window.innerHeight - 150;
        }"""
        for question, following in zip(legends, legends[1:], strict=False):
            group = page.get_by_role("group", name=question, exact=True)
            group.scroll_into_view_if_needed()
            with page.expect_response(lambda r: r.url.endswith("/save")):
                group.get_by_role("radio").first.tap()
            # The next question's start is on screen with room for its first answers below it.
            page.wait_for_function(in_view, arg=following, timeout=5000)
        page.screenshot(path=str(ARTIFACTS / f"long-step-{motion}.png"))
    finally:
        close_context(context)
