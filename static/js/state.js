// The little state that several modules share. Everything else belongs to one
// view: the upload wizard's choices, a list's page cursors.
export const state = {
  // config.json, read once at start: the API's URL and how to sign in.
  config: null,
  // A route aborts the requests of the view before it, so a slow answer for a
  // view the admin already left never draws over the current one.
  requests: new AbortController(),
  // [message, kind] for the next view's status line, which a route clears.
  flash: null,
};
