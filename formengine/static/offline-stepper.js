/* formengine: finishing a prepared form without a network.
 *
 * The team member prepares the open form ("Gør klar til brug uden net") with
 * their PIN or password. The server replies with every step of the form, its
 * display conditions and a salted verifier of the secret; this page keeps the
 * reply in memory only. While the tablet has no network, the stepper runs
 * here: next, back, decline, the review, hand-over and unlocking with the
 * PIN (checked against the verifier with PBKDF2), and submitting, which is
 * queued as an intent. Every answer still goes through the answer queue
 * (answer-queue.js), so it is sent, in order and once, when the network is back.
 * The rules mirror formengine/stepper.py and instruments/conditions.py.
 */
(function () {
  "use strict";

  var MAX_TRIES = 5;
  var bundle = null;        // the prepared form (in memory only)
  var state = null;         // {answers, declined}: the server's state plus every answer given here
  var current = null;       // the step shown (page id), or null on the review screen
  var locked = false;       // handed over while offline
  var tries = 0;

  function $(id) { return document.getElementById(id); }
  function stepForm() { return document.querySelector("#fill-step form.step-form"); }
  function responseId() {
    var m = /\/fill\/([0-9a-f-]{36})/.exec(location.pathname);
    return m ? m[1] : null;
  }

  // -- conditions and steps (as formengine/instruments/conditions.py and stepper.py) ---------
  function present(answers, id) { return answers[id] !== undefined && answers[id] !== null; }

  function holds(cond, answers) {
    if (cond.all) { return cond.all.every(function (c) { return holds(c, answers); }); }
    if (cond.any) { return cond.any.some(function (c) { return holds(c, answers); }); }
    if (cond.not) { return !holds(cond.not, answers); }
    var has = present(answers, cond.item);
    if (cond.op === "answered") { return has; }
    if (cond.op === "not_answered") { return !has; }
    if (!has) { return false; }
    var v = answers[cond.item];
    if (cond.op === "eq") { return JSON.stringify(v) === JSON.stringify(cond.value); }
    if (cond.op === "ne") { return JSON.stringify(v) !== JSON.stringify(cond.value); }
    if (cond.op === "in") { return cond.value.some(function (x) { return JSON.stringify(x) === JSON.stringify(v); }); }
    if (typeof v !== "number") { return false; }
    return { gt: v > cond.value, gte: v >= cond.value, lt: v < cond.value, lte: v <= cond.value }[cond.op];
  }

  function shown(id, answers) {
    var cond = bundle.items[id].show_if;
    return !cond || holds(cond, answers);
  }
  function hasAnswer(id) {
    var v = state.answers[id];
    return (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) || state.declined.indexOf(id) >= 0;
  }
  function visiblePages() {
    return bundle.pages.filter(function (p) { return p.items.some(function (i) { return shown(i, state.answers); }); });
  }
  function shownOn(page) { return page.items.filter(function (i) { return shown(i, state.answers); }); }
  function resumeStep() {
    var open = visiblePages().filter(function (p) { return shownOn(p).some(function (i) { return !hasAnswer(i); }); });
    return open.length ? open[0].id : null;
  }

  function nextStep(pageId, go, shownBefore, declinedItem) {
    var pages = visiblePages();
    var ids = pages.map(function (p) { return p.id; });
    var index = ids.indexOf(pageId);
    if (index < 0) { return resumeStep(); }
    if (go === "stay") { return pageId; }
    var after = shownOn(pages[index]);
    var appeared = after.filter(function (i) { return shownBefore.indexOf(i) < 0 && !hasAnswer(i); });
    if (go === "next" && appeared.length) { return pageId; }
    if (declinedItem && after.some(function (i) { return !hasAnswer(i); })) { return pageId; }
    if (go === "back") { return index > 0 ? ids[index - 1] : pageId; }
    if (go === "review") { return null; }
    return index + 1 < ids.length ? ids[index + 1] : null;
  }

  // -- answers from the step's fields (as the answer codec reads a form) ------------------------
  function typed(id, raw) {
    var kind = bundle.items[id].type;
    if (raw === "") { return null; }
    if (kind === "choice" || kind === "boolean") { return JSON.parse(raw); }
    if (kind === "number") { return Number(String(raw).replace(",", ".")); }
    return raw;
  }

  /* Apply the fields of one save to the state; returns what the navigation needs. */
  function record(fields) {
    var get = function (name) {
      var pair = fields.filter(function (p) { return p[0] === name; })[0];
      return pair ? pair[1] : undefined;
    };
    var page = bundle.pages.filter(function (p) { return p.id === get("page"); })[0];
    if (!page) { return null; }
    var before = shownOn(page);
    page.items.forEach(function (id) {
      var raw = get(id);
      if (raw === undefined || bundle.items[id].type === "group") { return; }
      var value = typed(id, raw);
      if (value === null) { delete state.answers[id]; } else { state.answers[id] = value; }
      if (value !== null) { state.declined = state.declined.filter(function (d) { return d !== id; }); }
    });
    var decline = get("decline");
    if (decline) {
      delete state.answers[decline];
      state.declined = state.declined.filter(function (d) { return d !== decline; }).concat([decline]);
    }
    return { page: page.id, go: get("go") || "next", before: before, decline: decline };
  }

  // -- showing a step or the review ------------------------------------------------------------
  function replaceStep(node) {
    var root = $("fill-step");
    if (root) { root.replaceWith(node); }
  }

  function showPage(pageId) {
    current = pageId;
    var page = bundle.pages.filter(function (p) { return p.id === pageId; })[0];
    var fresh = new DOMParser().parseFromString(page.html, "text/html").getElementById("fill-step");
    var node = document.importNode(fresh, true);
    var version = $("fill-version");
    if (version) { lastVersion = version.value; }
    replaceStep(node);
    if (lastVersion && $("fill-version")) { $("fill-version").value = lastVersion; }
    page.items.forEach(function (id) {
      var box = $("q-" + id);
      if (!box) { return; }
      var visible = shown(id, state.answers);
      box.hidden = !visible;
      box.querySelectorAll("input, textarea, button").forEach(function (el) {
        el.disabled = !visible;
        if (el.type === "radio") { el.checked = present(state.answers, id) && el.value === JSON.stringify(state.answers[id]); }
        else if (el.tagName === "TEXTAREA" || (el.type !== "hidden" && el.tagName === "INPUT")) {
          el.value = present(state.answers, id) ? String(state.answers[id]) : "";
        }
      });
    });
    showProgress(pageId);
    history.replaceState(null, "", location.pathname + "?page=" + encodeURIComponent(pageId));
    var legend = node.querySelector("fieldset.question:not([hidden]) legend");
    if (legend) { legend.focus(); }
  }

  function showProgress(pageId) {
    var pages = visiblePages().map(function (p) { return p.id; });
    var progress = $("step-progress");
    if (progress) {
      progress.textContent = progress.textContent.replace(/\d+(\D+)\d+/, (pages.indexOf(pageId) + 1) + "$1" + pages.length);
      var bar = document.querySelector("#fill-step progress");
      if (bar) { bar.max = pages.length; bar.value = pages.indexOf(pageId) + 1; }
    }
  }

  /* After an answer on the step: questions that a display condition now shows appear, others go. */
  function refreshShown(pageId) {
    var page = bundle.pages.filter(function (p) { return p.id === pageId; })[0];
    page.items.forEach(function (id) {
      var box = $("q-" + id);
      if (!box) { return; }
      var visible = shown(id, state.answers);
      if (box.hidden === !visible) { return; }
      box.hidden = !visible;
      box.querySelectorAll("input, textarea, button").forEach(function (input) { input.disabled = !visible; });
    });
    showProgress(pageId);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function showReview() {
    current = null;
    var words = bundle.words;
    var section = el("section", { id: "fill-step", "class": "stepper review", lang: bundle.lang, "aria-labelledby": "step-title" });
    section.appendChild(el("h1", { id: "step-title", "class": "step-title", tabindex: "-1" }, words.review));
    var open = [];
    visiblePages().forEach(function (p) { shownOn(p).forEach(function (i) { if (!hasAnswer(i)) { open.push([p.id, i]); } }); });
    if (open.length) {
      var box = el("div", { "class": "notice", role: "status" });
      box.appendChild(el("p", {}, words.missing.replace(/\d+/, String(open.length))));
      var list = el("ul", { "class": "missing-list" });
      open.forEach(function (pair) {
        var li = el("li");
        var go = el("button", { type: "button", "class": "link-button", "data-page": pair[0] }, bundle.items[pair[1]].label);
        li.appendChild(go);
        list.appendChild(li);
      });
      box.appendChild(list);
      section.appendChild(box);
    } else {
      section.appendChild(el("p", { "class": "ok-note", role: "status" }, words.all_answered));
    }
    var form = el("form", { method: "post", "class": "submit-form offline-submit" });
    form.appendChild(el("button", { type: "submit", "class": "button" }, words.submit));
    section.appendChild(form);
    replaceStep(section);
    section.querySelector("h1").focus();
  }

  function showThanks() {
    var words = bundle.words;
    var section = el("section", { id: "fill-step", "class": "stepper", lang: bundle.lang });
    section.appendChild(el("h1", { tabindex: "-1" }, words.thanks));
    section.appendChild(el("p", {}, words.queued));
    replaceStep(section);
    section.querySelector("h1").focus();
  }

  // -- hand-over and unlocking with the PIN -------------------------------------------------------
  function lock() {
    locked = true;
    document.body.classList.add("offline-locked");
    var header = document.querySelector(".site-header");
    if (header && !$("offline-give-back")) {
      var back = el("button", { type: "button", id: "offline-give-back", "class": "link-button", lang: document.documentElement.lang },
                    bundle.words.give_back);
      header.appendChild(back);
    }
  }

  function showUnlock(message) {
    var words = bundle.words;
    var section = el("section", { id: "fill-step", "class": "narrow panel" });
    section.appendChild(el("h1", { tabindex: "-1" }, words.unlock_title));
    if (message) { section.appendChild(el("p", { "class": "error-message", role: "alert" }, message)); }
    var form = el("form", { "class": "offline-unlock" });
    var field = el("p", { "class": "field" });
    field.appendChild(el("label", { "for": "offline-secret" }, words.secret));
    field.appendChild(el("input", { type: "password", id: "offline-secret", autocomplete: "current-password", required: "" }));
    form.appendChild(field);
    form.appendChild(el("button", { type: "submit", "class": "button" }, words.unlock));
    section.appendChild(form);
    replaceStep(section);
    (message ? section.querySelector("input") : section.querySelector("h1")).focus();
  }

  function b64(text) { return Uint8Array.from(atob(text), function (c) { return c.charCodeAt(0); }); }

  function verify(secret) {
    var v = bundle.verifier;
    return crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "PBKDF2", false, ["deriveBits"])
      .then(function (key) {
        return crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: b64(v.salt), iterations: v.iterations }, key, 256);
      })
      .then(function (bits) {
        var got = new Uint8Array(bits);
        var want = b64(v.hash);
        var same = got.length === want.length;
        for (var i = 0; i < got.length; i++) { same = same && got[i] === want[i]; }
        return same;
      });
  }

  /* A form post to the server in the background (hand-over, unlock); the page stays. */
  function tell(url, data) {
    return fetch(url, { method: "POST", body: new URLSearchParams(data), credentials: "same-origin",
                        redirect: "manual" }).catch(function () { return null; });
  }

  function unlock(secret) {
    if (!bundle.verifier) { showUnlock(bundle.words.locked); return; }
    verify(secret).then(function (ok) {
      if (ok && navigator.onLine) {
        // The server's hand-over lock ends with the same secret (without a network it stays until the
        // team member unlocks there too).
        var data = new FormData();
        data.append("csrf_token", (document.querySelector('meta[name="csrf-token"]') || {}).content || "");
        data.append("secret", secret);
        // After the waiting answers (unlocking may switch the form back to the team member's
        // language, a change of its own), then the step is shown as the server has it.
        var queue = window.FormengineQueue;
        var url = "/fill/" + bundle.response + "/unlock";
        queue.drained().then(function () { return tell(url, data); })
          .then(function () { queue.reload(); });
      }
      if (ok) {
        tries = 0;
        locked = false;
        document.body.classList.remove("offline-locked");
        var back = $("offline-give-back");
        if (back) { back.remove(); }
        if (submitted) { forget(); window.FormengineQueue.reload(); return; }  // show the result
        if (intended) { showThanks(); } else if (current) { showPage(current); } else { showReview(); }
        return;
      }
      tries += 1;
      if (tries >= MAX_TRIES) {
        bundle.verifier = null;  // no more guesses here: the team member logs in again online
        showUnlock(bundle.words.locked);
        return;
      }
      showUnlock(bundle.words.wrong.replace(/\d+/, String(MAX_TRIES - tries)));
    });
  }

  // -- taking over when the network is away -----------------------------------------------------------
  function offline() { return bundle !== null && bundle.response === responseId() && navigator.onLine === false; }

  /* Called by fill.js for every save given: true when this page shows the next step itself. */
  function handle(fields) {
    if (!bundle || bundle.response !== responseId()) { return false; }
    var nav = record(fields);
    if (!offline() || !nav) { return false; }
    if (nav.go === "stay") { refreshShown(nav.page); return true; }
    if (/^(add|remove):/.test(nav.go)) { return false; }  // entries of a group need the server
    var target = nextStep(nav.page, nav.go, nav.before, nav.decline);
    if (target === null) { showReview(); } else { showPage(target); }
    return true;
  }

  var lastVersion = null;  // the draft's version the last step shown was based on
  var intended = false;    // the submit is queued
  function submitIntent() {
    intended = true;
    var version = $("fill-version");
    if (version) { lastVersion = version.value; }
    // The queue sends it after the answers, based on the version their saves reached.
    window.FormengineStepper.giveLocal("/fill/" + bundle.response + "/submit", bundle.response,
                                       [["csrf_token", ""], ["version", lastVersion || String(bundle.version)]]);
    showThanks();
  }

  // Registered on window (capture), so these run before the queue's own wait for the network.
  window.addEventListener("submit", function (evt) {
    var form = evt.target;
    var action = form.getAttribute("action") || "";
    if (form.classList.contains("offline-unlock")) {
      evt.preventDefault();
      unlock(form.querySelector("input").value);
      return;
    }
    if (/\/handover$/.test(action) && bundle && bundle.response === responseId()) {
      // A prepared form is handed over in place, so the page keeps it: locked here at once, and on
      // the server too while there is a network (a reload then shows the server's locked page).
      evt.preventDefault(); evt.stopImmediatePropagation();
      if (navigator.onLine) { tell(action, new FormData(form)); }
      lock();
      return;
    }
    if (!offline() && !form.classList.contains("offline-submit")) { return; }
    if (form.classList.contains("offline-submit") || /\/submit$/.test(action)) {
      evt.preventDefault(); evt.stopImmediatePropagation();
      submitIntent();
    } else if (!form.classList.contains("step-form") && (locked || form.classList.contains("answer-language"))) {
      evt.preventDefault(); evt.stopImmediatePropagation();  // not available without a network
    }
  }, true);

  window.addEventListener("click", function (evt) {
    var target = evt.target.closest ? evt.target : evt.target.parentNode;
    if (target.closest("#offline-give-back")) { evt.preventDefault(); showUnlock(); return; }
    // Handed over while online, then the network went: the header's unlock link is answered here.
    if (target.closest("a[href$='/unlock']") && offline()) {
      evt.preventDefault(); evt.stopImmediatePropagation();
      showUnlock();
      return;
    }
    var jump = target.closest("button[data-page]");
    if (jump && bundle) { showPage(jump.getAttribute("data-page")); return; }
    if (locked && target.closest("a[href]")) { evt.preventDefault(); evt.stopImmediatePropagation(); }
  }, true);

  // -- preparing ------------------------------------------------------------------------------------
  function prepare(form) {
    var status = form.querySelector(".prepare-status");
    var body = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-url"), { method: "POST", body: body, credentials: "same-origin",
                                           headers: { Accept: "application/json" } })
      .then(function (reply) { return reply.json().then(function (json) { return { ok: reply.ok, json: json }; }); })
      .then(function (result) {
        form.querySelector("input[type=password]").value = "";
        if (!result.ok) { status.textContent = result.json.error || ""; status.className = "prepare-status error-message"; return; }
        bundle = result.json;
        state = { answers: bundle.answers, declined: bundle.declined };
        status.textContent = form.getAttribute("data-ready");
        status.className = "prepare-status ok-note";
      }, function () { status.textContent = form.getAttribute("data-failed"); status.className = "prepare-status error-message"; });
  }

  window.addEventListener("submit", function (evt) {
    if (!evt.target.classList.contains("prepare-offline")) { return; }
    evt.preventDefault();
    evt.stopImmediatePropagation();
    prepare(evt.target);
  }, true);

  var prepareForm = document.querySelector("form.prepare-offline");
  if (prepareForm && window.FormengineQueue && window.crypto && crypto.subtle) { prepareForm.hidden = false; }

  // Once the submit has reached the server, the prepared form is forgotten (after unlocking, if locked).
  var submitted = false;
  function forget() { bundle = null; state = null; }
  if (window.FormengineQueue) {
    window.FormengineQueue.on(function (event, entry) {
      if (event === "ack" && entry && bundle && entry.response === bundle.response && /\/submit$/.test(entry.url)) {
        submitted = true;
        if (!locked) { forget(); }
      }
    });
  }

  window.FormengineOffline = { handle: handle, active: offline };
  if (stepForm()) { current = stepForm().querySelector("input[name=page]").value; }
})();
