// How values read on every view.
import { html } from "./html.js";

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

const LABELS = { pre_approved: "Pre-approved", enrolled: "Enrolled", expired: "Expired" };
export const label = (s) => LABELS[s] ?? s;

/** "Mobile 12, Platform 3": where the errors are, for a file with too many to list. */
export function byColumn(totals) {
  return Object.entries(totals.by_column)
    .map(([c, n]) => `${c || "file"} ${n}`)
    .join(", ");
}

export const INVITE_STATES = [
  "queued",
  "sending",
  "sent",
  "delivered",
  "bounced",
  "complained",
  "failed",
  "unconfirmed",
  "cancelled",
];

export const inviteBadge = (state) =>
  state
    ? html`<span class="badge invite-${state}">${state}</span>`
    : html`<span class="muted">none</span>`;
