"""`GET /api/export/{batch}`: the CLI's export over HTTP, streamed with bounded memory."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from urllib.parse import quote

import anyio
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gleif_data.config import ConfigError
from gleif_data.errors import DatabaseError, DatabaseUnavailable, QueryTimedOut
from gleif_data.export import MEDIA_TYPES, export_file_name
from gleif_data.export_links import LinkError, LinkSigner, SigningUnavailable
from gleif_data.export_ranges import MAX_AUTOMATIC_WORKERS, export_workers_setting
from gleif_data.export_stream import ExportAborted, ExportStream
from gleif_data.fields import ViewError
from gleif_data.queries import batch_exists
from gleif_data.transactions import read_snapshot
from gleif_data.view import export_options_from_query

EXPORT_PATH = "/api/export/{batch:path}"  # batch names may contain a slash
MAX_EXPORTS_VARIABLE = "GLEIF_MAX_EXPORTS"
# A PostgreSQL CSV export holds one connection per worker while it runs (route_pool_options);
# the pool's 5 others serve the short checks of requests that arrive meanwhile.
DEFAULT_MAX_EXPORTS = 10
ROUTE_POOL_SIZE = 5
RETRY_AFTER_SECONDS = 10

logger = logging.getLogger(__name__)


def export_routes(
    engine: Callable[[], Engine],
    signer: Callable[[], LinkSigner | None],
    *,
    max_exports: int | None = None,
) -> list[Route]:
    """The export route; with a signer, every request needs a valid signed token.

    `signer` raises SigningUnavailable when sign-in is on but links cannot be checked; the
    route then answers 503 to every request. At most `max_exports` exports run at once
    (default: GLEIF_MAX_EXPORTS, else 10); a request beyond that is answered 503 with
    Retry-After at once. Each export copies with GLEIF_EXPORT_WORKERS connections, else
    as many as the machine and the server can use, as the CLI does.
    """
    slots = ExportSlots(max_exports_setting() if max_exports is None else max_exports)
    workers = export_workers_setting()

    async def export(request: Request) -> Response:
        batch = request.path_params["batch"]
        params = dict(request.query_params)
        # The token first: without one, a request learns nothing, not even about its parameters.
        try:
            link_signer = signer()
        except SigningUnavailable as exc:  # fail closed: without a way to check, serve nothing
            return PlainTextResponse(f"export links cannot be checked: {exc}\n", status_code=503)
        if link_signer is not None:
            token = params.pop("token", "")
            try:
                link_signer.verify(token, batch, params)
            except LinkError as exc:
                return PlainTextResponse(f"{exc}\n", status_code=403)
        try:
            options = export_options_from_query(params)
        except ViewError as exc:
            return PlainTextResponse(f"bad parameter {exc.field}: {exc}\n", status_code=400)
        database = engine()
        try:
            found = await run_in_threadpool(_batch_exists, database, batch)
        except DatabaseError as exc:  # its message names the database, never its password
            busy = isinstance(exc, DatabaseUnavailable | QueryTimedOut)
            return PlainTextResponse(f"{exc}\n", status_code=503 if busy else 500)
        if not found:
            return PlainTextResponse(f"no batch named {batch!r}\n", status_code=404)
        headers = {
            "Content-Disposition": content_disposition(export_file_name(batch, options.format))
        }
        if request.method == "HEAD":  # the headers a GET would have; no export runs
            head = Response(headers=headers, media_type=MEDIA_TYPES[options.format])
            del head.headers["content-length"]
            return head
        return ExportResponse(
            lambda: ExportStream(database, batch, options, workers),
            slots,
            headers=headers,
            media_type=MEDIA_TYPES[options.format],
        )

    return [Route(EXPORT_PATH, export, methods=["GET", "HEAD"])]


def _batch_exists(engine: Engine, batch: str) -> bool:
    with read_snapshot(engine) as connection:
        return batch_exists(connection, batch)


def max_exports_setting(environ: Mapping[str, str] | None = None) -> int:
    """GLEIF_MAX_EXPORTS: how many exports one server runs at once (default 10)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(MAX_EXPORTS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_MAX_EXPORTS
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ConfigError(
            f"{MAX_EXPORTS_VARIABLE} must be a whole number of 1 or more, not {raw!r}"
        )
    return int(raw)


def route_pool_options(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """`make_engine` arguments for the route's pool: room for every export's connections."""
    workers = export_workers_setting(environ) or MAX_AUTOMATIC_WORKERS
    return {
        "pool_size": ROUTE_POOL_SIZE,
        "max_overflow": max_exports_setting(environ) * workers,
    }


class ExportSlots:
    """A count of the exports running in this server, refused beyond its limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """Take a slot; False when all are taken."""
        with self._lock:
            if self._running >= self.limit:
                return False
            self._running += 1
            return True

    def release(self) -> None:
        """Give a slot back."""
        with self._lock:
            self._running -= 1


class ExportResponse(Response):
    """Streams an export; stops it, its query included, as soon as the client goes away.

    Starlette's StreamingResponse stops sending when the client disconnects, but leaves the
    iterator, and so the export's thread and its database connection, to the garbage
    collector; here the export is closed on every way out. If the export fails, this raises
    after the headers went out: the server then drops the connection without the final chunk,
    and the client sees a broken transfer rather than a file that looks complete.
    """

    def __init__(
        self,
        stream: Callable[[], ExportStream],
        slots: ExportSlots,
        headers: Mapping[str, str],
        media_type: str,
    ) -> None:
        self._stream = stream
        self._slots = slots
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._slots.acquire():
            busy = PlainTextResponse(
                f"this server runs {self._slots.limit} exports at once already; "
                f"try again in {RETRY_AFTER_SECONDS} s\n",
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await busy(scope, receive, send)
            return
        stream = self._stream()
        try:
            stream.start()
            aborted: ExportAborted | None = None
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                try:
                    await self._send(stream, send)
                except ExportAborted as exc:
                    aborted = exc
                group.cancel_scope.cancel()
            if aborted is not None:
                raise aborted
        finally:
            with anyio.CancelScope(shield=True):
                if not await anyio.to_thread.run_sync(stream.close):
                    logger.warning("an export thread did not stop within its time")
            self._slots.release()

    async def _send(self, stream: ExportStream, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        try:
            await send(start)
            while (block := await anyio.to_thread.run_sync(stream.next_block)) is not None:
                if block:
                    await send({"type": "http.response.body", "body": block, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # ASGI 2.4 servers raise it when the client has gone
            return


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


def content_disposition(file_name: str) -> str:
    """An attachment header that keeps non-ASCII file names (RFC 6266 / RFC 5987)."""
    fallback = file_name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name)}"
