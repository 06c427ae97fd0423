// Dates and times in the page's language, as the server writes them (hub/web/texts.py):
// "1 december 2026" and "1 december 2026, 14:05" (Dutch time, Europe/Amsterdam); on an
// English page "1 December 2026". The month names and every other text the scripts write
// come from the page (#ui-texts, rendered from hub/web/texts.py's ui_texts in the page's
// language): window.dutch.text(key, values) fills in "%(name)s" / "%(num)d".
(function () {
  "use strict";
  var source = document.getElementById("ui-texts");
  var texts = source ? JSON.parse(source.textContent) : {};
  var MONTHS = texts.months || ["januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december"];
  var parts = new Intl.DateTimeFormat("nl-NL", {
    timeZone: "Europe/Amsterdam", year: "numeric", month: "numeric", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });

  function text(key, values) {
    var template = texts[key] === undefined ? key : String(texts[key]);
    return template.replace(/%\((\w+)\)[sd]/g, function (all, name) {
      return values && values[name] !== undefined ? String(values[name]) : all;
    });
  }

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

  window.dutch = { date: date, dateTime: dateTime, text: text };
}());
