/* formengine stepper: small progressive enhancement on top of htmx.
 *
 * - one tap on an answer saves it and moves on (single-question steps);
 *   on steps with several questions every answer is saved as it is given;
 * - a save that fails (no network, server error) is retried until it
 *   succeeds, with a plain status message; the answer stays on screen;
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
      retry: "Ikke gemt endnu – ingen forbindelse. Svaret er ikke mistet; vi prøver igen om lidt …",
      refused: "Ikke gemt: ",
      outdated: "siden er forældet. Genindlæs siden.",
      ended: "Sessionen er udløbet. Siden genindlæses."
    },
    en: {
      saving: "Saving …",
      saved: "Saved.",
      retry: "Not saved yet – no connection. The answer is not lost; trying again shortly …",
      refused: "Not saved: ",
      outdated: "the page is out of date. Reload the page.",
      ended: "The session has ended. Reloading the page."
    }
  };
  var RETRY_DELAYS = [1000, 2000, 4000, 8000];
  var retryCount = 0;
  var retryTimer = null;
  var lastRequestAt = Date.now();

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

  function saveInPlace(form) {
    // Save the whole step without leaving it; the server answers with the new version (out of band).
    htmx.ajax("POST", form.getAttribute("hx-post"), {
      source: form, values: { go: "stay" }, swap: "none", target: "#save-status"
    });
  }

  document.addEventListener("change", function (evt) {
    var form = stepForm(evt.target);
    if (!form) { return; }
    var input = evt.target;
    if (input.type === "radio") { answeredQuestion = questionOf(input); }
    if (input.type === "radio" && form.getAttribute("data-autoadvance") === "1") {
      var next = form.querySelector(".step-nav button[value='next']");
      if (next) { next.click(); return; }
    }
    saveInPlace(form);
  });

  // Remember what each request sent, so a failed one can be sent again unchanged.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var config = evt.detail.requestConfig;
    if (!config || !stepForm(config.elt)) { return; }
    lastRequestAt = Date.now();
    setStatus(text("saving"), "pending");
  });

  function scheduleRetry(detail) {
    var config = detail.requestConfig;
    if (!config) { return; }
    var values = {};
    if (config.formData && config.formData.forEach) {
      config.formData.forEach(function (value, key) { values[key] = value; });
    }
    var stay = values.go === "stay";
    var delay = RETRY_DELAYS[Math.min(retryCount, RETRY_DELAYS.length - 1)];
    retryCount += 1;
    setStatus(text("retry"), "error");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () {
      var current = document.getElementById("fill-version");
      // A newer version on the page (another save got through) supersedes the stored one.
      if (current && values.version && Number(current.value) > Number(values.version)) {
        values.version = current.value;
      }
      htmx.ajax(config.verb.toUpperCase(), config.path, {
        source: config.elt, values: values,
        target: stay ? "#save-status" : "#fill-step",
        swap: stay ? "none" : "outerHTML"
      });
    }, delay);
  }

  document.addEventListener("htmx:sendError", function (evt) {
    if (stepForm(evt.detail.elt) || stepForm(evt.detail.requestConfig && evt.detail.requestConfig.elt)) {
      scheduleRetry(evt.detail);
    }
  });
  document.addEventListener("htmx:timeout", function (evt) {
    if (stepForm(evt.detail.elt)) { scheduleRetry(evt.detail); }
  });

  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    if (!stepForm(evt.detail.elt) && !stepForm(evt.detail.requestConfig && evt.detail.requestConfig.elt)) {
      return;
    }
    if (xhr.status === 409) {
      // Stale write: never overwrite; show the stored answers again and the banner that offers to reload.
      showStoredAnswers(xhr.responseText);
      var banner = document.getElementById("conflict-banner");
      if (banner) {
        banner.hidden = false;
        banner.setAttribute("tabindex", "-1");
        banner.focus();
      }
      setStatus("", "");
      return;
    }
    if (xhr.status >= 500 || xhr.status === 0) {
      scheduleRetry(evt.detail);
      return;
    }
    // A short plain-text reason from the stepper, else a generic one (never a whole error page).
    var reason = xhr.responseText || "";
    if (!reason || reason.charAt(0) === "<" || reason.length > 200) { reason = text("outdated"); }
    setStatus(text("refused") + reason, "error");
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.successful && stepForm(evt.detail.elt)) {
      retryCount = 0;
      clearTimeout(retryTimer);
      setStatus(text("saved"), "ok");
      bringNextIntoView();
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    // A new step: move focus to its question so screen readers and keyboards start there.
    if (evt.detail.target && evt.detail.target.id === "fill-step") {
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
  });

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
    root.replaceWith(fresh);
    htmx.process(fresh);
  }

  // Inactivity: the server forgets the session after the timeout; show that instead of stale questions.
  setInterval(function () {
    var root = stepRoot();
    var timeout = root ? Number(root.getAttribute("data-timeout")) : 0;
    if (timeout > 0 && Date.now() - lastRequestAt > (timeout + 2) * 1000) {
      setStatus(text("ended"), "error");
      window.location.reload();
    }
  }, 5000);
})();
