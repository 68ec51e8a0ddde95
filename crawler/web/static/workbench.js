// brandsweep workbench keys. Every decision is a POST with the page's CSRF token to
// /actions/<confirm|dismiss|undo>; decisions are sent one after another, in the order
// they were pressed, so an undo never overtakes the decision it takes back.
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var UNDO = "brandsweep-undo";    // sessionStorage: a stack of {ids} decided here
  var ORDER = "brandsweep-order";  // sessionStorage: the queue's case ids, for j/k on a case
  var main = document.querySelector("main");
  var pageKind = main ? main.getAttribute("data-page") : null;
  var cursorId = null;
  var cursorIndex = 0;
  var wantId = null;  // where the cursor goes once a fresh fragment shows that case
  var selected = new Set();
  var pending = new Set();  // ids with a decision on its way: kept hidden in the queue
  var decided = new Set();  // ids decided here: a queue fragment older than that is stale
  var chain = Promise.resolve();
  var dismissIds = null;

  function $(id) { return document.getElementById(id); }

  function flash(text, isError) {
    var box = $("flash");
    if (!box) { return; }
    box.textContent = text;
    box.className = isError ? "error" : "";
    clearTimeout(flash.timer);
    flash.timer = setTimeout(function () { box.textContent = ""; }, isError ? 8000 : 2500);
  }

  function loadStack() {
    try { return JSON.parse(sessionStorage.getItem(UNDO) || "[]"); } catch (e) { return []; }
  }
  function saveStack(stack) { sessionStorage.setItem(UNDO, JSON.stringify(stack.slice(-200))); }

  function post(action, ids, reason) {
    var body = new URLSearchParams();
    body.set("ids", ids.join(","));
    body.set("reason", reason || "");
    return fetch("/actions/" + action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf }
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error(data.error || ("HTTP " + r.status)); }
        return data;
      });
    });
  }

  // post a decision (undo: the last one) and keep the undo stack; data.ids: what it named
  function record(action, ids, reason) {
    var stack = loadStack();
    if (action === "undo") {
      if (!stack.length) { throw new Error("nothing to undo"); }
      ids = stack[stack.length - 1].ids;
    }
    return post(action, ids, reason).then(function (data) {
      if (action === "undo") { stack.pop(); } else { stack.push({ action: action, ids: data.done }); }
      saveStack(stack);
      data.ids = ids;
      return data;
    });
  }

  // one decision at a time, in order; `after` runs once the store has it
  function enqueue(action, ids, reason, after) {
    ids.forEach(function (id) { pending.add(id); });
    chain = chain.then(function () {
      return record(action, ids, reason).then(function (data) {
        data.done.forEach(function (id) {
          if (action === "undo") { decided.delete(id); } else { decided.add(id); }
        });
        flash(data.done.length + (data.done.length === 1 ? " case " : " cases ") +
              (action === "undo" ? "back to " + data.statuses[data.done[0]] : action + "ed"));
        if (after) { after(data); }
      });
    }).catch(function (err) {
      flash(err.message, true);
    }).then(function () {
      ids.forEach(function (id) { pending.delete(id); });
      refresh();
    });
  }

  // -- the queue -------------------------------------------------------------------------

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.case:not(.decided)"));
  }

  function paint() {
    var all = document.querySelectorAll("tr.case");
    var ids = [];
    Array.prototype.forEach.call(all, function (tr) {
      var id = Number(tr.getAttribute("data-id"));
      var hidden = pending.has(id) || (decided.has(id) && tr.getAttribute("data-status") === "open");
      tr.classList.toggle("decided", hidden);
      tr.classList.toggle("selected", selected.has(id));
      tr.classList.remove("cursor");
      if (!hidden) { ids.push(id); }
    });
    var visible = rows();
    if (!visible.length) { cursorId = null; return; }
    if (wantId !== null && visible.some(function (tr) { return Number(tr.getAttribute("data-id")) === wantId; })) {
      cursorId = wantId;
      wantId = null;
    }
    var at = visible.findIndex(function (tr) { return Number(tr.getAttribute("data-id")) === cursorId; });
    if (at < 0) { at = Math.min(cursorIndex, visible.length - 1); }
    cursorIndex = at;
    cursorId = Number(visible[at].getAttribute("data-id"));
    visible[at].classList.add("cursor");
    sessionStorage.setItem(ORDER, JSON.stringify(ids));
  }

  function move(step) {
    var visible = rows();
    if (!visible.length) { return; }
    wantId = null;
    cursorIndex = Math.max(0, Math.min(visible.length - 1, cursorIndex + step));
    cursorId = Number(visible[cursorIndex].getAttribute("data-id"));
    paint();
    visible[cursorIndex].scrollIntoView({ block: "nearest" });
  }

  function current() {
    return rows().find(function (tr) { return Number(tr.getAttribute("data-id")) === cursorId; });
  }

  function refresh() {
    if (pageKind === "queue" && window.htmx) {
      window.htmx.trigger(document.body, "refresh");
    } else if (pageKind === "case") {
      window.location.reload();
    }
  }

  function decideQueue(action, ids, reason) {
    if (!ids.length) { flash("nothing selected: x selects a case, a every case shown", true); return; }
    wantId = null;
    ids.forEach(function (id) { pending.add(id); selected.delete(id); });
    paint();
    enqueue(action, ids, reason);
  }

  function selection() {
    return rows().map(function (tr) { return Number(tr.getAttribute("data-id")); })
      .filter(function (id) { return selected.has(id); });
  }

  function sellerView(seller, marketplace) {
    var params = new URLSearchParams(window.location.search);
    if (pageKind === "queue" && params.get("seller")) {
      params.delete("seller");
      params.delete("marketplace");
    } else {
      if (!seller) { flash("this listing has no seller", true); return; }
      params = new URLSearchParams(pageKind === "queue" ? window.location.search : "");
      params.set("seller", seller);
      params.set("marketplace", marketplace);
    }
    params.delete("offset");
    window.location.assign("/queue?" + params.toString());
  }

  // -- dismiss reasons -------------------------------------------------------------------

  function askReason(ids) {
    if (!ids.length) { flash("nothing selected: x selects a case, a every case shown", true); return; }
    dismissIds = ids;
    $("reason-count").textContent = ids.length === 1 ? "case " + ids[0] : ids.length + " cases";
    $("reason-panel").hidden = false;
    $("reason-text").value = "";
    $("reason-text").focus();
  }

  function closeReason() {
    $("reason-panel").hidden = true;
    $("reason-text").blur();
    dismissIds = null;
  }

  function dismissWith(reason) {
    var ids = dismissIds;
    closeReason();
    if (!reason || !ids) { return; }
    if (pageKind === "queue") { decideQueue("dismiss", ids, reason); } else { decideCase("dismiss", reason); }
  }

  function reasonKey(ev) {
    var input = $("reason-text");
    if (ev.key === "Escape") { ev.preventDefault(); closeReason(); return; }
    if (ev.key === "Enter") { ev.preventDefault(); dismissWith(input.value.trim()); return; }
    if (/^[1-9]$/.test(ev.key) && !input.value) {
      var item = document.querySelectorAll("#reason-panel li")[Number(ev.key) - 1];
      if (item) { ev.preventDefault(); dismissWith(item.getAttribute("data-reason")); }
    }
  }

  // -- a case page -----------------------------------------------------------------------

  function neighbour(step) {
    var order;
    try { order = JSON.parse(sessionStorage.getItem(ORDER) || "[]"); } catch (e) { order = []; }
    var id = Number(main.getAttribute("data-case-id"));
    var at = order.indexOf(id);
    if (at < 0) { return null; }
    return order[at + step] || null;
  }

  function decideCase(action, reason) {
    var id = Number(main.getAttribute("data-case-id"));
    var ids = action === "undo" ? [] : [id];
    chain = chain.then(function () {
      return record(action, ids, reason).then(function (data) {
        var next = action === "undo" ? data.ids[0] : neighbour(1);
        if (next && next !== id) { window.location.assign("/cases/" + next); } else { window.location.reload(); }
      });
    }).catch(function (err) { flash(err.message, true); });
  }

  // -- keys ------------------------------------------------------------------------------

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (!$("reason-panel").hidden) { reasonKey(ev); return; }
    if (typing(ev.target)) { return; }
    var key = ev.key;
    if (key === "?") { $("help").hidden = !$("help").hidden; ev.preventDefault(); return; }
    if (key === "Escape") { $("help").hidden = true; selected.clear(); paint(); return; }
    if (pageKind === "queue") {
      var row = current();
      var id = row ? Number(row.getAttribute("data-id")) : null;
      var one = id === null ? [] : [id];
      switch (key) {
        case "j": move(1); break;
        case "k": move(-1); break;
        case "Enter": case "o": if (row) { window.location.assign("/cases/" + id); } break;
        case "c": decideQueue("confirm", one); break;
        case "d": askReason(one); break;
        case "C": decideQueue("confirm", selection()); break;
        case "D": askReason(selection()); break;
        case "u": enqueue("undo", [], "", function (data) { wantId = data.done[0]; }); break;
        case "x": if (id !== null) { if (selected.has(id)) { selected.delete(id); } else { selected.add(id); } paint(); } break;
        case "a": rows().forEach(function (tr) { selected.add(Number(tr.getAttribute("data-id"))); }); paint(); break;
        case "s": if (row) { sellerView(row.getAttribute("data-seller"), row.getAttribute("data-marketplace")); } else { sellerView("", ""); } break;
        case "g": groupToggle(); break;
        default: return;
      }
      ev.preventDefault();
    } else if (pageKind === "case") {
      var caseId = Number(main.getAttribute("data-case-id"));
      switch (key) {
        case "j": case "k":
          var next = neighbour(key === "j" ? 1 : -1);
          if (next) { window.location.assign("/cases/" + next); } else { flash("no " + (key === "j" ? "next" : "previous") + " case in the queue", true); }
          break;
        case "c": decideCase("confirm"); break;
        case "d": askReason([caseId]); break;
        case "u": decideCase("undo"); break;
        case "s": sellerView(main.getAttribute("data-seller"), main.getAttribute("data-marketplace")); break;
        case "q": window.location.assign("/queue"); break;
        default: return;
      }
      ev.preventDefault();
    } else if (key === "q") {
      window.location.assign("/queue");
    }
  });

  function groupToggle() {
    var params = new URLSearchParams(window.location.search);
    if (params.get("group") === "seller") { params.delete("group"); } else { params.set("group", "seller"); }
    window.location.assign("/queue?" + params.toString());
  }

  document.body.addEventListener("htmx:afterSwap", paint);
  document.body.addEventListener("htmx:afterRequest", function (ev) {
    var path = ev.detail && ev.detail.pathInfo ? ev.detail.pathInfo.requestPath : "";
    if (/^\/notices\/\d+\/submit$/.test(path)) {
      if (ev.detail.successful) { window.location.reload(); } else { flash(ev.detail.xhr.responseText, true); }
    }
  });
  paint();
}());
