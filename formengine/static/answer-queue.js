/* formengine answer queue: no answer is lost when the network drops.
 *
 * Every save of the stepper is first written to the device (IndexedDB), with
 * a key of its own, and only then sent. Saves are sent one at a time, in the
 * order they were given, until the server acknowledges each; the key lets
 * the server recognise a save it applied already (its reply was lost), so it
 * is applied at most once. A reload, a closed tab or a restarted browser
 * resumes sending from any page of the app. A stale save is refused by the
 * server as a conflict (409), exactly as without the queue: the stepper then
 * shows the stored answers and the saves queued after it are dropped.
 *
 * Page-changing controls (links, the language switch, hand-over, log out)
 * wait until the queue is empty; leaving the page otherwise asks first.
 * Loaded on every page; the stepper (fill.js) calls FormengineQueue.enqueue.
 */
(function () {
  "use strict";

  var DB_NAME = "formengine-answers";
  var STORE = "saves";
  var RETRY_DELAYS = [1000, 2000, 4000, 8000, 15000];

  var MESSAGES = {
    da: {
      waiting: function (n) { return n === 1 ? "1 svar venter på at blive sendt." : n + " svar venter på at blive sendt."; },
      offline: "Ingen forbindelse. Svarene er gemt på tabletten og sendes, når forbindelsen er tilbage.",
      holdOn: "Vent et øjeblik – svarene sendes først.",
      conflict: "Nogle svar blev ikke gemt, fordi skemaet var ændret på en anden enhed.",
      login: "Log ind igen for at sende de svar, der venter på tabletten."
    },
    en: {
      waiting: function (n) { return n === 1 ? "1 answer is waiting to be sent." : n + " answers are waiting to be sent."; },
      offline: "No connection. The answers are kept on the tablet and sent when the connection is back.",
      holdOn: "One moment – the answers are sent first.",
      conflict: "Some answers were not saved because the form was changed on another device.",
      login: "Log in again to send the answers waiting on the tablet."
    }
  };

  var listeners = [];      // called with (event, entry, reply) - see notify()
  var pending = 0;         // saves on the device not yet acknowledged (this user's)
  var writes = Promise.resolve();  // IndexedDB writes in progress
  var pumping = false;
  var retryTimer = null;
  var retryCount = 0;
  var leaving = false;     // set when the app itself navigates (the queue is empty then)
  var holding = false;     // a page-changing control is waiting for the queue
  var dbPromise = null;

  function lang() {
    var step = document.getElementById("fill-step");
    var code = (step && step.getAttribute("lang")) || document.documentElement.lang || "da";
    return MESSAGES[code] ? code : "da";
  }
  function text(key) { return MESSAGES[lang()][key]; }
  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") : null;
  }
  function currentUser() { return meta("formengine-user"); }

  // -- IndexedDB -------------------------------------------------------------
  function open() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () {
          req.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(result && "value" in result ? result.value : undefined); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }

  function all() {
    return tx("readonly", function (store) {
      var out = { value: [] };
      store.openCursor().onsuccess = function (evt) {
        var cursor = evt.target.result;
        if (cursor) { out.value.push(cursor.value); cursor.continue(); }
      };
      return out;
    });
  }

  function remove(seqs) {
    return tx("readwrite", function (store) { seqs.forEach(function (s) { store.delete(s); }); });
  }

  // -- encryption at rest ----------------------------------------------------------
  // Saves are stored encrypted (AES-GCM). The key comes from the server (/offline/key) when a page
  // loads and is kept in memory only, never in the device's storage; it changes when the user logs
  // out, so what a lost tablet holds cannot be read.
  var deviceKey = null;   // {key: CryptoKey (not extractable), id: string}
  var keyLoading = null;

  function loadKey() {
    if (deviceKey) { return Promise.resolve(deviceKey); }
    if (!keyLoading) {
      keyLoading = fetch("/offline/key", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (reply) {
          if (!reply.ok || (reply.headers.get("Content-Type") || "").indexOf("json") < 0) { throw new Error("no key"); }
          return reply.json();
        })
        .then(function (json) {
          var raw = Uint8Array.from(atob(json.key), function (c) { return c.charCodeAt(0); });
          return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]).then(function (key) {
            deviceKey = { key: key, id: json.id };
            return deviceKey;
          });
        })
        .catch(function () { return null; })
        .then(function (found) { keyLoading = null; return found; });
    }
    return keyLoading;
  }

  function seal(content) {
    return loadKey().then(function (k) {
      if (!k) { throw new Error("no key"); }
      var iv = crypto.getRandomValues(new Uint8Array(12));
      var plain = new TextEncoder().encode(JSON.stringify(content));
      return crypto.subtle.encrypt({ name: "AES-GCM", iv: iv }, k.key, plain).then(function (data) {
        return { kid: k.id, iv: iv, data: data };
      });
    });
  }

  /* The save inside a stored record, or null when this key cannot read it. */
  function unseal(record) {
    return loadKey().then(function (k) {
      if (!k) { throw new Error("no key"); }
      if (record.kid !== k.id) { return null; }
      return crypto.subtle.decrypt({ name: "AES-GCM", iv: record.iv }, k.key, record.data).then(function (plain) {
        var content = JSON.parse(new TextDecoder().decode(plain));
        content.seq = record.seq;
        content.response = record.response;
        return content;
      }, function () { return null; });
    });
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // -- status ------------------------------------------------------------------
  function notify(event, entry, reply) {
    listeners.forEach(function (fn) { fn(event, entry, reply); });
  }

  function showStatus(message) {
    var box = document.getElementById("queue-status");
    if (!box) { return; }
    box.textContent = message || "";
    box.hidden = !message;
  }

  function refreshCount() {
    return all().then(function (entries) {
      var user = currentUser();
      pending = entries.filter(function (e) { return e.user === user; }).length;
      showStatus(pending ? (holding ? text("holdOn") + " " : "") + text("waiting")(pending) +
                           (navigator.onLine ? "" : " " + text("offline")) : "");
      notify("count", null, pending);
      return pending;
    });
  }

  // -- adding ------------------------------------------------------------------
  /* Write one save to the device, then start sending. ``fields`` is a list of [name, value]; ``key``
     (optional, from newKey) is the save's own key, for a page that records it before queuing. */
  function enqueue(url, response, fields, key) {
    // Only the draft's public id, the user's number and the time are stored in clear.
    var entry = { key: key || newKey(), url: url, response: response, fields: fields };
    pending += 1;
    function sealed() {
      // Without the key (not fetched yet, no network) the save waits in memory and is sealed later.
      return seal({ key: entry.key, url: url, fields: fields }).catch(function () {
        return new Promise(function (resolve) { setTimeout(resolve, 2000); }).then(sealed);
      });
    }
    var written = writes.then(sealed).then(function (sealed) {
      var record = { user: currentUser(), response: response, at: Date.now(),
                     kid: sealed.kid, iv: sealed.iv, data: sealed.data };
      return tx("readwrite", function (store) {
        var req = store.add(record);
        req.onsuccess = function () { entry.seq = req.result; };
      });
    });
    writes = written.catch(function () { return undefined; });
    return written.then(function () { refreshCount(); pump(); return entry; });
  }

  // -- sending -----------------------------------------------------------------
  function csrfToken() {
    return meta("csrf-token") || (document.querySelector("input[name=csrf_token]") || {}).value || "";
  }

  function body(entry, version) {
    var params = new URLSearchParams();
    entry.fields.forEach(function (pair) {
      var name = pair[0];
      var value = pair[1];
      if (name === "csrf_token") { value = csrfToken(); }  // the token of this session, not the one stored
      if (name === "version" && version !== undefined && Number(version) > Number(value)) { value = String(version); }
      params.append(name, value);
    });
    return params;
  }

  // The version each draft was at after our last acknowledged save: later queued saves of the
  // same draft were given on top of it, so they are sent based on it.
  var acked = {};

  function send(entry) {
    return fetch(entry.url, {
      method: "POST", credentials: "same-origin", body: body(entry, acked[entry.response]),
      headers: { "HX-Request": "true", "Idempotency-Key": entry.key, "HX-Current-URL": location.href }
    }).then(function (reply) {
      return reply.text().then(function (html) { return { reply: reply, html: html }; });
    });
  }

  /* Decide what a reply means for the entry: "ack", "drop" (refused), "hold" (try later) or "stop". */
  function outcome(reply, entry) {
    if (/\/submit$/.test(entry.url)) {
      // A submit intent: the server answers with the result (done) or the review (refused).
      if (reply.status === 401) { return "stop"; }
      if (reply.status >= 500) { return "retry"; }
      return reply.ok && !/\/review/.test(reply.url) && !/\/login/.test(reply.url) ? "ack"
        : (/\/login/.test(reply.url) ? "stop" : "drop");
    }
    var processed = reply.headers.has("X-Draft-Version");  // the save itself answered
    if (reply.status === 401) { return "stop"; }
    if (reply.ok && processed) { return "ack"; }
    if (reply.status === 409 || ((reply.status === 400 || reply.status === 422) && processed)) { return "drop"; }
    if (reply.status >= 500) { return "retry"; }
    return "hold";  // not handled by the save (another page locked the tablet, an expired form token, ...)
  }

  function scheduleRetry() {
    clearTimeout(retryTimer);
    var delay = RETRY_DELAYS[Math.min(retryCount, RETRY_DELAYS.length - 1)];
    retryCount += 1;
    retryTimer = setTimeout(pump, delay);
  }

  function pump() {
    if (pumping) { return Promise.resolve(); }
    pumping = true;
    var held = {};
    var user = currentUser();
    function step() {
      return writes.then(all).then(function (entries) {
        var record = entries.filter(function (e) { return e.user === user && !held[e.response]; })[0];
        if (!record) { retryCount = 0; notify("idle"); return null; }
        return unseal(record).then(function (entry) {
          if (!entry) {
            // Sealed with a key that no longer exists (the user's sessions were ended): unreadable.
            return remove([record.seq]).then(step);
          }
          return sendOne(entry, entries);
        }, function () { scheduleRetry(); return null; });  // no key yet (no network): later
      });
    }
    function sendOne(entry, entries) {
        notify("sending", entry);
        return send(entry).then(function (result) {
          var reply = result.reply;
          var kind = outcome(reply, entry);
          var version = reply.headers.get("X-Draft-Version");
          if (kind === "ack") {
            if (version) { acked[entry.response] = Number(version); }
            return remove([entry.seq]).then(function () {
              pending = Math.max(0, pending - 1);  // at once, so leaving right after the reply is not asked about
              notify("ack", entry, result);
              return step();
            });
          }
          if (kind === "drop") {
            // A conflict: every later save of this draft was given on top of the refused one.
            var seqs = reply.status === 409
              ? entries.filter(function (e) { return e.response === entry.response; }).map(function (e) { return e.seq; })
              : [entry.seq];
            delete acked[entry.response];
            return remove(seqs).then(function () {
              pending = Math.max(0, pending - seqs.length);
              notify(reply.status === 409 ? "conflict" : "refused", entry, result);
              if (reply.status === 409) { showStatus(text("conflict")); }
              return step();
            });
          }
          if (kind === "stop") { showStatus(text("login")); notify("stop", entry, result); return null; }
          if (kind === "hold") { held[entry.response] = true; return step(); }
          scheduleRetry();
          return null;
        }, function () {
          notify("offline", entry);  // no connection: keep everything, try again shortly
          scheduleRetry();
          return null;
        });
    }
    // One tab sends at a time (Web Locks), so two open pages never send the same draft's saves
    // out of order; the others wait and then find what is left.
    var run = navigator.locks ? navigator.locks.request("formengine-answer-queue", step) : step();
    return run.then(function () { pumping = false; return refreshCount(); },
                    function () { pumping = false; scheduleRetry(); });
  }

  /* Resolves once this user's queue is empty (sending it meanwhile). */
  function drained() {
    return writes.then(refreshCount).then(function (n) {
      if (n === 0) { return undefined; }
      return new Promise(function (resolve) {
        function check(event, entry, count) {
          // Empty, or nothing more can be sent now (saves held for another page, the session ended).
          if ((event === "count" && count === 0) || event === "idle" || event === "stop") {
            listeners.splice(listeners.indexOf(check), 1);
            resolve();
          }
        }
        listeners.push(check);
        pump();
      });
    });
  }

  /* Remove this user's saves from the device (after logout, nothing of theirs stays), and what
     else the app keeps for them (the prepared forms, offline-store.js). */
  var wipers = [];
  function wipe() {
    var user = currentUser();
    return all().then(function (entries) {
      return remove(entries.filter(function (e) { return e.user === user; }).map(function (e) { return e.seq; }));
    }).then(function () {
      return Promise.all(wipers.map(function (fn) { return Promise.resolve(fn()).catch(function () { return undefined; }); }));
    });
  }

  /* One draft's saves still waiting on the device, in the order they were given: [{key, url, fields}]
     (those this key cannot read are left out). */
  function saves(response) {
    var user = currentUser();
    return writes.then(all).then(function (entries) {
      var mine = entries.filter(function (e) { return e.user === user && e.response === response; });
      return Promise.all(mine.map(function (record) { return unseal(record).catch(function () { return null; }); }));
    }).then(function (list) { return list.filter(Boolean); });
  }

  /* The device key, opened without a network from the prepared forms' vault (offline-store.js). */
  function useKey(raw, id) {
    if (deviceKey) { return Promise.resolve(deviceKey); }
    var bytes = Uint8Array.from(atob(raw), function (c) { return c.charCodeAt(0); });
    return crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]).then(function (key) {
      deviceKey = deviceKey || { key: key, id: id };
      return deviceKey;
    });
  }

  // -- leaving the page --------------------------------------------------------
  // A page-changing control waits for the queue; the app's own navigation is not asked about.
  function proceed(go) {
    if (pending === 0) { leaving = true; go(); return; }
    holding = true;
    showStatus(text("holdOn") + (navigator.onLine ? "" : " " + text("offline")));
    drained().then(function () { holding = false; leaving = true; go(); });
  }

  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("a[href]");
    if (!link || evt.defaultPrevented || link.target || evt.button !== 0 || evt.ctrlKey || evt.metaKey) { return; }
    if (pending === 0) { return; }
    evt.preventDefault();
    proceed(function () { window.location.href = link.href; });
  }, true);

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (evt.defaultPrevented || form.classList.contains("step-form") || form.hasAttribute("data-queue-passed")) { return; }
    var logout = form.hasAttribute("data-logout");
    if (pending === 0 && !logout) { return; }
    evt.preventDefault();
    var submitter = evt.submitter;
    proceed(function () {
      var done = logout ? wipe() : Promise.resolve();
      done.then(function () {
        form.setAttribute("data-queue-passed", "1");
        form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
      });
    });
  }, true);

  window.addEventListener("beforeunload", function (evt) {
    if (pending > 0 && !leaving) {
      evt.preventDefault();
      evt.returnValue = "";  // the browser asks whether to leave; the answers stay on the device anyway
    }
  });

  window.addEventListener("online", function () { retryCount = 0; pump(); });
  window.addEventListener("offline", refreshCount);

  window.FormengineQueue = {
    enqueue: enqueue,
    newKey: newKey,
    /* Resolves once every save given so far is written to the device. */
    written: function () { return writes; },
    saves: saves,
    pump: pump,
    drained: drained,
    wipe: wipe,
    useKey: useKey,
    /* How many saves wait per draft (the draft's id is stored in clear beside each). */
    waiting: function () {
      var user = currentUser();
      return all().then(function (entries) {
        var out = {};
        entries.forEach(function (e) { if (e.user === user) { out[e.response] = (out[e.response] || 0) + 1; } });
        return out;
      });
    },
    onWipe: function (fn) { wipers.push(fn); },
    on: function (fn) { listeners.push(fn); },
    pending: function () { return pending; },
    navigate: function (url) { proceed(function () { window.location.href = url; }); },
    reload: function () { leaving = true; window.location.reload(); }
  };

  if (window.indexedDB && window.crypto && crypto.subtle && currentUser()) {
    loadKey();
    // The service worker keeps the app's files and a "no connection" page (static/offline-sw.js).
    if (navigator.serviceWorker) { navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {}); }
    refreshCount().then(function (n) { if (n) { pump(); } });
  } else {
    window.FormengineQueue = null;  // no safe storage here: the stepper posts its forms directly
  }
})();
