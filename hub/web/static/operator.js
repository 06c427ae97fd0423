// The operator's flow view: polls /operator/api/flow every 2 s and updates the picture
// (rates from the deltas of cumulative counts between two polls) and the tables, in Dutch
// (dates through static/dutch.js).
(function () {
  "use strict";
  var initial = document.getElementById("flow-initial");
  if (!initial) { return; }
  var previous = JSON.parse(initial.textContent);
  var dateTime = window.dutch ? window.dutch.dateTime : String;

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  function fillTable(id, rows) {
    var body = document.getElementById(id);
    if (!body) { return; }
    body.replaceChildren();
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = cell === null || cell === undefined ? "–" : String(cell);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function render(flow) {
    var dt = Math.max(flow.at - previous.at, 0.001);
    Object.keys(flow.edges).forEach(function (key) {
      var now = flow.edges[key], before = previous.edges[key];
      var rate = before ? Math.max(now.count - before.count, 0) / dt : 0;
      setText("rate-" + key, (rate >= 10 ? rate.toFixed(0) : rate.toFixed(1).replace(".", ",")) + " per s");
      if (now.lag !== null) { setText("lag-" + key, "achterstand " + now.lag); }
    });
    Object.keys(flow.topics).forEach(function (topic) {
      setText("total-" + topic, flow.topics[topic] + " berichten");
    });
    var lagRows = [];
    flow.groups.forEach(function (g) {
      g.partitions.forEach(function (p) {
        lagRows.push([g.group, g.topic, p.partition, p.committed, p.end, p.lag]);
      });
    });
    fillTable("lag-table", lagRows);
    fillTable("dead-table", Object.entries(flow.deadletters.by_reason));
    fillTable("refusal-table", Object.entries(flow.refusals));
    setText("forwarded", String(flow.forwarded));
    fillTable("error-table", flow.last_errors.map(function (r) {
      return [r.offset, dateTime(r.failed_at), r.reason, r.stage,
        r.topic + "/" + r.partition + "/" + r.origin_offset,
        r.error_class + ": " + r.error_message];
    }));
    setText("flow-updated", "Bijgewerkt: " + dateTime(flow.at * 1000) + ".");
    previous = flow;
  }

  function poll() {
    fetch("/operator/api/flow", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(render)
      .catch(function (err) { setText("flow-updated", "Bijwerken lukte niet (" + err.message + "). We proberen het opnieuw."); })
      .finally(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
