"""A local stand-in for Apple's device-assignment (ADE/DEP) API, https://mdmenrollment.apple.com.

The product talks to it exactly as to Apple: OAuth 1.0a `GET /session`, then
`GET /account`, `POST /server/devices` (fetch) and `POST /devices/sync`, with
Apple's headers, limits, cursors and errors. Routes under `/control/` play
Apple Business Manager's web portal for tests and for trying it by hand: make
an MDM server from its certificate (answering the server token file, as ABM's
"Download Token" does), assign and release devices, script failures, move the
simulator's clock.

Run it with `python -m ade_simulator --port N` from infra/, or
`python -m infra.ade_simulator --port N` from the repository's root
(`infra/stack.py` does this for `make dev` and `make test`).

Modules, bottom-up: clock, errors, messages, oauth, cursors, devices, token_file,
failures, state, apple_routes, control, server.
"""
