/* formengine: finishing a prepared form without a network.
 *
 * The team member prepares the open form ("Gør klar til brug uden net") with
 * their PIN or password. The server replies with every step of the form, its
 * display conditions and a salted verifier of the secret; this page keeps the
 * reply in memory only. While the tablet has no network, the stepper runs
 * here: next, back, decline, entries of a repeated group added and removed,
 * the answer language, the review, hand-over and unlocking with the PIN
 * (checked against the verifier with PBKDF2), and submitting, which is
 * queued as an intent. Every answer still goes through the answer queue
 * (answer-queue.js), so it is sent, in order and once, when the network is back.
 * The rules mirror formengine/stepper.py, instruments/conditions.py, the answer
 * codec (instruments/codec.py: reading a step's fields, group_edit), the save
 * and the review of web/fill.py and the submit rules (submission.py), so what
 * the server stores at sync is what the screen showed.
 */
(function () {
  "use strict";

  var MAX_TRIES = 5;
  var bundle = null;        // the prepared form (kept on the tablet only encrypted: offline-store.js)
  var state = null;         // {answers, declined}: the server's state plus every answer given here
  var current = null;       // the step shown (page id), or null on the review screen
  var locked = false;       // handed over while offline
  var tries = 0;
  var applied = null;       // the answer queue's key of the last save (or switch, submit) the state reflects
  var replaying = null;     // saves given on the page while a reopened form is brought up to date: [[fields, key]]

  var el = window.FormengineDom.el;  // offline-store.js, loaded before this script
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
  /* The entries of a group's answer that hold an answer (codec filled_entries): an entry added and
     left untouched does not count, and is not kept at submit. */
  function filledEntries(value) {
    if (!Array.isArray(value)) { return []; }
    return value.filter(function (entry) {
      return entry !== null && typeof entry === "object" && !Array.isArray(entry) && Object.keys(entry).some(function (k) {
        var v = entry[k];
        return !(v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0));
      });
    });
  }
  /* As submission.has_answer: a value, a group with a filled entry, or a decline. */
  function answeredIn(answers, declined, id) {
    var v = answers[id];
    if (Array.isArray(v)) { return filledEntries(v).length > 0 || declined.indexOf(id) >= 0; }
    return (v !== undefined && v !== null) || declined.indexOf(id) >= 0;
  }
  function hasAnswer(id) { return answeredIn(state.answers, state.declined, id); }
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
    if (go === "stay" || /^(add|remove):/.test(go)) { return pageId; }
    var after = shownOn(pages[index]);
    var appeared = after.filter(function (i) { return shownBefore.indexOf(i) < 0 && !hasAnswer(i); });
    if (go === "next" && appeared.length) { return pageId; }
    if (declinedItem && after.some(function (i) { return !hasAnswer(i); })) { return pageId; }
    if (go === "back") { return index > 0 ? ids[index - 1] : pageId; }
    if (go === "review") { return null; }
    return index + 1 < ids.length ? ids[index + 1] : null;
  }

  // -- answers from the step's fields (as the answer codec reads a form) ------------------------
  var TRUE = ["ja", "yes", "true", "1"];
  var FALSE = ["nej", "no", "false", "0"];
  var DECIMAL = /^([+-]?)([0-9]{1,15})(?:[.,]([0-9]{1,15}))?$/;
  var CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

  /* A value the codec refuses: its reason, the value shown in the message and the limit. */
  function Refused(reason, value, limit) { this.reason = reason; this.value = value || ""; this.limit = limit; }
  function shownValue(text) { return JSON.stringify(String(text).slice(0, 40)); }  // the codec's _show

  /* One typed value as the codec stores it (null: not answered); throws Refused where the server would. */
  function typed(meta, raw) {
    var text = String(raw).trim();
    if (meta.type === "text") {
      text = text.replace(/\r\n?/g, "\n");
      if (text === "") { return null; }
      var bad = CONTROL.exec(text);
      if (bad) { throw new Refused("control_character", "U+" + ("000" + bad[0].charCodeAt(0).toString(16).toUpperCase()).slice(-4)); }
      if (!meta.multiline && text.indexOf("\n") >= 0) { throw new Refused("line_break"); }
      if (Array.from(text).length > meta.max_length) { throw new Refused("too_long", "", meta.max_length); }
      return text;
    }
    if (text === "") { return null; }
    if (meta.type === "choice") {
      if (!Object.prototype.hasOwnProperty.call(meta.codes, text)) {
        throw new Refused("not_a_code", shownValue(text), Object.keys(meta.options).join(", "));
      }
      return meta.codes[text];
    }
    if (meta.type === "boolean") {
      if (TRUE.indexOf(text.toLowerCase()) >= 0) { return true; }
      if (FALSE.indexOf(text.toLowerCase()) >= 0) { return false; }
      throw new Refused("not_yes_no", shownValue(text));
    }
    if (meta.type === "number") {
      var m = DECIMAL.exec(text);
      if (!m) { throw new Refused("not_a_number", shownValue(text)); }
      if (m[3] !== undefined && meta.integer) { throw new Refused("not_whole", shownValue(text)); }
      var n = Number(m[1] + m[2] + (m[3] !== undefined ? "." + m[3] : ""));
      if (meta.min !== undefined && n < meta.min) { throw new Refused("too_small", String(n), meta.min); }
      if (meta.max !== undefined && n > meta.max) { throw new Refused("too_large", String(n), meta.max); }
      return n;
    }
    if (meta.type === "date") {
      var d = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
      var day = d && new Date(Date.UTC(+d[1], +d[2] - 1, +d[3]));
      if (d) { day.setUTCFullYear(+d[1]); }  // years before 100 are not 19xx
      if (!d || +d[1] < 1 || day.getUTCFullYear() !== +d[1] || day.getUTCMonth() !== +d[2] - 1 ||
          day.getUTCDate() !== +d[3]) { throw new Refused("not_a_date", shownValue(text)); }
      return text;
    }
    throw new Refused("unknown_item");
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
  function empty(v) { return v === null || v === undefined || (Array.isArray(v) && v.length === 0); }

  /* A refusal in the respondent's language, as the server's save words it (web/fill.py _refusal). */
  function problem(label, refused) {
    return bundle.problems[refused.reason].split("{item}").join(label).split("{value}").join(refused.value)
      .split("{limit}").join(refused.limit === undefined ? "None" : String(refused.limit));
  }

  /* The answers posted for the step's items (codec read_form): id -> value, null for cleared. */
  function readStep(page, get, refused) {
    var changes = {};
    page.items.forEach(function (id) {
      var meta = bundle.items[id];
      function check(label, work) {
        try { return work(); } catch (e) {
          if (!(e instanceof Refused)) { throw e; }
          refused.push(problem(label, e));
          return undefined;
        }
      }
      if (meta.type !== "group") {
        var raw = get(id);
        if (raw === undefined) { return; }
        var value = check(meta.label, function () { return typed(meta, raw); });
        if (value !== undefined) { changes[id] = value; }
        return;
      }
      var count = get(id + "__count");
      if (count === undefined) { return; }
      count = String(count).trim();
      if (!/^[0-9]{1,3}$/.test(count) || Number(count) > meta.max_repeat) {
        refused.push(problem(meta.label, new Refused("bad_count", "", meta.max_repeat)));
        return;
      }
      var entries = [];
      for (var i = 0; i < Number(count); i++) {
        var entry = {};
        meta.order.forEach(function (sub) {
          var raw = get(id + "__" + i + "__" + sub);
          if (raw === undefined) { return; }
          var label = meta.label + " " + (i + 1) + ": " + meta.items[sub].label;
          var value = check(label, function () { return typed(meta.items[sub], raw); });
          if (value !== undefined && value !== null) { entry[sub] = value; }
        });
        entries.push(entry);
      }
      changes[id] = entries;
    });
    return changes;
  }

  /* add:<group> or remove:<group>:<entry> on the posted entries (codec group_edit); a Refused when refused. */
  function groupEdit(changes, go, shownBefore) {
    var parts = go.split(":");
    var name = parts[1] || "";
    var meta = bundle.items[name];
    if (!meta || meta.type !== "group" || shownBefore.indexOf(name) < 0) { return new Refused("bad_operation", shownValue(go)); }
    var base = changes[name] !== undefined && changes[name] !== null ? changes[name] : (state.answers[name] || []);
    var entries = base.slice();
    if (parts[0] === "add" && parts.length === 2) {
      if (entries.length >= meta.max_repeat) { return new Refused("too_many_entries", "", meta.max_repeat); }
      entries.push({});
    } else if (parts[0] === "remove" && parts.length === 3) {
      if (!/^[0-9]{1,3}$/.test(parts[2]) || Number(parts[2]) >= entries.length) {
        return new Refused("bad_entry", shownValue(parts[2]));
      }
      entries.splice(Number(parts[2]), 1);
    } else {
      return new Refused("bad_operation", shownValue(go));
    }
    changes[name] = entries;
    return null;
  }

  /* Apply the fields of one save to the state as the server's save does (web/fill.py save);
     returns what the navigation needs, or {refused: message} where the server would refuse it. */
  function record(fields) {
    var get = function (name) {
      var pair = fields.filter(function (p) { return p[0] === name; })[0];
      return pair ? pair[1] : undefined;
    };
    var page = bundle.pages.filter(function (p) { return p.id === get("page"); })[0];
    if (!page) { return null; }
    var before = shownOn(page);
    var go = get("go") || "next";
    var decline = get("decline");
    var refused = [];
    var changes = readStep(page, get, refused);
    if (refused.length) { return { refused: refused.join("; ").slice(0, 190) }; }
    // Answers to questions of this step that the new answers hide are not stored.
    var merged = {};
    Object.keys(state.answers).forEach(function (k) { merged[k] = state.answers[k]; });
    Object.keys(changes).forEach(function (k) { if (changes[k] !== null) { merged[k] = changes[k]; } });
    page.items.forEach(function (id) { if (id in changes && !shown(id, merged)) { delete changes[id]; } });
    var label = function (id) { return bundle.items[id] ? bundle.items[id].label : id; };
    if (/^(add|remove):/.test(go)) {
      var edit = groupEdit(changes, go, before);
      if (edit) { return { refused: problem(label(go.split(":")[1] || ""), edit) }; }
    }
    if (decline && (before.indexOf(decline) < 0 || !bundle.items[decline].decline)) {
      return { refused: problem(label(decline), new Refused(before.indexOf(decline) < 0 ? "not_on_step" : "cannot_decline")) };
    }
    if (decline) { delete changes[decline]; }
    // Written only when something differs from the stored answers (a "next" without answers writes nothing).
    var current = state.answers;
    var changed = Object.keys(changes).some(function (k) {
      return !same(k in current ? current[k] : null, changes[k]) && !(empty(changes[k]) && !(k in current));
    });
    if (changed) {
      Object.keys(changes).forEach(function (k) {
        if (empty(changes[k])) { delete state.answers[k]; } else { state.answers[k] = changes[k]; }
      });
      state.declined = state.declined.filter(function (d) { return !(d in changes) || changes[d] === null; });
    }
    if (decline && !(state.declined.indexOf(decline) >= 0 && !(decline in state.answers))) {
      delete state.answers[decline];
      state.declined = state.declined.filter(function (d) { return d !== decline; }).concat([decline]);
    }
    return { page: page.id, go: go, before: before, decline: decline };
  }

  // -- showing a step or the review ------------------------------------------------------------
  function replaceStep(node) {
    var root = $("fill-step");
    if (root) { root.replaceWith(node); }
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
      if (visible && !box.querySelector("legend")) {
        // The step came from the server, which sends a hidden question as an empty placeholder:
        // the prepared step has the question itself.
        var fresh = new DOMParser().parseFromString(page.html, "text/html").getElementById("q-" + id);
        if (fresh) {
          var node = document.importNode(fresh, true);
          box.replaceWith(node);
          box = node;
          if (bundle.items[id].type === "group") { showEntries(box, id); } else { fill(box, id, bundle.items[id], state.answers[id]); }
          showDecline(box, id);
        }
      }
      box.hidden = !visible;
      box.querySelectorAll("input, textarea, button").forEach(function (input) { input.disabled = !visible; });
    });
    showProgress(pageId);
  }

  /* The code a choice field's text stands for (the codec's choice maps), or undefined. */
  function codeOf(meta, text) {
    return meta.codes && Object.prototype.hasOwnProperty.call(meta.codes, text) ? meta.codes[text] : undefined;
  }

  /* Put a stored value in the fields called ``name`` (as the server renders it). */
  function fill(scope, name, meta, value) {
    scope.querySelectorAll("[name]").forEach(function (field) {
      if (field.name !== name) { return; }
      var has = value !== undefined && value !== null;
      if (field.type === "radio") {
        field.checked = has && (meta.type === "choice" ? codeOf(meta, field.value) !== undefined &&
                                same(codeOf(meta, field.value), value) : field.value === JSON.stringify(value));
      }
      else if (field.tagName === "TEXTAREA" || (field.tagName === "INPUT" && field.type !== "hidden")) {
        field.value = has ? String(value) : "";
      }
    });
  }

  /* A repeated group's entries as the server renders them (fill/_macros.html group_entry). */
  function showEntries(box, id) {
    var wrap = box.querySelector('[data-group="' + id + '"]');
    if (!wrap) { return; }
    var meta = bundle.items[id];
    var value = state.answers[id];
    var entries = value !== undefined && value !== null ? value : [];
    if (value === undefined || value === null) {
      for (var k = 0; k < (meta.min_repeat || 0); k++) { entries.push({}); }
    }
    wrap.textContent = "";
    wrap.appendChild(el("input", { type: "hidden", name: id + "__count", value: String(entries.length) }));
    entries.forEach(function (entry, i) {
      var html = bundle.entries[id].split("%I%").join(String(i)).split("%N%").join(String(i + 1));
      var parsed = new DOMParser().parseFromString("<body>" + html + "</body>", "text/html").body;
      Array.prototype.slice.call(parsed.children).forEach(function (child) {
        var node = wrap.appendChild(document.importNode(child, true));
        meta.order.forEach(function (sub) { fill(node, id + "__" + i + "__" + sub, meta.items[sub], entry[sub]); });
      });
    });
    if (!entries.length) { wrap.appendChild(el("p", { "class": "meta" }, bundle.words.no_entries)); }
    if (entries.length < meta.max_repeat) {
      wrap.appendChild(el("button", { type: "submit", name: "go", value: "add:" + id, "class": "button secondary" },
                          bundle.words.add_entry));
    }
  }

  /* "Don't want to answer", or the note that the question was declined (as the server renders it). */
  function showDecline(box, id) {
    if (!bundle.items[id].decline) { return; }
    var button = box.querySelector("button[name=decline]");
    var note = box.querySelector(".declined-note");
    var declined = state.declined.indexOf(id) >= 0;
    if (declined && button) {
      button.replaceWith(el("p", { "class": "declined-note" }, bundle.words.declined_note));
    } else if (!declined && note) {
      note.replaceWith(el("button", { type: "submit", name: "decline", value: id, "class": "button quiet" },
                          bundle.words.decline));
    }
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
      if (bundle.items[id].type === "group") { showEntries(box, id); } else { fill(box, id, bundle.items[id], state.answers[id]); }
      showDecline(box, id);
      box.querySelectorAll("input, textarea, button").forEach(function (field) { field.disabled = !visible; });
    });
    showProgress(pageId);
    history.replaceState(null, "", location.pathname + "?page=" + encodeURIComponent(pageId));
    keepState();
    var legend = node.querySelector("fieldset.question:not([hidden]) legend");
    if (legend) { legend.focus(); }
  }

  /* One answer as the review shows it (fill/_review.html "shown"). */
  function answerNode(meta, value) {
    var words = bundle.words;
    if (value === undefined || value === null) { return el("em", {}, words.not_answered); }
    if (meta.type === "choice") {
      var key = Object.keys(meta.options).filter(function (k) { return same(meta.codes[k], value); })[0];
      return document.createTextNode(key === undefined ? "" : meta.options[key]);
    }
    if (meta.type === "boolean") { return document.createTextNode(value ? words.yes : words.no); }
    if (meta.type === "group") {
      if (!value.length) { return el("em", {}, words.no_entries); }
      var list = el("ol", { "class": "review-entries" });
      value.forEach(function (entry, i) {
        var li = el("li");
        li.appendChild(el("span", { "class": "entry-title" }, words.entry.split("%N%").join(String(i + 1))));
        var dl = el("dl");
        meta.order.forEach(function (sub) {
          dl.appendChild(el("dt", {}, meta.items[sub].label));
          var dd = el("dd");
          dd.appendChild(answerNode(meta.items[sub], entry[sub]));
          dl.appendChild(dd);
        });
        li.appendChild(dl);
        list.appendChild(li);
      });
      return list;
    }
    return document.createTextNode(String(value));
  }

  /* What the server's submit checks (submission.py check_submission): hidden answers, missing required. */
  function isRequired(id, answers) {
    var meta = bundle.items[id];
    if (!shown(id, answers)) { return false; }
    if (meta.required_if) { return holds(meta.required_if, answers); }
    return meta.required !== false;
  }
  function submitCheck() {
    var order = [];
    bundle.pages.forEach(function (p) { order = order.concat(p.items); });
    var hidden = order.filter(function (id) { return id in state.answers && !shown(id, state.answers); });
    // What is kept: not the hidden answers, and of each group only the entries that hold an answer.
    var kept = {};
    Object.keys(state.answers).forEach(function (k) {
      if (hidden.indexOf(k) >= 0) { return; }
      var group = bundle.items[k] && bundle.items[k].type === "group" && Array.isArray(state.answers[k]);
      kept[k] = group ? filledEntries(state.answers[k]) : state.answers[k];
    });
    var declined = state.declined.filter(function (d) { return shown(d, kept); });
    // Shown questions that must be answered and are not, and groups short of min_repeat filled entries.
    var missing = order.filter(function (id) {
      var meta = bundle.items[id];
      var tooFew = meta.type === "group" && filledEntries(kept[id]).length < (meta.min_repeat || 0);
      return shown(id, kept) && declined.indexOf(id) < 0 &&
        ((!answeredIn(kept, declined, id) && isRequired(id, kept)) || tooFew);
    });
    return { hidden: hidden, missing: missing };
  }

  function pageOf(id) {
    var page = visiblePages().filter(function (p) { return p.items.indexOf(id) >= 0; })[0];
    return page ? page.id : null;
  }

  /* Every shown question with its answer, the unanswered ones linked back, and submit (fill/_review.html). */
  function showReview(error) {
    current = null;
    var words = bundle.words;
    var section = el("section", { id: "fill-step", "class": "stepper review", lang: bundle.lang, "aria-labelledby": "step-title" });
    section.appendChild(el("h1", { id: "step-title", "class": "step-title", tabindex: "-1" }, words.review));
    section.appendChild(el("p", { "class": "meta" }, words.title));
    var check = submitCheck();
    var rows = [];
    bundle.pages.forEach(function (p) {
      p.items.forEach(function (id) {
        if (!shown(id, state.answers)) { return; }
        rows.push({ id: id, page: pageOf(id), answered: hasAnswer(id), declined: state.declined.indexOf(id) >= 0,
                    required: check.missing.indexOf(id) >= 0 });
      });
    });
    // A submit the server would refuse (a required question open, a group short of min_repeat filled
    // entries): as the review says after a refused submit.
    var alert = null;
    if (error && check.missing.length) {
      alert = el("div", { "class": "error-message", role: "alert", tabindex: "-1" });
      alert.appendChild(el("p", {}, words.incomplete));
      section.appendChild(alert);
    }
    function jump(row) {
      return el("button", { type: "button", "class": "link-button", "data-page": row.page }, bundle.items[row.id].label);
    }
    var open = rows.filter(function (row) { return !row.answered; });
    if (open.length) {
      var box = el("div", { "class": "notice", role: "status" });
      box.appendChild(el("p", {}, words.missing.replace(/\d+/, String(open.length))));
      var list = el("ul", { "class": "missing-list" });
      open.forEach(function (row) {
        var li = el("li");
        li.appendChild(jump(row));
        if (row.required) {
          li.appendChild(document.createTextNode(" "));
          li.appendChild(el("strong", { "class": "must-answer" }, words.must));
        }
        list.appendChild(li);
      });
      box.appendChild(list);
      section.appendChild(box);
    } else {
      section.appendChild(el("p", { "class": "ok-note", role: "status" }, words.all_answered));
    }
    if (check.hidden.length) {
      var gone = el("div", { "class": "notice" });
      gone.appendChild(el("p", {}, words.hidden));
      var ul = el("ul");
      check.hidden.forEach(function (id) { ul.appendChild(el("li", {}, bundle.items[id].label)); });
      gone.appendChild(ul);
      section.appendChild(gone);
    }
    var table = el("table", { "class": "review-table" });
    table.appendChild(el("caption", {}, words.your_answers));
    var head = el("tr");
    head.appendChild(el("th", { scope: "col" }, words.question));
    head.appendChild(el("th", { scope: "col" }, words.answer));
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("th", { scope: "row" })).appendChild(jump(row));
      var td = tr.appendChild(el("td"));
      if (row.declined) { td.appendChild(el("em", {}, words.declined)); }
      else if (!row.answered) { td.appendChild(el("em", {}, words.not_answered)); }
      else { td.appendChild(answerNode(bundle.items[row.id], state.answers[row.id])); }
      body.appendChild(tr);
    });
    section.appendChild(table);
    var form = el("form", { method: "post", "class": "submit-form offline-submit" });
    form.appendChild(el("button", { type: "submit", "class": "button" }, words.submit));
    section.appendChild(form);
    var switcher = el("form", { method: "post", "class": "answer-language" });
    Object.keys(bundle.switch || {}).forEach(function (code) {
      if (code === bundle.lang || !textsOf(code)) { return; }
      switcher.appendChild(el("button", { type: "submit", name: "lang", value: code, "class": "link-button", lang: code },
                              bundle.switch[code]));
    });
    section.appendChild(switcher);
    replaceStep(section);
    keepState();
    (alert || section.querySelector("h1")).focus();
  }

  // -- the answer language ------------------------------------------------------------------------
  /* Show the prepared form in another answer language; the switch is queued like a save, so the
     server's draft gets the same language at sync (POST /fill/<response>/language). */
  /* The prepared texts of one answer language: the form's current ones at the top of the bundle,
     the others under ``languages``. */
  function textsOf(code) {
    if (code === bundle.lang) {
      return { pages: bundle.pages, items: bundle.items, words: bundle.words, entries: bundle.entries,
               problems: bundle.problems };
    }
    return (bundle.languages || {})[code];
  }
  function useLanguage(code) {
    var texts = textsOf(code);
    if (!texts || code === bundle.lang) { return false; }
    bundle.languages = bundle.languages || {};
    bundle.languages[bundle.lang] = textsOf(bundle.lang);
    bundle.lang = code;
    bundle.pages = texts.pages;
    bundle.items = texts.items;
    bundle.words = texts.words;
    bundle.entries = texts.entries;
    bundle.problems = texts.problems;
    return true;
  }

  function switchLanguage(code) {
    if (!useLanguage(code)) { return; }
    applied = window.FormengineQueue.newKey();
    window.FormengineStepper.giveLocal("/fill/" + bundle.response + "/language", bundle.response,
                                       [["csrf_token", ""], ["lang", code], ["page", current || "review"]], applied);
    if (intended) { showThanks(); } else if (current) { showPage(current); } else { showReview(); }
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
  /* Taking the tablet back is the team member's, in their language (as the server's unlock page). */
  function teamWords() {
    var team = textsOf(bundle.team_lang);
    return team ? team.words : bundle.words;
  }

  function lock() {
    locked = true;
    keepState();
    document.body.classList.add("offline-locked");
    var header = document.querySelector(".site-header");
    // (The server's hand-over page has its own link to unlock; it is answered here without a network.)
    if (header && !$("offline-give-back") && !header.querySelector("a[href$='/unlock']")) {
      var back = el("button", { type: "button", id: "offline-give-back", "class": "link-button", lang: document.documentElement.lang },
                    teamWords().give_back);
      header.appendChild(back);
    }
  }

  function showUnlock(message) {
    var words = teamWords();
    var section = el("section", { id: "fill-step", "class": "narrow panel" });
    section.appendChild(el("h1", { tabindex: "-1" }, words.unlock_title));
    if (message) { section.appendChild(el("p", { "class": "error-message", role: "alert" }, message)); }
    section.appendChild(window.FormengineDom.unlockForm("offline", words));
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
    if (!bundle.verifier) { showUnlock(teamWords().locked); return; }
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
        keepState();
        document.body.classList.remove("offline-locked");
        var back = $("offline-give-back");
        if (back) { back.remove(); }
        if (submitted) { forget(); window.FormengineQueue.reload(); return; }  // show the result
        // As the server's unlock: the rest of the form is the team member's, in their language.
        if (!navigator.onLine && !intended && bundle.team_lang && bundle.team_lang !== bundle.lang) {
          switchLanguage(bundle.team_lang);
          return;
        }
        if (intended) { showThanks(); } else if (current) { showPage(current); } else { showReview(); }
        return;
      }
      tries += 1;
      keepState();
      if (tries >= MAX_TRIES) {
        bundle.verifier = null;  // no more guesses here: the team member logs in again online
        if (window.FormengineStore) { window.FormengineStore.forget(bundle.response); }  // nor on the tablet
        showUnlock(teamWords().locked);
        return;
      }
      showUnlock(teamWords().wrong.replace(/\d+/, String(MAX_TRIES - tries)));
    });
  }

  // -- taking over when the network is away -----------------------------------------------------------
  function offline() { return bundle !== null && bundle.response === responseId() && navigator.onLine === false; }

  /* Called by fill.js for every save given: true when this page shows the next step itself ({stay: true,
     appeared} when it stays on the step), {refused: reason} when the server would refuse the save (fill.js
     then says why and queues nothing), false when the server's reply decides. */
  function handle(fields, key) {
    if (!bundle || bundle.response !== responseId()) { return false; }
    if (replaying) { replaying.push([fields, key]); return false; }  // applied after the waiting ones (replay)
    var nav = record(fields);
    applied = key || applied;
    if (!nav) { return false; }
    var moves = !nav.refused && nav.go !== "stay";
    // The state kept with this save names the step it leads to (the server's reply leads there too): a
    // reload in the moment before the next step's own state is written reopens there, not a step back.
    if (moves) { current = nextStep(nav.page, nav.go, nav.before, nav.decline); }
    keepState();
    if (!offline()) { return false; }
    if (nav.refused) { return { refused: nav.refused }; }
    if (nav.go === "stay") {
      refreshShown(nav.page);
      var page = bundle.pages.filter(function (p) { return p.id === nav.page; })[0];
      var appeared = shownOn(page).some(function (i) { return nav.before.indexOf(i) < 0 && !hasAnswer(i); });
      return { stay: true, appeared: appeared };
    }
    if (current === null) { showReview(); } else { showPage(current); }
    return true;
  }

  var lastVersion = null;  // the draft's version the last step shown was based on
  var intended = false;    // the submit is queued
  function submitIntent() {
    // The server refuses a submit with a required question unanswered: so does the tablet, before queuing.
    var check = submitCheck();
    if (check.missing.length) { showReview("refused"); return; }
    intended = true;
    var version = $("fill-version");
    if (version) { lastVersion = version.value; }
    applied = window.FormengineQueue.newKey();
    keepState();
    // The queue sends it after the answers, based on the version their saves reached.
    window.FormengineStepper.giveLocal("/fill/" + bundle.response + "/submit", bundle.response,
                                       [["csrf_token", ""], ["version", lastVersion || String(bundle.version)]], applied);
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
      lockTold = navigator.onLine;
      if (navigator.onLine) { tell(action, new FormData(form)); }
      lock();
      return;
    }
    if (form.classList.contains("answer-language") && bundle && bundle.response === responseId()) {
      // The prepared form switches its own wording, with or without a network (the page, and with it the
      // prepared form, stays); the switch is queued for the server like a save.
      evt.preventDefault(); evt.stopImmediatePropagation();
      if (evt.submitter && evt.submitter.name === "lang") { switchLanguage(evt.submitter.value); }
      return;
    }
    if (!offline() && !form.classList.contains("offline-submit")) { return; }
    if (form.classList.contains("offline-submit") || /\/submit$/.test(action)) {
      evt.preventDefault(); evt.stopImmediatePropagation();
      submitIntent();
    } else if (!form.classList.contains("step-form") && locked) {
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
    // A link to a step of this form (the review the server sent links its questions so) is shown here.
    var link = target.closest("a[href]");
    if (link && offline()) {
      var url = new URL(link.href, location.href);
      var step = url.pathname === "/fill/" + bundle.response && url.searchParams.get("page");
      if (step && bundle.pages.some(function (p) { return p.id === step; })) {
        evt.preventDefault(); evt.stopImmediatePropagation();
        showPage(step);
        return;
      }
    }
    // Handed over, no link leads anywhere but to the server's unlock page (with a network).
    if (locked && target.closest("a[href]") && !target.closest("a[href$='/unlock']")) {
      evt.preventDefault(); evt.stopImmediatePropagation();
    }
  }, true);

  // -- preparing ------------------------------------------------------------------------------------
  function prepare(form) {
    var status = form.querySelector(".prepare-status");
    var body = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-url"), { method: "POST", body: body, credentials: "same-origin",
                                           headers: { Accept: "application/json" } })
      .then(function (reply) { return reply.json().then(function (json) { return { ok: reply.ok, json: json }; }); })
      .then(function (result) {
        var secret = form.querySelector("input[type=password]").value;
        form.querySelector("input[type=password]").value = "";
        if (!result.ok) { status.textContent = result.json.error || ""; status.className = "prepare-status error-message"; return; }
        bundle = result.json;
        state = { answers: bundle.answers, declined: bundle.declined };
        // Kept on the tablet, encrypted (offline-store.js), so a reload without a network can go on.
        var store = window.FormengineStore;
        var kept = store ? store.keep([{ response: bundle.response, url: location.pathname, bundle: bundle,
                                         title: document.title.split(" · ")[0], who: "" }], secret)
                                .catch(function () { return null; }) : Promise.resolve();
        kept.then(function () {
          status.textContent = form.getAttribute("data-ready");
          status.className = "prepare-status ok-note";
        });
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

  // -- kept on the tablet (offline-store.js, offline-visit.js) ---------------------------------------
  /* What to keep of this form after each change: the answers, where it stood, hand-over, submit. */
  function snapshot() {
    if (!bundle) { return null; }
    var version = $("fill-version");
    return { answers: state.answers, declined: state.declined, current: current, locked: locked, told: lockTold,
             lang: bundle.lang, applied: applied,
             intended: intended, tries: tries, version: (version && version.value) || lastVersion || String(bundle.version) };
  }
  var lockTold = false;  // the server was told of the hand-over (there was a network)
  function keepState() {
    if (!bundle || !window.FormengineStore || !window.FormengineStore.unlocked()) { return; }
    var response = bundle.response;
    var kept = snapshot();
    var queue = window.FormengineQueue;
    // Written once the save it reflects is in the answer queue, so a kept state never names a save the
    // queue never held (restore replays the waiting saves after it). The save is queued right after
    // this call, in the same task: the check waits for the task's end (a microtask) before asking.
    Promise.resolve().then(function () { return queue ? queue.written() : undefined; })
      .then(function () { window.FormengineStore.saveState(response, kept); });
  }

  function fieldOf(fields, name) {
    var pair = fields.filter(function (p) { return p[0] === name; })[0];
    return pair ? pair[1] : undefined;
  }

  /* Bring a reopened form's state up to date with its saves still waiting in the answer queue: the
     state is written a moment after each answer, so one given just before a reload may not be in it.
     Only the saves after the last one the state reflects are applied (all of them when that one was
     sent meanwhile, or the state names none), each as the live save applied it. Resolves to the step
     the last of them led to ({step}: a page id, or null for the review), or null when none was applied. */
  function replay(response) {
    var queue = window.FormengineQueue;
    if (!queue || !queue.saves) { return Promise.resolve(null); }
    var since = applied;
    replaying = [];
    var keys = [];
    function late() {
      // Saves given on the page meanwhile (a page with a network shows the server's step at once): after
      // the waiting ones, unless they were among them.
      var given = replaying || [];
      replaying = null;
      if (!bundle || bundle.response !== response) { return; }
      given.forEach(function (save) {
        if (keys.indexOf(save[1]) >= 0) { return; }
        record(save[0]);
        applied = save[1] || applied;
      });
      if (given.length) { keepState(); }
    }
    return queue.saves(response).then(function (waiting) {
      if (!bundle || bundle.response !== response) { return null; }
      keys = waiting.map(function (save) { return save.key; });
      var newer = waiting.slice(since ? keys.indexOf(since) + 1 : 0);
      if (!newer.length) { return null; }
      var moved = { step: undefined };
      newer.forEach(function (save) {
        applied = save.key;
        if (/\/language$/.test(save.url)) { useLanguage(fieldOf(save.fields, "lang")); return; }
        if (/\/submit$/.test(save.url)) { intended = true; lastVersion = fieldOf(save.fields, "version") || lastVersion; return; }
        var nav = record(save.fields);
        if (!nav || nav.refused) { return; }
        moved.step = nextStep(nav.page, nav.go, nav.before, nav.decline);
      });
      keepState();
      return moved;
    }).catch(function () { return null; }).then(function (moved) { late(); return moved; });
  }
  /* Take up a kept form (after a reload); ``show`` draws it here (the page kept for use offline). */
  function restore(kept, saved, show) {
    bundle = kept;
    saved = saved || {};
    if (saved.lang && saved.lang !== kept.lang) {
      useLanguage(saved.lang);  // switched since it was prepared (the switch itself is in the answer queue)
    }
    state = { answers: saved.answers || kept.answers || {}, declined: saved.declined || kept.declined || [] };
    intended = !!saved.intended;
    tries = saved.tries || 0;
    lastVersion = saved.version || String(kept.version);
    submitted = false;
    lockTold = !!saved.told;
    applied = saved.applied || null;
    if (saved.locked) { lock(); } else if (locked) {
      locked = false;
      document.body.classList.remove("offline-locked");
      if ($("offline-give-back")) { $("offline-give-back").remove(); }
    }
    return replay(kept.response).then(function (moved) {
      if (!show || bundle !== kept) { return; }
      var visible = visiblePages().map(function (p) { return p.id; });
      // Where the last waiting save led (null: the review), else where the form stood.
      var page = moved && moved.step !== undefined ? moved.step : (saved.current || resumeStep());
      if (page && visible.indexOf(page) < 0) { page = resumeStep(); }
      if (intended) { showThanks(); } else if (page) { showPage(page); } else { showReview(); }
    });
  }

  window.FormengineOffline = { handle: handle, active: offline, restore: restore, snapshot: snapshot,
                               current: function () { return bundle && bundle.response; } };
  if (stepForm()) { current = stepForm().querySelector("input[name=page]").value; }
})();
