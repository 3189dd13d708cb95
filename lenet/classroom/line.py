"""The line of runs waiting on every replica, so that the server keeps one order: the teacher's
runs first, then the students' designs, each in the order they came, whichever replica each
student's page is on; and one design each, across replicas.

    lenet:line                a sorted set of tickets: the teacher's scored by arrival, the
                              students' after every teacher's
    lenet:line:seq            the arrival counter
    lenet:ticket:<id>         a ticket: its replica, run and owner; it lapses after TICKET_S
                              unless its replica renews it (one that died leaves the line)

Only behind replicas with a store (replicas.sharing()); a lone server keeps its own deque
(jobqueue.py). While the store is away, each replica goes by its own line.
"""
from __future__ import annotations

import json
import secrets

from .state import RunState
from .store import Down, key, store

__all__ = ["ahead", "first", "holder_of", "join", "leave", "place", "renew"]

LINE, SEQ = key("line"), key("line", "seq")
TICKET_S = 15  # a ticket its replica stopped renewing (every second) leaves the line after this
STUDENTS = 10**12  # every student's score is above every teacher's


def _ticket_key(ticket: str) -> str:
    return key("ticket", ticket)


def join(state: RunState, replica: str) -> str | None:
    """Put `state`'s run in the line; its ticket, or None while the store is away."""
    ticket = secrets.token_hex(8)
    try:
        seq = store().incr(SEQ)
        pipe = store().pipeline()
        pipe.set(_ticket_key(ticket), json.dumps({"replica": replica, "run": state.name, "owner": state.owner}),
                 ex=TICKET_S)
        pipe.zadd(LINE, {ticket: seq if state.first else STUDENTS + seq})
        pipe.execute()
    except Down:
        return None
    return ticket


def leave(ticket: str | None) -> None:
    if ticket is None:
        return
    try:
        store().pipeline().zrem(LINE, ticket).delete(_ticket_key(ticket)).execute()
    except Down:
        pass  # it lapses


def renew(tickets: list[str]) -> None:
    """This replica's tickets are still waiting (called every second while it has any)."""
    try:
        pipe = store().pipeline(transaction=False)
        for ticket in tickets:
            pipe.expire(_ticket_key(ticket), TICKET_S)
        pipe.execute()
    except Down:
        pass


def _live() -> list[tuple[str, dict]]:
    """The tickets in line, first first; a lapsed one (its replica died) is taken out."""
    tickets = store().zrange(LINE, 0, -1)
    if not tickets:
        return []
    found = store().mget([_ticket_key(t.decode()) for t in tickets])
    lapsed = [t for t, raw in zip(tickets, found, strict=True) if raw is None]
    if lapsed:
        store().zrem(LINE, *lapsed)
    return [(t.decode(), json.loads(raw)) for t, raw in zip(tickets, found, strict=True) if raw is not None]


def first(ticket: str | None) -> bool:
    """`ticket` is first in line (or the store can't say: then this replica's own order rules)."""
    if ticket is None:
        return True
    try:
        live = _live()
    except Down:
        return True
    return not live or live[0][0] == ticket


def place(ticket: str) -> int | None:
    """1 for first in line, 2 for second, and so on, on every replica; None if it isn't in line
    (or the store can't say)."""
    try:
        tickets = [t for t, _ in _live()]
    except Down:
        return None
    return tickets.index(ticket) + 1 if ticket in tickets else None


def ahead(state: RunState) -> bool:
    """Some ticket would go before a run like `state` if it came now."""
    try:
        live = _live()
    except Down:
        return False
    return bool(live) and (not state.first or store().zscore(LINE, live[0][0]) < STUDENTS)


def holder_of(owner: str) -> str | None:
    """The run `owner` has waiting on any replica, if any."""
    try:
        return next((t["run"] for _, t in _live() if t["owner"] == owner), None)
    except Down:
        return None
