// Live rows for the team inbox: server-sent events from /inbox/events insert each new
// alert at the top of the table (urgent ones above the normal ones) and update the status
// and claim of a listed one (claimed or closed, here or on another instance), without a
// reload. `after` is the inbox's change counter of the last event seen.
// Built with DOM methods and textContent only: nothing from the server becomes HTML.
(function () {
  "use strict";
  var table = document.getElementById("alerts");
  var status = document.getElementById("live-status");
  if (!table || !window.EventSource) {
    if (status) { status.textContent = "Live updates: not available; reload to see new alerts."; }
    return;
  }
  var body = table.tBodies[0];
  var after = table.dataset.after || "";
  var query = table.dataset.query || "";

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

  function updateRow(row, a) {
    var cells = row.cells;
    var status = document.createElement("span");
    status.className = "status-" + a.status;
    status.textContent = a.status;
    cells[5].replaceChildren(status);
    cells[6].textContent = a.claimed_by || "\u2013";
  }

  function addRow(a) {
    var known = body.querySelector('tr[data-id="' + CSS.escape(a.alert_id) + '"]');
    if (known) { updateRow(known, a); return; }
    var row = document.createElement("tr");
    row.dataset.id = a.alert_id;
    row.className = "new-row" + (a.urgency === "URGENT" ? " urgent" : "");
    cell(row, a.urgency, "badge " + a.urgency.toLowerCase());
    cell(row, a.due_date || "\u2013");
    var created = cell(row, "");
    var link = document.createElement("a");
    link.href = a.url;
    link.textContent = a.created;
    created.appendChild(link);
    cell(row, a.event_type);
    cell(row, a.team_name || a.team_id);
    cell(row, a.status, "status-" + a.status);
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
  }

  function connect() {
    var url = "/inbox/events?after=" + encodeURIComponent(after) + (query ? "&" + query : "");
    var source = new EventSource(url);
    source.onopen = function () { status.textContent = "Live updates: on"; };
    source.onerror = function () { status.textContent = "Live updates: reconnecting\u2026"; };
    source.addEventListener("signed-out", function () {
      // the session ended on the server: stop, and let the reload lead to the login form
      source.close();
      status.textContent = "Live updates: signed out";
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
