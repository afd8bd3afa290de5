// The booth's queue page (/console/queue) without full reloads: its forms are sent as they are (the server
// answers with the page again after a 303) and the page's part is swapped in; the place's live events
// (the board's stream: numbers only) refresh the list when another booth calls. Without this file the same
// forms work as plain HTML posts.
const appId = 'queue-app';

function app() {
  return document.getElementById(appId);
}

async function swap(response, focusStatus) {
  const html = await response.text();
  const next = new DOMParser().parseFromString(html, 'text/html').getElementById(appId);
  if (!next) {
    window.location.assign(response.url); // not the queue page (an error page): show it as it is
    return;
  }
  const active = document.activeElement && document.activeElement.id;
  const said = document.getElementById('queue-status');
  const saying = next.querySelector('#queue-status');
  if (!focusStatus && said && saying && !saying.textContent.trim()) {
    saying.textContent = said.textContent; // a live refresh keeps what the clerk's last action said
  }
  app().replaceWith(next);
  if (response.url && new URL(response.url).pathname === '/console/queue') {
    window.history.replaceState(null, '', response.url);
  }
  const status = document.getElementById('queue-status');
  if (focusStatus && status && status.textContent.trim()) {
    status.focus();
  } else if (active && document.getElementById(active)) {
    document.getElementById(active).focus();
  }
  follow();
}

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.closest(`#${appId}`) || form.method.toLowerCase() !== 'post') {
    return;
  }
  event.preventDefault();
  const button = form.querySelector('button[type=submit]');
  if (button) button.disabled = true;
  posting += 1;
  let response;
  try {
    response = await fetch(form.action, {
      method: 'POST', body: new URLSearchParams(new FormData(form)), credentials: 'same-origin',
    });
  } catch {
    // No answer: the server may have run the post all the same (the connection dropped on its answer). Posting
    // it again could call a second ticket to this booth; the page as it now is shows what happened.
    window.location.assign(window.location.href);
    return;
  } finally {
    if (button) button.disabled = false;
    posting -= 1;
  }
  if (new URL(response.url).pathname !== '/console/queue') {
    window.location.assign(response.url); // 受付する: on to the visit (or an error page)
    return;
  }
  await swap(response, true);
});

let source = null;
let place = null;
let refreshing = false;
let posting = 0;

async function refresh() {
  if (refreshing || posting) return; // the clerk's own action answers with the fresh page anyway
  refreshing = true;
  try {
    const response = await fetch(window.location.href, { credentials: 'same-origin', cache: 'no-store' });
    if (response.ok) await swap(response, false);
  } finally {
    refreshing = false;
  }
}

function follow() {
  const root = app();
  if (!root || typeof EventSource === 'undefined' || root.dataset.place === place) return;
  if (source) source.close();
  place = root.dataset.place;
  source = new EventSource(`/api/queue/${encodeURIComponent(place)}/board/events`);
  let first = true;
  source.addEventListener('board', () => {
    if (first) { first = false; return; } // the page was drawn from this state
    refresh();
  });
}

follow();
