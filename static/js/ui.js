// The page's fixed frame: the view in <main>, the status line, the nav.
import { html } from "./html.js";

export const main = document.getElementById("main");
export const nav = document.getElementById("nav");
const statusBox = document.getElementById("status");

export function render(view, title) {
  main.innerHTML = view.s;
  document.title = `${title} · Pre-approved enrollment`;
  for (const a of nav.querySelectorAll("a")) {
    a.toggleAttribute("aria-current", location.hash.startsWith(a.getAttribute("href")));
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
}

export function say(message, kind = "ok") {
  statusBox.innerHTML = message ? html`<p class="${kind}">${message}</p>`.s : "";
}

// Imports, exports and undos run in the background; views poll them this often.
export const pause = () => new Promise((r) => setTimeout(r, 1000));
