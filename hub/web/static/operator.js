// The operator's flow view: polls /operator/api/flow every 2 s and updates the picture
// (rates from the deltas of cumulative counts between two polls) and the tables, in the
// page's language (dates and texts through static/dutch.js, from the page's #ui-texts).
(function () {
  "use strict";
  var initial = document.getElementById("flow-initial");
  if (!initial) { return; }
  var previous = JSON.parse(initial.textContent);
  var dateTime = window.dutch.dateTime;
  var t = window.dutch.text;

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
      var shown = rate >= 10 ? rate.toFixed(0) : rate.toFixed(1);
      if (document.documentElement.lang !== "en") { shown = shown.replace(".", ","); }
      setText("rate-" + key, t("per_second", { n: shown }));
      if (now.lag !== null) { setText("lag-" + key, t("lag", { n: now.lag })); }
    });
    Object.keys(flow.topics).forEach(function (topic) {
      setText("total-" + topic, t("messages", { n: flow.topics[topic] }));
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
    setText("flow-updated", t("flow_updated", { text: dateTime(flow.at * 1000) }));
    previous = flow;
  }

  function poll() {
    fetch("/operator/api/flow", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(render)
      .catch(function (err) { setText("flow-updated", t("flow_failed", { text: err.message })); })
      .finally(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
