// Live rows for the team inbox: server-sent events from /inbox/events insert each new
// alert at the top of the table (urgent ones above the normal ones) and update the status
// and claim of a listed one (claimed or closed, here or on another instance), without a
// reload. `after` is the inbox's change counter of the last event seen. Each change is
// also said in the polite live region #live-news (for screen readers).
// Built with DOM methods and textContent only: nothing from the server becomes HTML.
// The labels come from the page (#inbox-labels, from hub/web/texts.py) and so do the
// other texts (#ui-texts, through static/dutch.js), in the page's language.
(function () {
  "use strict";
  var t = window.dutch.text;
  var table = document.getElementById("alerts");
  var status = document.getElementById("live-status");
  var news = document.getElementById("live-news");
  if (!table || !window.EventSource) {
    if (status) { status.textContent = t("live_unsupported_inbox"); }
    return;
  }
  var labels = JSON.parse(document.getElementById("inbox-labels").textContent);
  var body = table.tBodies[0];
  var after = table.dataset.after || "";
  var query = table.dataset.query || "";

  function label(kind, value) {
    return (labels[kind] && labels[kind][value]) || value;
  }

  function formatDate(iso) {
    return window.dutch ? window.dutch.date(iso) : (iso || "\u2013");
  }

  function say(text) {
    if (news) { news.textContent = text; }
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) {
      var span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
    return td;
  }

  function statusSpan(a) {
    var span = document.createElement("span");
    span.className = "status-" + a.status;
    span.textContent = label("status", a.status);
    return span;
  }

  // the due date, with "te laat: N werkdagen" when the server counts it late (the
  // server counts Dutch working days; a closed alert is never late)
  function dueCell(td, a) {
    td.textContent = formatDate(a.due_date);
    var late = a.overdue_working_days || 0;
    if (a.due_date && late > 0) {
      var mark = document.createElement("strong");
      mark.className = "overdue";
      mark.textContent = t(late === 1 ? "overdue_one" : "overdue_many", { num: late });
      td.appendChild(document.createTextNode(" "));
      td.appendChild(mark);
    }
    return td;
  }

  function updateRow(row, a) {
    var cells = row.cells;
    dueCell(cells[1], a);
    cells[5].replaceChildren(statusSpan(a));
    cells[6].textContent = a.claimed_by || "\u2013";
    say(t("alert_changed", { text: label("event_type", a.event_type) + ", " +
      label("status", a.status).toLowerCase() +
      (a.claimed_by ? " " + t("claimed_by", { name: a.claimed_by }) : "") }));
  }

  function addRow(a) {
    var known = body.querySelector('tr[data-id="' + CSS.escape(a.alert_id) + '"]');
    if (known) { updateRow(known, a); return; }
    var row = document.createElement("tr");
    row.dataset.id = a.alert_id;
    row.className = "new-row" + (a.urgency === "URGENT" ? " urgent" : "");
    cell(row, label("urgency", a.urgency), "badge " + a.urgency.toLowerCase());
    dueCell(cell(row, ""), a);
    cell(row, a.created);
    var kind = cell(row, "");
    var link = document.createElement("a");
    link.href = a.url;
    link.textContent = label("event_type", a.event_type);
    kind.appendChild(link);
    cell(row, a.team_name || a.team_id);
    row.appendChild(document.createElement("td")).appendChild(statusSpan(a));
    cell(row, a.claimed_by || "\u2013");
    // urgent alerts go first; a new normal alert goes above the first normal one
    var before = null;
    if (a.urgency !== "URGENT") {
      before = body.querySelector("tr:not(.urgent)");
    } else {
      before = body.firstElementChild;
    }
    body.insertBefore(row, before);
    var empty = document.getElementById("empty");
    if (empty) { empty.hidden = true; }
    say(t("alert_new", { text: label("event_type", a.event_type) + ", " +
      label("urgency", a.urgency).toLowerCase() }));
  }

  function connect() {
    var url = "/inbox/events?after=" + encodeURIComponent(after) + (query ? "&" + query : "");
    var source = new EventSource(url);
    source.onopen = function () { status.textContent = t("live_on"); };
    source.onerror = function () { status.textContent = t("live_retry"); };
    source.addEventListener("signed-out", function () {
      // the session ended on the server: stop, and let the reload lead to the login form
      source.close();
      status.textContent = t("live_signed_out");
      window.location.reload();
    });
    source.addEventListener("alert", function (event) {
      var a = JSON.parse(event.data);
      if (a.version > Number(after)) { after = String(a.version); }
      addRow(a);
    });
  }
  connect();
}());
