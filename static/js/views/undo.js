// An import's undo, on the import's page: a dry run counts what it would do,
// the admin confirms, then the page follows it until it is done.
import { api } from "../api.js";
import { when } from "../format.js";
import { html } from "../html.js";
import { pause, say } from "../ui.js";

const UNDO_COUNTS = [
  ["devices_removed", "devices removed"],
  ["devices_restored", "devices restored to their previous values"],
  ["users_removed", "users removed"],
  ["users_restored", "users restored"],
  ["devices_left_enrolled", "devices left alone: enrolled since"],
  ["devices_left_changed", "devices left alone: changed since"],
  ["users_left", "users left alone"],
];

const KEPT = [
  ["devices_staying", "still has a device of this import that stays"],
  ["devices_outside", "still has devices outside this import"],
];

// Why users are left: kept for a device (users_kept), each reason once.
const keptUsers = (k) =>
  KEPT.filter(([key]) => k?.[key] > 0).map(
    ([key, t]) => html`<li data-kept="${key}">kept: ${k[key].toLocaleString()} user(s) ${t}</li>`,
  );

const undoCounts = (c, kept) =>
  html`<ul id="undo-counts">${UNDO_COUNTS.map(
    ([k, t]) => html`<li data-count="${k}">${c[k].toLocaleString()} ${t}</li>`,
  )}${keptUsers(kept)}</ul>`;

const undoPath = (id) => `/imports/${encodeURIComponent(id)}/undo`;

// Follows the undo's state until done; returns early if the admin left the page.
async function followUndo(id) {
  for (;;) {
    const u = await api("GET", undoPath(id));
    if (u.status === "done" || u.status === "failed") return u;
    const box = document.getElementById("undo-box");
    if (!box) return u;
    const doing = u.dry_run ? "Counting what an undo would do…" : "Undoing…";
    box.innerHTML = html`<p>${doing} ${u.phase}</p>${undoCounts(u.counts, u.users_kept)}`.s;
    await pause();
  }
}

/** Wires #undo-box; `reload` draws the import's page again (after an undo, or a cancel). */
export function bindUndo(id, status, reload) {
  const box = document.getElementById("undo-box");
  if (!box) return;
  const show = (u) => {
    if (u.status === "failed") {
      box.innerHTML = html`<p class="error">The undo stopped: ${u.error}</p>
        <p><button id="undo-check">Try again…</button></p>`.s;
      bind();
    } else if (!u.dry_run) {
      const at = when(u.finished_at || u.requested_at);
      box.innerHTML = html`<p id="undo-done">Undone by ${u.requested_by} at ${at}:</p>
        ${undoCounts(u.counts, u.users_kept)}`.s;
    } else {
      box.innerHTML = html`<div class="card" role="alertdialog" aria-labelledby="undo-q">
        <p id="undo-q">Undo this import? It would:</p>${undoCounts(u.counts, u.users_kept)}
        <p><button id="undo-yes" class="danger">Yes, undo the import</button>
          <button id="undo-no">Cancel</button></p></div>`.s;
      document.getElementById("undo-no").onclick = reload;
      document.getElementById("undo-yes").onclick = async () => {
        try {
          await api("POST", undoPath(id), { dry_run: false });
          const done = await followUndo(id);
          await reload();
          if (done.status === "done") {
            const n = done.counts;
            const restored = `${n.devices_restored} restored`;
            say(`Import undone: ${n.devices_removed} devices removed, ${restored}.`);
          }
        } catch (err) {
          if (err.status !== 401) say(`Not undone: ${err.message}`, "error");
        }
      };
      document.getElementById("undo-yes").focus();
    }
  };
  const bind = () => {
    const check = document.getElementById("undo-check");
    if (!check) return;
    check.onclick = async () => {
      check.disabled = true;
      try {
        await api("POST", undoPath(id), { dry_run: true });
        show(await followUndo(id));
      } catch (err) {
        check.disabled = false;
        if (err.status !== 401) say(`Not counted: ${err.message}`, "error");
      }
    };
  };
  bind();
  // An undone import shows who undid it and what it did.
  if (status === "undone") {
    api("GET", undoPath(id))
      .then(show)
      .catch(() => {});
  }
}
