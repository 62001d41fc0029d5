// Warden console: the one script. It follows a task's journal live through server-sent
// events and appends each entry as text (never as HTML). Everything else works
// without it.
"use strict";

(function () {
  const journal = document.getElementById("journal");
  if (!journal || !journal.dataset.events || !window.EventSource) {
    return;
  }
  const body = journal.querySelector("tbody");
  const status = document.getElementById("status");
  const live = document.getElementById("live");
  const finals = ["completed", "failed", "cancelled", "timed_out"];
  const source = new EventSource(journal.dataset.events);

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  source.addEventListener("journal", function (message) {
    const line = JSON.parse(message.data);
    const row = document.createElement("tr");
    row.append(cell(String(line.seq)), cell(line.time), cell(line.kind), cell(line.summary));
    body.append(row);
    if (line.status && status) {
      status.textContent = line.status;
      status.className = "status " + line.status;
    }
    if (finals.includes(line.status)) {
      source.close();
      // The finished page shows the result and drops the actions.
      window.location.reload();
    } else if (line.kind === "approval_requested" || line.kind === "needs_attention") {
      source.close();
      window.location.reload();
    }
  });
  source.addEventListener("failed", function (message) {
    source.close();
    if (live) {
      live.textContent = "not live: " + message.data;
    }
  });
  source.onerror = function () {
    if (live) {
      live.textContent = "reconnecting";
    }
  };
  source.onopen = function () {
    if (live) {
      live.textContent = "live";
    }
  };
})();
