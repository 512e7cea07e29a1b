"""The emulator's server: moto's own, started after every fix is applied."""

from __future__ import annotations

import argparse

from . import __doc__ as package_doc
from .moto_version import MotoVersionError


def apply_fixes(ses_max_send_rate: float, ses_max_24_hour_send: float) -> None:
    # Imported here, so a moto of another version stops the server with the guard's message.
    from .behaviour import atomic_writes, ses_account, transaction_rollback
    from .speed import (
        condition_parsing,
        index_pages,
        item_answers,
        partition_queries,
        request_parsing,
        routing,
        sqs_sends,
        update_expressions,
    )

    # The lock first: index_pages and partition_queries are right only under it.
    atomic_writes.apply()
    index_pages.apply()
    partition_queries.apply()
    transaction_rollback.apply()
    item_answers.apply()
    request_parsing.apply()
    condition_parsing.apply()
    update_expressions.apply()
    routing.apply()
    sqs_sends.apply()
    ses_account.apply(ses_account.SesAccount(ses_max_send_rate, ses_max_24_hour_send))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="emulator", description=package_doc.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    # A production account's starting quota; moto's own is the sandbox's 1/s, 200/day.
    parser.add_argument("--ses-max-send-rate", type=float, default=14.0)
    parser.add_argument("--ses-max-24-hour-send", type=float, default=50000.0)
    args = parser.parse_args(argv)

    try:
        apply_fixes(args.ses_max_send_rate, args.ses_max_24_hour_send)
    except MotoVersionError as e:
        raise SystemExit(f"emulator: {e}") from None
    from moto import server

    server.main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
