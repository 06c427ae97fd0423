// Dates and times in Dutch form, as the server writes them (hub/web/texts.py):
// "1 december 2026" and "1 december 2026, 14:05" (Dutch time, Europe/Amsterdam).
(function () {
  "use strict";
  var MONTHS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
    "september", "oktober", "november", "december"];
  var parts = new Intl.DateTimeFormat("nl-NL", {
    timeZone: "Europe/Amsterdam", year: "numeric", month: "numeric", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });

  function date(iso) {
    if (!iso) { return "\u2013"; }
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
    if (!m) { return iso; }
    return Number(m[3]) + " " + MONTHS[Number(m[2]) - 1] + " " + m[1];
  }

  function dateTime(value) {
    if (value === null || value === undefined || value === "") { return "\u2013"; }
    var when = typeof value === "number" ? new Date(value) : new Date(value);
    if (isNaN(when.getTime())) { return String(value); }
    var p = {};
    parts.formatToParts(when).forEach(function (part) { p[part.type] = part.value; });
    return Number(p.day) + " " + MONTHS[Number(p.month) - 1] + " " + p.year + ", " +
      p.hour + ":" + p.minute;
  }

  window.dutch = { date: date, dateTime: dateTime };
}());
