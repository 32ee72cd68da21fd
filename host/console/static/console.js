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

// Uploads show their progress (the form still works without this script).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-progress]").forEach((form) => {
    const bar = document.getElementById(form.dataset.progress);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) { bar.hidden = false; bar.value = Math.round((100 * e.loaded) / e.total); }
      };
      xhr.onload = () => {
        if (xhr.responseURL && xhr.status < 400) { window.location.assign(xhr.responseURL); return; }
        document.open(); document.write(xhr.responseText); document.close();
      };
      xhr.send(new FormData(form));
    });
  });
});
