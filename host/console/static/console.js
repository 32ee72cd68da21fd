// Switchboard operator console: live parts of server-rendered pages.
// An element with data-sse listens to a server-sent event stream; on each event it fetches
// data-fragment (server-rendered, escaped HTML) and puts it in place. No inline scripts (CSP).
"use strict";

function liveRegion(el) {
  const source = new EventSource(el.dataset.sse);
  let busy = false;
  let again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(el.dataset.fragment, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        el.innerHTML = await response.text();
        el.dataset.updated = String(Date.now());
      }
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  source.onmessage = refresh;
  window.addEventListener("beforeunload", () => source.close());
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-sse]").forEach(liveRegion);
  const reply = document.getElementById("reply-text");
  if (reply) reply.focus();
});
