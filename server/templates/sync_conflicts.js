// Conflict review page: buttons post the decision with the CSRF header (CSP forbids inline scripts).
"use strict";

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)madoguchi_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function combine(a, b) {
  // Lists: union keeping order; objects: mine over server; strings: both, separated.
  if (Array.isArray(a) && Array.isArray(b)) {
    const seen = new Set(a.map((x) => JSON.stringify(x)));
    return a.concat(b.filter((x) => !seen.has(JSON.stringify(x))));
  }
  if (a && b && typeof a === "object" && typeof b === "object") return Object.assign({}, a, b);
  if (a == null) return b;
  if (b == null) return a;
  return String(a) + " / " + String(b);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.resolve")) {
    const area = form.querySelector("textarea[name=value]");
    form.querySelector("button.combine")?.addEventListener("click", () => {
      const [server, mine] = JSON.parse(area.dataset.combine);
      area.value = JSON.stringify(combine(server, mine));
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const choice = ev.submitter ? ev.submitter.value : "server";
      const status = form.querySelector(".status");
      const body = { choice };
      if (choice === "custom") {
        try { body.value = JSON.parse(area.value); } catch { status.textContent = "値がJSONとして読めません"; return; }
      }
      const res = await fetch(`/api/conflicts/${form.dataset.conflictId}/resolve`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      if (res.ok) {
        status.textContent = "決定しました";
        form.querySelectorAll("button").forEach((b) => (b.disabled = true));
      } else {
        const p = await res.json().catch(() => ({}));
        status.textContent = "エラー: " + (p.detail || res.status);
      }
    });
  }
});
