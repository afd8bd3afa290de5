// Console forms post with the CSRF header (double-submit cookie): HTML forms cannot set headers, and the
// CSP forbids inline script, so this file turns POST form submissions into fetch() calls.
"use strict";
function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)madoguchi_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  event.preventDefault();
  // The button pressed is part of the form's data (the interview's 更新 / 加える / 申請する share one form).
  const body = new URLSearchParams(new FormData(form, event.submitter || undefined));
  const response = await fetch(form.action, {
    method: "POST", body, credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (response.redirected) { window.location.assign(response.url); return; }
  const html = await response.text();
  document.open(); document.write(html); document.close();
});
// A page with an error summary (a refused interview finish) opens with the keyboard focus on it, as GOV.UK's
// error summary: the clerk hears what to fix and Tab reaches the first link to a field, not the navigation.
// (No top-level binding: a page written over this one runs this file again in the same window.)
document.querySelector(".error-summary[tabindex]")?.focus();
// A link of the summary moves the focus to the field's first input, not only to its fieldset (one Tab less), with
// the field's question (legend or label) scrolled into sight, as GOV.UK's error summary does.
document.querySelector(".error-summary")?.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest('a[href^="#"]') : null;
  const target = link ? document.getElementById(decodeURIComponent(link.hash.slice(1))) : null;
  if (!target) return;
  const input = target.matches("input, select, textarea") ? target
    : target.querySelector('input:not([type="hidden"]), select, textarea');
  if (!input) return;
  event.preventDefault();
  target.closest("details")?.setAttribute("open", "");
  window.history.pushState(null, "", link.hash);
  (target.querySelector("legend") || document.querySelector(`label[for="${input.id}"]`) || input).scrollIntoView();
  input.focus({ preventScroll: true });
});
