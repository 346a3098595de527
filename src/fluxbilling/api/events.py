"""`GET /api/v1/events`: server-sent events when orders, runs, services or deliveries change.

The wire format (`text/event-stream`), one message per change:

```
event: order
data: {"order_id": 42, "event": "phase_completed", "phase": "provision"}
id: 1042.17

: keepalive                      (a comment every `events_heartbeat` seconds)
```

`id` is `<activity id>.<delivery id>` (`feed.Position`), on the last message of each
change (a browser resumes from the last id it saw, so a change is never half-seen);
`Last-Event-ID` resumes after it. `event: reset` says the stream could not keep up, or the
client missed too much: refetch everything. Every stream ends when the server shuts down
(`Feed.close`); a client that goes away frees its subscription at once; past
`FLUXBILLING_EVENT_STREAMS` open streams the answer is 503 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse

from fluxbilling.api.auth import require_token
from fluxbilling.api.errors import error_body
from fluxbilling.api.feed import Change, Feed, Position, Subscription, TooManyStreams

__all__ = ["close_streams", "encode", "feed_of", "router"]

router = APIRouter(prefix="/api/v1/events", tags=["events"], dependencies=[Depends(require_token)])

_RETRY_AFTER = 5
_STREAM = {
    "description": "a stream of server-sent events (`event: order|run|service|delivery|reset`, "
    "`data:` JSON, `id:` to resume with `Last-Event-ID`)",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def encode(change: Change, event_id: Position | None) -> bytes:
    """One server-sent event; `event_id` (None: no `id:` line).

    Examples:
        >>> encode(Change("order", {"order_id": 1}, Position(3, 0)), Position(3, 0))
        b'event: order\\ndata: {"order_id":1}\\nid: 3.0\\n\\n'
    """
    data = json.dumps(change.data, separators=(",", ":"), ensure_ascii=True)
    lines = [f"event: {change.kind}", f"data: {data}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    return ("\n".join(lines) + "\n\n").encode()


def feed_of(request: Request) -> Feed:
    """The app's feed, made on first use (one per app, shared by its streams)."""
    state = request.app.state
    found: Feed | None = getattr(state, "event_feed", None)
    if found is None:
        settings = state.installation.settings
        found = Feed(
            state.installation.db,
            interval=settings.events_poll_interval,
            max_streams=settings.event_streams,
        )
        state.event_feed = found
    return found


def close_streams(app: Any) -> None:
    """End every event stream of `app` now (before the server stops: it waits for them)."""
    found: Feed | None = getattr(app.state, "event_feed", None)
    if found is not None:
        found.close()


async def _stream(
    feed: Feed, sub: Subscription, since: Position, heartbeat: float
) -> AsyncIterator[bytes]:
    """The stream of `sub`: its changes, a comment every `heartbeat` seconds, until the
    feed closes or the client goes away (the server cancels the generator)."""
    sent = since
    closing = asyncio.ensure_future(feed.closed.wait())
    try:
        yield b"retry: 2000\n\n"
        while not feed.closed.is_set():
            waiting = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait(
                {waiting, closing}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
            if waiting not in done:
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
                if not feed.closed.is_set():
                    yield b": keepalive\n\n"
                continue
            change = waiting.result()
            if change.kind == "reset":
                sub.overflowed = False
            sent = sent.after(change.position)
            yield encode(change, sent if change.last_of_position else None)
    finally:
        closing.cancel()
        feed.release(sub)


@router.get(
    "",
    summary="Server-sent events: orders, runs, services and deliveries as they change",
    response_class=StreamingResponse,
    response_model=None,
    responses={
        200: _STREAM,
        422: {"description": "`Last-Event-ID` is not an event id of this stream"},
        503: {
            "description": "too many event streams are open (or the database is unavailable); "
            "try again after `Retry-After` seconds"
        },
    },
)
async def events(
    request: Request,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=40,
            description="resume after this event id (`<activity id>.<delivery id>`)",
        ),
    ] = None,
) -> StreamingResponse | JSONResponse:
    """Payloads are ids and new states only; the console refetches what they name."""
    since = Position.parse(last_event_id) if last_event_id is not None else None
    feed = feed_of(request)
    try:
        sub = await feed.open(since)
    except TooManyStreams as exc:
        return JSONResponse(
            error_body("TooManyStreams", exc.message, exc.details),
            status_code=503,
            headers={"Retry-After": str(_RETRY_AFTER)},
        )
    heartbeat = request.app.state.installation.settings.events_heartbeat
    body = _stream(feed, sub, since or feed.head, heartbeat)
    # A generator never started (the client left first) runs no `finally`: free it anyway.
    weakref.finalize(body, feed.release, sub)
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
