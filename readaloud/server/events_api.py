"""GET /v1/events: what the daemon is doing, as server-sent events (for highlighting and
for clients that wait for the end of what they asked for)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from readaloud.server.services import ServicesDep
from readaloud.speech.events import Event, Stopping
from readaloud.speech.scheduler import Scheduler

router = APIRouter()


@router.get("/v1/events")
async def events(request: Request, services: ServicesDep) -> StreamingResponse:
    """Server-sent events: utterance_start, segment_start (offsets), word, utterance_end,
    error."""
    return await event_stream(request, services.scheduler)


async def event_stream(request: Request, scheduler: Scheduler) -> StreamingResponse:
    """The scheduler's events for one client (the API's and the reader page's)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)

    def put(event: dict[str, Any]) -> None:
        if not queue.full():  # a stalled client loses events, never slows speech
            queue.put_nowait(event)

    def listener(event: Event) -> None:
        loop.call_soon_threadsafe(put, event.to_dict())

    scheduler.add_listener(listener)

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), 1.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                if event["type"] == Stopping.type:
                    return  # the daemon is shutting down: end the stream cleanly
        finally:
            scheduler.remove_listener(listener)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
