// Live state for a case page: server-sent events from /inbox/cases/{id}/events carry the
// case's state whenever it changed (here or on another instance): the stand of the case,
// each signal's Signaalstatus and the inbox status of each earlier signal on the page.
// The cells of rows already on screen are updated in place; a new contact attempt or a
// change of the steps that can be taken is said, with a hint to reload. Each change is
// said in the polite live region #live-news (for screen readers).
// After a step (the page that answers a form, "?done=..."), the focus starts on its
// notice (#case-done, role="status"), so keyboard and screen-reader users hear what
// happened and go on from there, not from the top of the page; after a form whose
// input did not fit, on the list of its problems (#case-errors, role="alert"), whose
// links lead to the fields.
// Built with textContent only: nothing from the server becomes HTML. The texts come
// from the page (#ui-texts, through static/dutch.js), in the page's language.
(function () {
  "use strict";
  var t = window.dutch.text;
  var done = document.getElementById("case-errors") || document.getElementById("case-done");
  if (done) { done.focus(); }
  var table = document.getElementById("case-signals");
  var status = document.getElementById("live-status");
  var news = document.getElementById("live-news");
  var stateCell = document.getElementById("case-state");
  if (!table || !window.EventSource) {
    if (status) { status.textContent = t("live_unsupported_case"); }
    return;
  }
  var shown = JSON.parse(document.getElementById("case-live").textContent);
  var caseId = table.dataset.case;

  function say(text) {
    if (news) { news.textContent = text; }
  }

  function row(section, id) {
    return document.querySelector(section + ' tr[data-id="' + CSS.escape(id) + '"]');
  }

  function apply(next) {
    var changes = [];
    if (next.state !== shown.state) {
      stateCell.textContent = next.state;
      changes.push(t("case_state", { text: next.state }));
    }
    Object.keys(next.signals).forEach(function (id) {
      var tr = row("#case-signals", id);
      if (!tr) { return; }
      var td = tr.querySelector(".signal-status");
      if (td.textContent !== next.signals[id]) {
        td.textContent = next.signals[id];
        changes.push(t("signal_status", { text: next.signals[id] }));
      }
    });
    Object.keys(next.earlier).forEach(function (id) {
      var tr = row("#earlier", id);
      if (!tr) { return; }
      var td = tr.querySelector(".earlier-status");
      if (td.textContent !== next.earlier[id]) {
        td.textContent = next.earlier[id];
        changes.push(t("earlier_signal", { text: next.earlier[id].toLowerCase() }));
      }
    });
    var steps = next.attempts !== shown.attempts || next.open !== shown.open ||
      next.taken_up !== shown.taken_up ||
      Object.keys(next.signals).length !== Object.keys(shown.signals).length;
    shown = next;
    if (steps) { changes.push(t("reload_for_steps")); }
    if (changes.length) { say(t("case_changed", { text: changes.join("; ") })); }
  }

  function connect() {
    var source = new EventSource("/inbox/cases/" + encodeURIComponent(caseId) + "/events");
    source.onopen = function () { status.textContent = t("live_on"); };
    source.onerror = function () { status.textContent = t("live_retry"); };
    source.addEventListener("signed-out", function () {
      source.close();
      status.textContent = t("live_signed_out");
      window.location.reload();
    });
    source.addEventListener("case", function (event) { apply(JSON.parse(event.data)); });
  }
  connect();
}());
