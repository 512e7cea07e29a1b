// Markup from template literals. Row data comes from spreadsheets, so every
// interpolation is escaped unless it is markup made here or passed to raw().

class Raw {
  constructor(s) {
    this.s = s;
  }
}

export const raw = (s) => new Raw(s);

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ENTITIES[c]);
const part = (v) => (v instanceof Raw ? v.s : esc(v));

export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    out += (Array.isArray(v) ? v.map(part).join("") : part(v)) + strings[i + 1];
  });
  return raw(out);
}

export const thead = (...names) =>
  html`<thead><tr>${names.map((n) => html`<th>${n}</th>`)}</tr></thead>`;

export const option = (value, current, text) =>
  html`<option value="${value}" ${raw(value === current ? "selected" : "")}>${text}</option>`;
