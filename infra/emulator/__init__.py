"""The local AWS stand-in: moto in server mode, with the fixes this project depends on.

moto is pure Python and serves every AWS service on one port. Where it
differs from AWS in a way that would make a local run lie, or is too slow to
measure the product at scale, a fix here replaces a piece of its internals
before the server starts (`python -m infra.emulator -p PORT` from the
repository's root, or `python -m emulator` from infra/; `infra/stack.py`
starts it). Each fix is a module, checks at import that moto is the version
it was written against (`moto_version`), and has an `apply()`.

Fixes that change what the emulator answers (`behaviour/`):
- atomic_writes: DynamoDB requests are served one at a time, so two conditional writes never both pass.
- transaction_rollback: a cancelled transaction leaves its items and its table's stream as they were.
- ses_account: SES v2 GetAccount answers a settable quota; sends can be throttled or refused.

Fixes that only make it faster, answering as stock moto does (`speed/`):
- index_pages: a page of a global secondary index costs the page, not a sort of the table.
- partition_queries: a Query of one partition of a table sorts that partition, not the table.
- item_answers: answers made of items are encoded as JSON once, not walked through the model.
- request_parsing: a DynamoDB request body is read as the JSON it is, not walked through the model.
- routing: moto's service listing and a handler's method names are listed once, not per request.
- sqs_sends: sending to and receiving from a queue reads the one queue attribute it needs.
- update_expressions: a plain SET/REMOVE update expression is parsed once and applied directly,
  not through a copy of its syntax tree walked by ten validators.

Shared: `dynamodb_lock` (the lock DynamoDB requests are served under and the
writes counted under it). Tests: `tests/` (`make unit`). Anything else is
stock moto; with LocalStack or AWS, `AWS_ENDPOINT_URL` points elsewhere and
none of this runs.
"""
