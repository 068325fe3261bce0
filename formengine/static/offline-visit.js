/* formengine: a home visit prepared for use without a network.
 *
 * On the family's page, "Forbered besøg" (with the PIN or password) starts the forms due for the
 * family and keeps each, prepared, encrypted on the tablet (offline-store.js); the visit page
 * (/visit, and its copy the service worker shows without a network) lists them with what waits to
 * be sent. Without a network the forms open on that page itself: after a reload or a restarted
 * browser the team member unlocks them with the PIN or password, and the stepper
 * (offline-stepper.js) takes up each form where it stood, handed over or not.
 * On a form's own page with a network, a kept form is taken up too, so the network may drop later.
 */
(function () {
  "use strict";

  var store = window.FormengineStore;
  var queue = window.FormengineQueue;
  var root = document.getElementById("visit-root");
  var words = root ? JSON.parse(root.getAttribute("data-words")) : {};
  var UUID = /\/fill\/([0-9a-f-]{36})/;
  var el = window.FormengineDom.el;  // offline-store.js, loaded before this script

  // -- preparing a visit (the family's page) ---------------------------------------------------
  function prepareVisit(form) {
    var status = form.querySelector(".prepare-status");
    var field = form.querySelector("input[type=password]");
    var secret = field.value;
    status.textContent = form.getAttribute("data-busy");
    status.className = "prepare-status";
    fetch(form.getAttribute("data-url"), { method: "POST", body: new URLSearchParams(new FormData(form)),
                                           credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (reply) {
        return reply.json().then(function (json) { return { ok: reply.ok, json: json }; },
                                 function () { return { ok: false, json: {} }; });
      })
      .then(function (result) {
        field.value = "";
        if (!result.ok) { throw new Error(result.json.error || form.getAttribute("data-failed")); }
        var forms = result.json.forms.map(function (f) {
          return { response: f.response, title: f.title, who: f.who, url: f.url, family: result.json.family,
                   bundle: f.bundle };
        });
        return store.keep(forms, secret).then(function () {
          status.textContent = form.getAttribute("data-ready");
          status.className = "prepare-status ok-note";
          if (queue) { queue.navigate(form.getAttribute("data-visit")); } else { location.href = form.getAttribute("data-visit"); }
        });
      })
      .catch(function (err) {
        field.value = "";
        status.textContent = (err && err.message && err.message !== "no key") ? err.message : form.getAttribute("data-failed");
        status.className = "prepare-status error-message";
      });
  }

  window.addEventListener("submit", function (evt) {
    if (!evt.target.classList || !evt.target.classList.contains("prepare-visit")) { return; }
    evt.preventDefault();
    evt.stopImmediatePropagation();
    prepareVisit(evt.target);
  }, true);

  var visitForm = document.querySelector("form.prepare-visit");
  if (visitForm && store && queue) { visitForm.hidden = false; }

  // -- the visit page ------------------------------------------------------------------------
  function clear(title) {
    var main = document.getElementById("main");
    ["fill-step", "visit-bar"].forEach(function (id) {
      var node = document.getElementById(id);
      if (node) { node.remove(); }
    });
    root.hidden = false;
    while (root.firstChild) { root.removeChild(root.firstChild); }
    root.appendChild(el("h1", { tabindex: "-1" }, title || words.title));
    return main;
  }

  function say(text) {
    if (!navigator.onLine) { showOffline(text); return; }
    clear();
    root.appendChild(el("p", { "class": "notice", role: "status" }, text));
  }

  /* Nothing kept for this address and no network: as the service worker's "no connection" page. */
  function showOffline(text) {
    clear(words.offline_title);
    root.appendChild(el("p", {}, words.offline_text));
    if (text && UUID.test(location.pathname)) { root.appendChild(el("p", { "class": "notice" }, text)); }
    root.appendChild(el("p", {})).appendChild(el("a", { "class": "button", href: location.href }, words.retry));
  }

  function showLocked(message) {
    clear();
    root.appendChild(el("p", {}, words.locked));
    if (message) { root.appendChild(el("p", { "class": "error-message", role: "alert" }, message)); }
    var form = root.appendChild(window.FormengineDom.unlockForm("visit", words));
    (message ? form.querySelector("input") : root.querySelector("h1")).focus();
  }

  /* The form token the waiting answers are sent with from this page (the one they were prepared with). */
  function useToken(forms) {
    if (document.querySelector('meta[name="csrf-token"]') || !forms.length) { return; }
    var match = /name="csrf_token"[^>]*value="([^"]+)"/.exec(forms[0].bundle.pages[0].html);
    if (!match) { return; }
    var tag = el("meta", { name: "csrf-token", content: match[1] });
    document.head.appendChild(tag);
  }

  var listed = {};  // the forms shown in the list, so a form sent meanwhile still shows as sent

  function showList() {
    return Promise.all([store.forms(), queue ? queue.waiting() : Promise.resolve({})]).then(function (found) {
      if (UUID.test(location.pathname)) { return; }  // a form was opened meanwhile
      var forms = found[0];
      var waiting = found[1];
      useToken(forms);
      forms.forEach(function (f) { listed[f.response] = { title: f.title, who: f.who, url: f.url }; });
      var here = {};
      forms.forEach(function (f) { here[f.response] = f; });
      var ids = Object.keys(listed);
      if (!ids.length) { say(words.none); return; }
      clear();
      if (!forms.length) { root.appendChild(el("p", { "class": "ok-note", role: "status" }, words.all_sent)); }
      else { root.appendChild(el("p", {}, words.intro)); }
      var list = el("ul", { "class": "visit-forms" });
      ids.forEach(function (id) {
        var info = listed[id];
        var kept = here[id];
        var li = el("li", { "class": "card" });
        var name = info.who ? words.open.replace("{form}", info.title).replace("{who}", info.who)
          : words.open_form.replace("{form}", info.title);
        if (kept) {
          li.appendChild(el("a", { href: info.url, "class": "visit-form", "data-response": id }, name));
        } else {
          li.appendChild(el("span", {}, name));
        }
        var count = waiting[id] || 0;
        var state = kept && kept.state;
        var text = !kept ? words.sent
          : state && state.intended ? words.submit_waiting
          : count ? words.waiting.replace(/\d+/, String(count)) : words.synced;
        li.appendChild(el("p", { "class": "meta visit-status" }, text));
        list.appendChild(li);
      });
      root.appendChild(list);
    });
  }

  /* A kept form opened on this page (without a network the server cannot give it). */
  function openForm(response) {
    return store.form(response).then(function (kept) {
      if (!kept) { say(words.no_form); return; }
      useToken([kept]);
      clear();
      root.hidden = true;
      var main = document.getElementById("main");
      var bar = el("div", { id: "visit-bar", "class": "team-bar" });
      bar.appendChild(el("a", { href: "/visit", "class": "visit-back" }, words.back));
      var handover = el("form", { method: "post", action: "/fill/" + response + "/handover", "class": "inline-form" });
      handover.appendChild(el("button", { type: "submit", "class": "button secondary" }, words.handover));
      bar.appendChild(handover);
      main.appendChild(bar);
      main.appendChild(el("section", { id: "fill-step" }));
      window.FormengineOffline.restore(kept.bundle, kept.state, true);
    });
  }

  function route() {
    var match = UUID.exec(location.pathname);
    return match ? openForm(match[1]) : showList();
  }

  function boot() {
    if (!store || !queue || !window.FormengineOffline) { say(words.none); return; }
    store.kept().then(function (has) {
      if (!has) { say(words.none); return null; }
      return (navigator.onLine ? store.unlockWithServer() : Promise.resolve(false)).then(function (ok) {
        if (ok) { return route(); }
        showLocked();
        return null;
      });
    });
  }

  if (root) {
    window.addEventListener("submit", function (evt) {
      if (!evt.target.classList.contains("visit-unlock")) { return; }
      evt.preventDefault();
      evt.stopImmediatePropagation();
      var field = evt.target.querySelector("input");
      var secret = field.value;
      field.value = "";
      store.unlockWithSecret(secret).then(function (result) {
        if (result.ok) { return route(); }
        if (result.wiped) { say(words.wiped); return null; }
        showLocked(words.wrong.replace(/\d+/, String(result.left)));
        return null;
      });
    }, true);

    // Without a network (or on the page kept for it) the forms and the list open here, without loading.
    window.addEventListener("click", function (evt) {
      var link = evt.target.closest && evt.target.closest("a.visit-form, a.visit-back, a.visit-link");
      // With a network the pages are loaded from the server as usual.
      if (!link || evt.defaultPrevented || !store || !store.unlocked() || navigator.onLine) { return; }
      evt.preventDefault();
      evt.stopImmediatePropagation();  // not a page change: the answers waiting stay and are sent later
      history.pushState(null, "", link.getAttribute("href"));
      route();
    }, true);

    // What waits to be sent changes as the queue sends: the list follows.
    if (queue) {
      queue.on(function (event) {
        if (/^(ack|refused|conflict|count)$/.test(event) && store && store.unlocked() && !UUID.test(location.pathname)) {
          setTimeout(showList, 50);  // after the kept form is removed
        }
      });
    }
    boot();
  }

  // -- a form's own page with a network: take up the kept form, so the network may drop later ----
  function takeUp() {
    var step = document.querySelector("#fill-step form.step-form");
    var match = UUID.exec(location.pathname);
    if (root || !store || !step || !match || !window.FormengineOffline || window.FormengineOffline.current()) { return; }
    store.kept().then(function (has) {
      if (!has) { return null; }
      return store.unlockWithServer().then(function (ok) {
        if (!ok) { return null; }
        return store.form(match[1]).then(function (kept) {
          if (!kept || window.FormengineOffline.current()) { return; }
          var saved = kept.state || {};
          var handover = document.querySelector(".team-bar form[action$='/handover']");
          if (saved.locked && handover && saved.told) {
            // Handed over with a network, and the server is no longer locked: it was unlocked there
            // (the server's unlock page), so the page is not locked either.
            saved.locked = false;
            saved.told = false;
          }
          var tell = saved.locked && handover;
          if (tell) { saved.told = true; }
          window.FormengineOffline.restore(kept.bundle, saved, false);
          if (tell) {
            // Handed over without a network, then reloaded with one: the server locks the tablet too.
            fetch(handover.getAttribute("action"), { method: "POST", body: new URLSearchParams(new FormData(handover)),
                                                     credentials: "same-origin", redirect: "manual" }).catch(function () { return null; });
          }
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", takeUp);

  // -- with a network: a form whose submit has been sent is not kept any longer -----------------
  // (normally removed when the submit's reply arrives; this catches a page that was left meanwhile)
  function reconcile() {
    if (!store || !queue || !navigator.onLine) { return; }
    store.kept().then(function (has) {
      if (!has) { return null; }
      return store.unlockWithServer().then(function (ok) {
        if (!ok) { return null; }
        return Promise.all([store.forms(), queue.waiting()]).then(function (found) {
          return Promise.all(found[0].filter(function (f) {
            return f.state && f.state.intended && !found[1][f.response];
          }).map(function (f) { return store.forget(f.response); }));
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", reconcile);

  // A form's result (or the respondent's thanks) after it was submitted with a network: not kept any longer.
  var submittedHere = document.querySelector('meta[name="formengine-submitted"]');
  if (submittedHere && store) { store.forget(submittedHere.getAttribute("content")); }
})();
