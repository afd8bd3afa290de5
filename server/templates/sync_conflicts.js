// Conflict review page: with JavaScript the decision goes to the JSON API (POST /api/conflicts/{id}/resolve)
// with the CSRF header and the page stays put; without it the same form posts to the console route.
// (CSP forbids inline scripts, hence this file.)
"use strict";

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)madoguchi_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function show(v) {
  if (v === null || v === undefined || v === "") return "（なし）";
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && !Array.isArray(v) && ("family" in v || "given" in v)) {
    return [v.family, v.given].filter(Boolean).join(" ");
  }
  return JSON.stringify(v);
}

/** Both values in one: lists joined (no duplicates), objects merged (mine over server), texts side by side. */
function combine(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) {
    const seen = new Set(a.map((x) => JSON.stringify(x)));
    return a.concat(b.filter((x) => !seen.has(JSON.stringify(x))));
  }
  if (a && b && typeof a === "object" && typeof b === "object") return Object.assign({}, a, b);
  if (a === null || a === undefined || a === "") return b;
  if (b === null || b === undefined || b === "") return a;
  return String(a) + " / " + String(b);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.resolve")) {
    const field = form.querySelector("[name=value]");
    const status = form.querySelector(".resolve-status");
    form.querySelector("button.combine")?.addEventListener("click", () => {
      const [server, mine] = JSON.parse(field.dataset.combine);
      const v = combine(server, mine);
      field.value = field.dataset.kind === "text" ? String(v ?? "") : JSON.stringify(v);
      field.closest("details").open = true;
      field.focus();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const choice = ev.submitter ? ev.submitter.value : "server";
      const body = { choice };
      if (choice === "custom") {
        if (field.dataset.kind === "text") body.value = field.value;
        else {
          try { body.value = JSON.parse(field.value); } catch { status.textContent = "値がJSONとして読めません"; field.focus(); return; }
        }
      }
      form.querySelectorAll("button").forEach((b) => (b.disabled = true));
      const res = await fetch(`/api/conflicts/${form.dataset.conflictId}/resolve`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify(body),
        credentials: "same-origin",
      }).catch(() => null);
      if (res && res.ok) {
        const c = await res.json();
        const section = form.closest("section");
        section.querySelector("td.current").textContent = show(c.current);
        section.dataset.status = "resolved";
        status.textContent = `決定しました（${show(c.resolved_value)}）。各端末には次の同期で届きます。`;
      } else {
        form.querySelectorAll("button").forEach((b) => (b.disabled = false));
        const p = res ? await res.json().catch(() => ({})) : {};
        status.textContent = "決定できませんでした: " + (p.detail || (res ? res.status : "オフライン"));
      }
    });
  }
});
