// The live tail view: one EventSource on the dashboard's SSE endpoint; rows are built with
// textContent only (what a tenant logged is never parsed as HTML).
(function () {
  "use strict";
  var root = document.getElementById("tail");
  if (!root || !window.EventSource) return;
  var rows = document.getElementById("tail-rows");
  var status = document.getElementById("tail-status");
  var maxRows = 200;

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function ms(value) {
    return typeof value === "number" ? value.toFixed(1) + " ms" : "–";
  }

  var source = new EventSource(root.getAttribute("data-events"));
  source.addEventListener("connected", function () {
    status.textContent = "Connected: waiting for invocations…";
    root.setAttribute("data-state", "connected");
  });
  source.addEventListener("invocation", function (event) {
    var record = JSON.parse(event.data);
    var row = document.createElement("tr");
    row.setAttribute("data-id", record.id);
    var when = cell(row, "");
    var link = document.createElement("a");
    link.href = "/dashboard/invocations/" + encodeURIComponent(record.id);
    link.textContent = String(record.started_at).replace("T", " ").replace("Z", "");
    when.appendChild(link);
    cell(row, record.outcome, "outcome " + (record.outcome === "ok" ? "ok" : "bad"));
    cell(row, record.status === null ? "–" : String(record.status), "num");
    cell(row, ms(record.wall_ms), "num");
    var logs = (record.logs || []).map(function (entry) { return "[" + entry.level + "] " + entry.message; });
    if (record.error) logs.push((record.error.name || "Error") + ": " + record.error.message);
    var pre = document.createElement("pre");
    pre.textContent = logs.join("\n");
    cell(row, "").appendChild(pre);
    rows.insertBefore(row, rows.firstChild);
    while (rows.children.length > maxRows) rows.removeChild(rows.lastChild);
  });
  source.addEventListener("dropped", function (event) {
    var data = JSON.parse(event.data);
    status.textContent = "Too fast to show them all: " + data.total_dropped + " invocations skipped so far.";
  });
  source.onerror = function () {
    status.textContent = "Disconnected: reconnecting…";
    root.setAttribute("data-state", "reconnecting");
  };
})();
