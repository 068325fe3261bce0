/* formengine stepper: small progressive enhancement of plain form posts.
 *
 * - one tap on an answer saves it and moves on (single-question steps);
 *   on steps with several questions every answer is saved as it is given;
 * - every save goes through the device's answer queue (answer-queue.js):
 *   written on the tablet first, then sent in order until acknowledged, so
 *   a dropped network, a reload or a closed tab loses nothing; the answer
 *   stays on screen with a plain status message meanwhile;
 * - a refused stale write (409) shows the conflict banner with a reload link;
 * - after the session's inactivity timeout the page reloads (to the login).
 * Everything works without this file as plain form posts.
 */
(function () {
  "use strict";

  var MESSAGES = {
    da: {
      saving: "Gemmer …",
      saved: "Gemt.",
      retry: "Ikke gemt endnu – ingen forbindelse. Svaret er gemt på tabletten og sendes, så snart der er forbindelse.",
      refused: "Ikke gemt: ",
      kept: "Gemt på tabletten – sendes, når der er forbindelse.",
      appeared: "Et nyt spørgsmål er kommet frem.",
      outdated: "siden er forældet. Genindlæs siden.",
      ended: "Sessionen er udløbet. Siden genindlæses."
    },
    en: {
      saving: "Saving …",
      saved: "Saved.",
      retry: "Not saved yet – no connection. The answer is kept on the tablet and sent as soon as there is a connection.",
      refused: "Not saved: ",
      kept: "Kept on the tablet – sent when there is a connection.",
      appeared: "A new question has appeared.",
      outdated: "the page is out of date. Reload the page.",
      ended: "The session has ended. Reloading the page."
    }
  };
  var lastRequestAt = Date.now();
  var queue = window.FormengineQueue;
  var mine = {};          // keys of the saves given on this page (their replies update the screen)
  var latest = null;      // the key of the newest of them: only its reply may change the step shown
  var earlier = false;    // saves of this form given before this page was loaded were sent meanwhile
  var waiting = {};       // keys of saves given here whose reply this page has not seen yet

  function stepRoot() { return document.getElementById("fill-step"); }

  function text(key) {
    var root = stepRoot();
    var lang = (root && root.getAttribute("lang")) || document.documentElement.lang || "da";
    return (MESSAGES[lang] || MESSAGES.da)[key];
  }

  function setStatus(message, kind) {
    var status = document.getElementById("save-status");
    if (!status) { return; }
    status.textContent = message;
    status.className = "save-status" + (kind ? " " + kind : "");
  }

  function stepForm(elt) {
    return elt && elt.closest ? elt.closest("form.step-form") : null;
  }

  function responseOf(form) {
    var match = /\/fill\/([0-9a-f-]{36})\//.exec(form.getAttribute("action") || "");
    return match ? match[1] : null;
  }

  /* Every save goes through the device's queue: written there first, then sent in order. */
  function give(form, fields) {
    var version = document.getElementById("fill-version");
    var url = form.getAttribute("action");
    fields = fields.map(function (pair) {
      return pair[0] === "version" && version ? ["version", version.value] : pair;
    });
    setStatus(text("saving"), "pending");
    // Without a network, a prepared form moves on here (offline-stepper.js); the reply then only
    // confirms the save and never changes the step shown.
    var offline = window.FormengineOffline;
    var key = queue.newKey();  // the prepared form's state records the last save it reflects
    var handled = offline ? offline.handle(fields, key) : false;
    if (handled && handled.refused) {
      // Without a network: the server would refuse this save, so it is not queued (as a 422 online).
      setStatus(text("refused") + handled.refused, "error");
      return Promise.resolve();
    }
    var local = !!handled;
    if (local && handled.stay) {
      // A prepared form without a network: kept on the tablet, and (as online) a question that appeared is said.
      setStatus(text("kept") + (handled.appeared ? " " + text("appeared") : ""), "ok");
    }
    return queue.enqueue(url, responseOf(form), fields, key).then(function (entry) {
      mine[entry.key] = local ? "local" : "page";
      if (!local) { waiting[entry.key] = true; }
      latest = entry.key;
    });
  }

  /* For offline-stepper.js: queue a request of this form (the submit intent) as given here. */
  window.FormengineStepper = {
    giveLocal: function (url, response, fields, key) {
      return queue.enqueue(url, response, fields, key).then(function (entry) {
        mine[entry.key] = "local";
        latest = entry.key;  // a reply to an earlier save no longer changes what the page shows
      });
    }
  };

  function fieldsOf(form, submitter) {
    var pairs = [];
    new FormData(form, submitter || undefined).forEach(function (value, key) { pairs.push([key, String(value)]); });
    return pairs;
  }

  // The step form is never posted by the browser while this file runs: each press of a button
  // (next, back, see all answers, decline, add or remove an entry) becomes a queued save.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.classList || !form.classList.contains("step-form") || !queue) { return; }
    evt.preventDefault();
    evt.stopPropagation();
    give(form, fieldsOf(form, evt.submitter));
  }, true);

  document.addEventListener("change", function (evt) {
    var form = stepForm(evt.target);
    if (!form || !queue) { return; }
    var input = evt.target;
    if (input.type === "radio") { answeredQuestion = questionOf(input); }
    if (input.type === "radio" && form.getAttribute("data-autoadvance") === "1") {
      var next = form.querySelector(".step-nav button[value='next']");
      if (next) { form.requestSubmit(next); return; }
    }
    // Save the whole step without leaving it; the reply brings the new version (out of band).
    give(form, fieldsOf(form).concat([["go", "stay"]]));
  });

  // -- replies -------------------------------------------------------------------
  // Parts of a reply marked hx-swap-oob replace the element with their id (or its content).
  function applyOutOfBand(html) {
    var doc = new DOMParser().parseFromString("<body>" + html + "</body>", "text/html");
    doc.querySelectorAll("[hx-swap-oob]").forEach(function (part) {
      var target = part.id && document.getElementById(part.id);
      if (!target) { return; }
      var how = part.getAttribute("hx-swap-oob");
      part.removeAttribute("hx-swap-oob");
      if (how === "innerHTML") { target.innerHTML = part.innerHTML; } else { target.replaceWith(document.importNode(part, true)); }
    });
  }

  function showStep(html, pushUrl) {
    var root = stepRoot();
    var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("fill-step");
    if (!root || !fresh) { return false; }
    root.replaceWith(document.importNode(fresh, true));
    if (pushUrl) { history.pushState({ step: true }, "", pushUrl); }
    focusStep();
    return true;
  }

  function onQueue(event, entry, result) {
    var root = stepRoot();
    var form = root && root.querySelector("form.step-form");
    var here = form && entry && entry.response === responseOf(form);
    if (event === "sending") { lastRequestAt = Date.now(); return; }
    if (event === "offline" && here) {
      if (mine[entry.key] !== "local") { setStatus(text("retry"), "error"); }  // a prepared form said so already
      return;
    }
    if (event === "stop") { setStatus(text("ended"), "error"); queue.reload(); return; }
    if (!here) { return; }
    var reply = result.reply;
    var version = reply.headers.get("X-Draft-Version");
    if (!mine[entry.key]) { earlier = earlier || event === "ack"; }
    if (event === "ack") {
      var field = document.getElementById("fill-version");
      if (field && version && Number(version) > Number(field.value)) { field.value = version; }
      var redirect = reply.headers.get("HX-Redirect");
      if (!mine[entry.key] || mine[entry.key] === "local") { return; }
      if (redirect) { if (entry.key === latest) { queue.navigate(redirect); } return; }
      if (reply.headers.get("HX-Refresh")) { queue.reload(); return; }
      var stay = entry.fields.some(function (p) { return p[0] === "go" && p[1] === "stay"; });
      if (stay) {
        applyOutOfBand(result.html);
        // The reply's own status line (e.g. "a new question has appeared") is kept.
        var said = document.getElementById("save-status");
        if (said && /id="save-status"/.test(result.html || "")) { said.className = "save-status ok"; } else { setStatus(text("saved"), "ok"); }
        bringNextIntoView();
      } else if (entry.key === latest) {
        showStep(result.html, reply.headers.get("HX-Push-Url"));
      }
      return;
    }
    if (event === "conflict") {
      // Stale write: never overwrite; show the stored answers again and the banner that offers to reload.
      showStoredAnswers(result.html);
      var banner = document.getElementById("conflict-banner");
      if (banner) {
        banner.hidden = false;
        banner.setAttribute("tabindex", "-1");
        banner.focus();
      }
      setStatus("", "");
      return;
    }
    if (event === "refused" && mine[entry.key]) {
      if (reply.status === 422 && showStep(result.html)) { return; }
      // A short plain-text reason from the stepper, else a generic one (never a whole error page).
      var reason = result.html || "";
      if (!reason || reason.charAt(0) === "<" || reason.length > 200) { reason = text("outdated"); }
      setStatus(text("refused") + reason, "error");
    }
  }

  if (queue) {
    queue.on(onQueue);
    // Saves given before this page was loaded (a reload, a closed tab) have now been sent:
    // show the step again as stored, with them.
    queue.on(function (event, entry, count) {
      if (entry && entry.key && /^(ack|conflict|refused)$/.test(event)) { delete waiting[entry.key]; }
      if (event === "count" && count === 0 && (earlier || Object.keys(waiting).length)) {
        // Never under the fingers of someone typing (what is typed is saved when the field is left):
        // that save's reply comes back here, and the step is shown as stored then.
        if (typing()) { return; }
        // Sent by another open page of the app (or before this one loaded): show the step as stored.
        earlier = false;
        queue.reload();
      }
    });
  }

  // A field of the step that takes typing has the focus (what is typed there is not saved yet).
  function typing() {
    var field = document.activeElement;
    if (!field || !stepForm(field)) { return false; }
    if (field.tagName === "TEXTAREA") { return true; }
    return field.tagName === "INPUT" && !/^(radio|checkbox|button|submit|reset|hidden)$/.test(field.type);
  }

  // The address changes with each step; going back in history loads that step afresh.
  window.addEventListener("popstate", function () { if (queue) { queue.reload(); } else { location.reload(); } });

  function focusStep() {
    // A new step: move focus to its question so screen readers and keyboards start there.
    var root = stepRoot();
    var wanted = root && root.getAttribute("data-focus");
    var focusTarget = root && ((wanted && document.getElementById(wanted)) ||
                               root.querySelector(".error-message[role=alert]:not([hidden])") ||
                               root.querySelector("legend[tabindex]") || root.querySelector("h1"));
    if (focusTarget) {
      if (!focusTarget.hasAttribute("tabindex")) { focusTarget.setAttribute("tabindex", "-1"); }
      focusTarget.focus({ preventScroll: false });
    }
  }

  // -- long steps -------------------------------------------------------------
  // After a tapped answer has been saved, the next unanswered question of the same step (or the
  // buttons, once all are answered) is brought into view; instantly when the user asks for
  // reduced motion. Nothing moves when it is already fully on screen.
  var answeredQuestion = null;

  function questionOf(input) {
    var form = stepForm(input);
    var questions = form ? form.querySelectorAll(":scope > fieldset.question") : [];
    for (var i = 0; i < questions.length; i++) {
      if (questions[i].contains(input)) { return questions[i].id; }
    }
    return null;
  }

  function isUnanswered(fieldset) {
    if (fieldset.querySelector("input[type=radio]")) { return !fieldset.querySelector("input[type=radio]:checked"); }
    var field = fieldset.querySelector("input:not([type=hidden]), textarea");
    return !!field && field.value === "";
  }

  function bringNextIntoView() {
    var fromId = answeredQuestion;
    answeredQuestion = null;
    var from = fromId && document.getElementById(fromId);
    if (!from) { return; }
    var target = null;
    for (var next = from.nextElementSibling; next && !target; next = next.nextElementSibling) {
      if (next.matches("fieldset.question:not([hidden])") && isUnanswered(next)) { target = next; }
    }
    target = target || from.parentNode.querySelector(".step-nav");
    if (!target) { return; }
    var rect = target.getBoundingClientRect();
    if (rect.top >= 0 && rect.bottom <= window.innerHeight) { return; }
    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    target.scrollIntoView({ behavior: reduce ? "auto" : "smooth", block: "start" });
  }

  // A refused edit (409) carries the step as stored: put its answers back on screen.
  function showStoredAnswers(html) {
    var root = stepRoot();
    var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("fill-step");
    if (!root || !fresh) { return; }
    answeredQuestion = null;
    root.replaceWith(document.importNode(fresh, true));
  }

  // Inactivity: the server forgets the session after the timeout; show that instead of stale questions.
  setInterval(function () {
    var root = stepRoot();
    var timeout = root ? Number(root.getAttribute("data-timeout")) : 0;
    if (timeout > 0 && Date.now() - lastRequestAt > (timeout + 2) * 1000) {
      setStatus(text("ended"), "error");
      if (queue) { queue.reload(); } else { window.location.reload(); }
    }
  }, 5000);
})();
