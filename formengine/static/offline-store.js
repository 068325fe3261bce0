/* formengine: prepared forms kept on the tablet, encrypted, so a reload or a closed tab offline loses nothing.
 *
 * What a prepared form needs (its steps, the answers so far, where it stood, whether it was handed
 * over) is kept in IndexedDB (database "formengine-prepared"), encrypted with AES-GCM under a random
 * 256-bit data key made on the tablet. The data key itself is stored only wrapped, twice:
 *  - by a key derived from the team member's PIN or password (PBKDF2-SHA-256, 310,000 iterations,
 *    random salt), so it can be opened without a network after a reload; five wrong tries remove
 *    the prepared forms from the tablet (the answers already given stay in the answer queue);
 *  - by the server-held device key (GET /offline/key), so with a network it opens without the PIN.
 * The answer queue's device key is kept sealed under the data key too, so answers given after a
 * reload without a network are stored encrypted at once. The unwrapped keys live only in this
 * page's memory. A prepared form is removed once its submit has reached the server, and everything
 * at logout. See docs/offline.md.
 *
 * It also builds what the pages that open kept forms show (FormengineDom): the visit page
 * (offline-visit.js) and the stepper (offline-stepper.js) load after this script.
 */
(function () {
  "use strict";

  // -- the elements of the pages that open kept forms -------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  /* The form that asks for the PIN or password (the visit page's and the stepper's unlock): its class is
     "<name>-unlock" and its field's id "<name>-secret"; ``words.secret`` labels the field and
     ``words.unlock`` the button. */
  function unlockForm(name, words) {
    var form = el("form", { "class": name + "-unlock" });
    var field = el("p", { "class": "field" });
    field.appendChild(el("label", { "for": name + "-secret" }, words.secret));
    field.appendChild(el("input", { type: "password", id: name + "-secret", autocomplete: "current-password", required: "" }));
    form.appendChild(field);
    form.appendChild(el("button", { type: "submit", "class": "button" }, words.unlock));
    return form;
  }

  window.FormengineDom = { el: el, unlockForm: unlockForm };

  var DB_NAME = "formengine-prepared";
  var ITERATIONS = 310000;
  var MAX_TRIES = 5;
  var USER_KEY = "formengine-device-user";  // the user's number only, for the page kept for use offline

  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") : null;
  }
  // The page kept for use without a network carries no user: the number of whoever prepared forms
  // on this tablet is kept in the clear beside them (as the answer queue keeps it beside each save).
  if (!meta("formengine-user") && meta("formengine-app")) {
    var remembered = null;
    try { remembered = localStorage.getItem(USER_KEY); } catch (e) { remembered = null; }
    if (remembered) {
      var tag = document.createElement("meta");
      tag.name = "formengine-user";
      tag.content = remembered;
      document.head.appendChild(tag);
    }
  }
  function user() { return meta("formengine-user"); }

  var capable = !!(window.indexedDB && window.crypto && crypto.subtle && window.TextEncoder);

  // -- IndexedDB ---------------------------------------------------------------------
  var dbPromise = null;
  function open() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () {
          req.result.createObjectStore("vault", { keyPath: "user" });
          req.result.createObjectStore("forms", { keyPath: "response" });
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function tx(stores, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(stores, mode);
        var out = {};
        work(t, out);
        t.oncomplete = function () { resolve(out.value); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }

  function getVault() {
    return tx(["vault"], "readonly", function (t, out) {
      var req = t.objectStore("vault").get(user() || "");
      req.onsuccess = function () { out.value = req.result || null; };
    });
  }
  function putVault(record) { return tx(["vault"], "readwrite", function (t) { t.objectStore("vault").put(record); }); }

  function formRecords() {
    return tx(["forms"], "readonly", function (t, out) {
      var req = t.objectStore("forms").getAll();
      req.onsuccess = function () {
        var me = user();
        out.value = req.result.filter(function (r) { return r.user === me; });
      };
    });
  }

  // -- keys --------------------------------------------------------------------------
  var dataKey = null;       // CryptoKey (not extractable), only in this page's memory
  var queueKey = null;      // {key: base64, id}: the answer queue's device key, opened with the data key

  function bytes(text) { return new TextEncoder().encode(text); }
  function b64(buf) { return btoa(String.fromCharCode.apply(null, new Uint8Array(buf))); }
  function unb64(text) { return Uint8Array.from(atob(text), function (c) { return c.charCodeAt(0); }); }
  function aes(raw, usages) { return crypto.subtle.importKey("raw", raw, "AES-GCM", false, usages || ["encrypt", "decrypt"]); }

  function encrypt(key, value) {
    var iv = crypto.getRandomValues(new Uint8Array(12));
    var plain = value instanceof Uint8Array ? value : bytes(JSON.stringify(value));
    return crypto.subtle.encrypt({ name: "AES-GCM", iv: iv }, key, plain).then(function (data) { return { iv: iv, data: data }; });
  }
  function decryptRaw(key, sealed) { return crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv }, key, sealed.data); }
  function decrypt(key, sealed) {
    return decryptRaw(key, sealed).then(function (plain) { return JSON.parse(new TextDecoder().decode(plain)); });
  }

  /* The key derived from the PIN or password (PBKDF2-SHA-256) that wraps the data key. */
  function secretKey(secret, salt, iterations) {
    return crypto.subtle.importKey("raw", bytes(secret), "PBKDF2", false, ["deriveKey"]).then(function (base) {
      return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: salt, iterations: iterations },
                                     base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    });
  }

  /* The server-held device key (the answer queue's), or null without a network or a session. */
  function serverKey() {
    return fetch("/offline/key", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (reply) {
        if (!reply.ok || (reply.headers.get("Content-Type") || "").indexOf("json") < 0) { return null; }
        return reply.json();
      })
      .then(function (json) {
        if (!json) { return null; }
        return aes(unb64(json.key)).then(function (key) { return { key: key, id: json.id, raw: json.key }; });
      })
      .catch(function () { return null; });
  }

  /* A new vault (or the open one, wrapped again) for the secret just confirmed by the server. */
  function seal(secret, server) {
    var raw = crypto.getRandomValues(new Uint8Array(32));
    var salt = crypto.getRandomValues(new Uint8Array(16));
    return Promise.all([secretKey(secret, salt, ITERATIONS), aes(raw)]).then(function (keys) {
      var wrapping = [encrypt(keys[0], raw), encrypt(server.key, raw),
                      encrypt(keys[1], { key: server.raw, id: server.id })];
      return Promise.all(wrapping).then(function (sealed) {
        raw.fill(0);
        dataKey = keys[1];
        queueKey = { key: server.raw, id: server.id };
        localStorage.setItem(USER_KEY, user());
        return putVault({ user: user(), salt: salt, iterations: ITERATIONS, tries: 0, bySecret: sealed[0],
                          byServer: sealed[1], serverKid: server.id, queueKey: sealed[2] });
      });
    });
  }

  function openedWith(raw) {
    return aes(new Uint8Array(raw)).then(function (key) {
      dataKey = key;
      return getVault();
    }).then(function (vault) {
      return decrypt(dataKey, vault.queueKey);
    }).then(function (found) {
      queueKey = found;
      // The queue can read the waiting saves once this resolves (a reopened form is brought up to date with them).
      if (window.FormengineQueue && window.FormengineQueue.useKey) {
        return window.FormengineQueue.useKey(found.key, found.id).then(function () { return true; });
      }
      return true;
    });
  }

  /* Open the kept forms with the PIN or password: {ok} or {ok: false, left} or {ok: false, wiped}. */
  function unlockWithSecret(secret) {
    return getVault().then(function (vault) {
      if (!vault) { return { ok: false, wiped: true }; }
      return secretKey(secret, vault.salt, vault.iterations)
        .then(function (key) { return decryptRaw(key, vault.bySecret); })
        .then(function (raw) {
          return openedWith(raw).then(function () {
            vault.tries = 0;
            return getVault().then(function (v) { v.tries = 0; return putVault(v); });
          }).then(function () { return { ok: true }; });
        }, function () {
          vault.tries = (vault.tries || 0) + 1;
          if (vault.tries >= MAX_TRIES) { return wipe().then(function () { return { ok: false, wiped: true }; }); }
          return putVault(vault).then(function () { return { ok: false, left: MAX_TRIES - vault.tries }; });
        });
    });
  }

  /* With a network: open the kept forms with the server-held key, no PIN needed. */
  function unlockWithServer() {
    if (dataKey) { return Promise.resolve(true); }
    return getVault().then(function (vault) {
      if (!vault) { return false; }
      return serverKey().then(function (server) {
        if (!server) { return false; }
        if (server.id !== vault.serverKid) {
          // The team member logged out (or their sessions were ended) since: what was kept is unreadable.
          return wipe().then(function () { return false; });
        }
        return decryptRaw(server.key, vault.byServer).then(openedWith, function () { return false; });
      });
    });
  }

  // -- the forms ---------------------------------------------------------------------
  var saving = Promise.resolve();  // the state changes being written, in order
  /* Keep forms just prepared: [{response, title, who, url, family, bundle}], with the secret just confirmed.
   * A new data key is made each time and the forms kept before are sealed again under it, so the
   * secret typed last opens all of them. */
  function keep(prepared, secret) {
    var fresh = prepared.map(function (f) { return f.response; });
    return serverKey().then(function (server) {
      if (!server) { throw new Error("no key"); }
      return unlockWithServer().then(forms).then(function (before) {
        return wipe().then(function () { return seal(secret, server); }).then(function () {
          var again = before.filter(function (f) { return fresh.indexOf(f.response) < 0; });
          return Promise.all(again.map(function (f) { return save(f.response, f); }));
        });
      });
    }).then(function () {
      return Promise.all(prepared.map(function (f) {
        var state = { answers: f.bundle.answers || {}, declined: f.bundle.declined || [] };
        return save(f.response, { title: f.title || "", who: f.who || "", url: f.url || "", family: f.family || null,
                                  bundle: f.bundle, state: state });
      }));
    });
  }

  /* The form as prepared (sealed once) and its state (sealed apart, again at every change, so an
     answer costs the encryption of the answers only, not of every step of the form). */
  function save(response, content) {
    if (!dataKey) { return Promise.reject(new Error("locked")); }
    var prepared = { title: content.title, who: content.who, url: content.url, family: content.family,
                     bundle: content.bundle };
    return Promise.all([encrypt(dataKey, prepared), encrypt(dataKey, content.state || {})]).then(function (sealed) {
      return tx(["forms"], "readwrite", function (t) {
        t.objectStore("forms").put({ response: response, user: user(), family: content.family || null,
                                     iv: sealed[0].iv, data: sealed[0].data,
                                     stateIv: sealed[1].iv, stateData: sealed[1].data });
      });
    });
  }

  /* Every kept form of this user, opened: [{response, title, who, url, bundle, state}], once the
     changes being written are in. */
  function forms() { return saving.then(readForms); }

  function readForms() {
    if (!dataKey) { return Promise.resolve([]); }
    return formRecords().then(function (records) {
      return Promise.all(records.map(function (r) {
        return Promise.all([decrypt(dataKey, r), decrypt(dataKey, { iv: r.stateIv, data: r.stateData })])
          .then(function (opened) {
            var content = opened[0];
            content.response = r.response;
            content.state = opened[1];
            return content;
          }, function () { return null; });
      }));
    }).then(function (list) { return list.filter(Boolean); });
  }

  function form(response) { return saving.then(function () { return readForm(response); }); }
  function readForm(response) {
    return readForms().then(function (list) { return list.filter(function (f) { return f.response === response; })[0] || null; });
  }

  /* The stepper's state of a kept form changed (an answer, a hand-over, a submit): keep it. */
  function saveState(response, state) {
    if (!dataKey) { return saving; }
    saving = saving.then(function () {
      return encrypt(dataKey, state).then(function (sealed) {
        return tx(["forms"], "readwrite", function (t) {
          var store = t.objectStore("forms");
          var req = store.get(response);
          req.onsuccess = function () {
            if (!req.result) { return; }  // removed meanwhile (sent)
            req.result.stateIv = sealed.iv;
            req.result.stateData = sealed.data;
            store.put(req.result);
          };
        });
      });
    }).catch(function () { return undefined; });
    return saving;
  }

  /* Remove one form (its submit reached the server); the last one takes the keys with it. */
  function forget(response) {
    return tx(["forms"], "readwrite", function (t) { t.objectStore("forms").delete(response); })
      .then(formRecords).then(function (left) { return left.length ? undefined : wipe(); });
  }

  /* Remove everything this user keeps here (the answer queue is emptied separately). */
  function wipe() {
    var me = user() || "";
    dataKey = null;
    queueKey = null;
    return open().then(function () {
      return tx(["vault", "forms"], "readwrite", function (t) {
        t.objectStore("vault").delete(me);
        var req = t.objectStore("forms").getAll();
        req.onsuccess = function () {
          req.result.forEach(function (r) { if (r.user === me) { t.objectStore("forms").delete(r.response); } });
        };
      });
    }).then(function () {
      try { localStorage.removeItem(USER_KEY); } catch (e) { /* nothing kept */ }
    });
  }

  function kept() { return getVault().then(function (v) { return !!v; }, function () { return false; }); }

  // -- wiping after sync and at logout ------------------------------------------------
  function hook() {
    if (!capable || !window.FormengineQueue || hook.done) { return; }
    hook.done = true;
    window.FormengineQueue.on(function (event, entry) {
      // The submit reached the server (or was refused there, e.g. submitted already): nothing of the
      // form stays on the tablet.
      if ((event === "ack" || event === "refused") && entry && /\/submit$/.test(entry.url || "")) {
        forget(entry.response);
      }
    });
    if (window.FormengineQueue.onWipe) { window.FormengineQueue.onWipe(wipe); }
  }
  hook();
  document.addEventListener("DOMContentLoaded", hook);  // the queue's script may come after this one

  window.FormengineStore = capable ? {
    keep: keep, forms: forms, form: form, saveState: saveState, forget: forget, wipe: wipe, kept: kept,
    unlockWithSecret: unlockWithSecret, unlockWithServer: unlockWithServer,
    unlocked: function () { return !!dataKey; }, maxTries: MAX_TRIES
  } : null;
})();
