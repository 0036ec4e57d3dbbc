"""`GET /api/export/{batch}`: the CLI's export over HTTP, streamed with bounded memory."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from gleif_data.errors import GleifDataError
from gleif_data.export import (
    MEDIA_TYPES,
    ExportFormat,
    ExportLayout,
    ExportOptions,
    export_file_name,
    write_export,
)
from gleif_data.export_links import LinkError, LinkSigner, SigningUnavailable
from gleif_data.filters import DomainFilter
from gleif_data.queries import batch_exists

EXPORT_PATH = "/api/export/{batch:path}"  # batch names may contain a slash
TEXT_PARAMS = ("domain_contains", "lei_contains", "name_contains")
COUNT_PARAMS = ("min_candidates", "max_candidates", "min_name_score", "max_name_score")
QA_PARAMS = ("flags", "qa_status")
KNOWN_PARAMS = {
    "format",
    "layout",
    "formula_guard",
    "qa",
    "token",
    *TEXT_PARAMS,
    *COUNT_PARAMS,
    *QA_PARAMS,
}
_QUEUE_CHUNKS = 16  # at most this many written blocks wait for a slow client


class BadParameter(ValueError):
    """A query parameter the route cannot use; its message names it."""


def export_options_from_params(params: Mapping[str, str]) -> ExportOptions:
    """Read export options from query parameters, as the CLI reads its flags."""
    unknown = sorted(set(params) - KNOWN_PARAMS)
    if unknown:
        raise BadParameter(f"unknown parameter {unknown[0]!r}")
    try:
        export_format = ExportFormat(params.get("format", "csv"))
    except ValueError:
        raise BadParameter("format must be one of csv, xlsx, parquet, json") from None
    try:
        layout = ExportLayout(params.get("layout", "domain"))
    except ValueError:
        raise BadParameter("layout must be domain or candidate") from None
    guard = params.get("formula_guard", "true").lower()
    if guard not in ("true", "false"):
        raise BadParameter("formula_guard must be true or false")
    with_qa = params.get("qa", "false").lower()
    if with_qa not in ("true", "false"):
        raise BadParameter("qa must be true or false")
    counts: dict[str, int | None] = {}
    for name in COUNT_PARAMS:
        raw = params.get(name, "").strip()
        if raw and not (raw.isascii() and raw.isdigit()):
            raise BadParameter(f"{name} must be a whole number of 0 or more")
        counts[name] = int(raw) if raw else None
    flags = frozenset(flag.strip() for flag in params.get("flags", "").split(",") if flag.strip())
    try:
        filters = DomainFilter(
            **{name: params.get(name) for name in TEXT_PARAMS},
            **counts,
            flags=flags,
            qa_status=params.get("qa_status") or None,
        )
    except ValueError as exc:
        raise BadParameter(str(exc)) from None
    return ExportOptions(
        format=export_format,
        layout=layout,
        filters=filters,
        formula_guard=guard == "true",
        with_qa=with_qa == "true",
    )


def export_params(options: ExportOptions) -> dict[str, str]:
    """The query parameters that ask the route for these options (the inverse of the above)."""
    params = {"format": options.format.value, "layout": options.layout.value}
    params.update({name: str(value) for name, value in options.filters.active().items()})
    if not options.formula_guard:
        params["formula_guard"] = "false"
    if options.with_qa:
        params["qa"] = "true"
    return params


def export_routes(
    engine: Callable[[], Engine], signer: Callable[[], LinkSigner | None]
) -> list[Route]:
    """The export route; with a signer, every request needs a valid signed token.

    `signer` raises SigningUnavailable when sign-in is on but links cannot be checked; the
    route then answers 503 to every request.
    """

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
            options = export_options_from_params(params)
        except BadParameter as exc:
            return PlainTextResponse(f"bad parameter: {exc}\n", status_code=400)
        database = engine()
        if not await run_in_threadpool(batch_exists, database, batch):
            return PlainTextResponse(f"no batch named {batch!r}\n", status_code=404)
        file_name = export_file_name(batch, options.format)
        return StreamingResponse(
            stream_export(database, batch, options),
            media_type=MEDIA_TYPES[options.format],
            headers={"Content-Disposition": content_disposition(file_name)},
        )

    return [Route(EXPORT_PATH, export, methods=["GET"])]


def content_disposition(file_name: str) -> str:
    """An attachment header that keeps non-ASCII file names (RFC 6266 / RFC 5987)."""
    fallback = file_name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name)}"


def stream_export(engine: Engine, batch: str, options: ExportOptions) -> Iterator[bytes]:
    """Run the export in a thread and yield its bytes as they are written.

    The queue is bounded, so a slow client slows the export instead of filling memory. If the
    export fails, the iterator raises: the server then drops the connection without the final
    chunk, and the client sees a broken transfer rather than a file that looks complete.
    """
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    cancelled = threading.Event()
    writer = _QueueWriter(chunks, cancelled)

    def produce() -> None:
        try:
            write_export(engine, batch, options=options, out=writer)  # type: ignore[arg-type]
            writer.flush()
            _put(chunks, None, cancelled)
        except _Cancelled:
            pass
        except BaseException as exc:  # handed over to the response, which aborts the transfer
            _put(chunks, exc, cancelled)

    thread = threading.Thread(target=produce, name=f"export-{batch}", daemon=True)
    thread.start()
    try:
        while True:
            item = chunks.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                if isinstance(item, GleifDataError):
                    raise ExportAborted(str(item)) from item
                raise ExportAborted("the export failed") from item
            yield item
    finally:
        cancelled.set()


class ExportAborted(RuntimeError):
    """The export stopped half-way; the HTTP transfer is aborted."""


class _Cancelled(Exception):
    """The client went away."""


def _put(chunks: queue.Queue[Any], item: Any, cancelled: threading.Event) -> None:
    while not cancelled.is_set():
        try:
            chunks.put(item, timeout=0.5)
            return
        except queue.Full:
            continue
    raise _Cancelled


class _QueueWriter:
    """A write-only binary file that hands blocks of about 256 KiB to a queue."""

    _BLOCK = 256 * 1024

    def __init__(self, chunks: queue.Queue[Any], cancelled: threading.Event) -> None:
        self._chunks = chunks
        self._cancelled = cancelled
        self._buffer = bytearray()
        self._position = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        self._buffer += data
        self._position += size
        if len(self._buffer) >= self._BLOCK:
            self.flush()
        return size

    def flush(self) -> None:
        if self._buffer:
            _put(self._chunks, bytes(self._buffer), self._cancelled)
            self._buffer.clear()

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
