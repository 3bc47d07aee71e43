"""`attnclf serve MODEL...`: the HTTP API and the live page over saved model folders (see
attnclf.serve). The folders are loaded before the port is opened, so a folder that cannot be
served, or a port that is taken, stops the start with one line naming it."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from ..errors import AttnclfError
from .common import DeviceOpt, RuntimeOpt, user_errors

HOST_HELP = (
    "Address to listen on. 127.0.0.1 (the default) answers this machine only. 0.0.0.0 listens "
    "on every network interface: anyone who can reach this machine can then call every route "
    "(predictions, explanations, the page, the model list with its metrics) without "
    "authentication; put a proxy with TLS and authentication in front of it for that, and name "
    "the host names clients use with --allowed-host."
)
ALLOWED_HOST_HELP = (
    "A host name (or address) the server answers besides localhost, 127.0.0.1, ::1 and --host; "
    "repeat it for more. A request whose Host header names another gets 400, so that a web page "
    "cannot reach this server by pointing its own name at 127.0.0.1 (DNS rebinding). "
    "'*.example.org' allows its subdomains, '*' any name."
)


def serve(
    models: Annotated[
        list[str],
        typer.Argument(
            help="Model folders (classifiers or seq2seq) written by attnclf, as PATH or "
            "NAME=PATH; the name defaults to the folder's name.",
            show_default=False,
        ),
    ],
    host: Annotated[str, typer.Option(help=HOST_HELP)] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    device: DeviceOpt = "auto",
    runtime: RuntimeOpt = "torch",
    max_texts: Annotated[
        int, typer.Option("--max-texts", min=1, help="Texts per request (more: 422).")
    ] = 64,
    max_text_chars: Annotated[
        int, typer.Option("--max-text-chars", min=1, help="Characters per text (more: 422).")
    ] = 20_000,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="Bytes per request body (more: 413).")
    ] = 1 << 20,
    max_explain_texts: Annotated[
        int, typer.Option("--max-explain-texts", min=1, help="Texts per /explain request.")
    ] = 16,
    max_explain_steps: Annotated[
        int,
        typer.Option(
            "--max-explain-steps",
            min=1,
            help="Work per /explain request: texts x models x steps (1 for the prediction, 1 for "
            "gradient x input, ig_steps for integrated gradients); more: 422.",
        ),
    ] = 8192,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option("--allowed-host", metavar="NAME", help=ALLOWED_HOST_HELP),
    ] = None,
    read_timeout: Annotated[
        float,
        typer.Option(
            "--read-timeout",
            min=0.1,
            help="Seconds a client has to send a request's headers (or the connection closes), "
            "and then its body (or 408).",
        ),
    ] = 10.0,
    batching: Annotated[
        bool,
        typer.Option(help="Gather concurrent requests into one forward pass (off: one each)."),
    ] = True,
    max_batch_size: Annotated[
        int, typer.Option("--max-batch-size", min=1, help="Texts per forward pass at most.")
    ] = 64,
    batch_window_ms: Annotated[
        float,
        typer.Option(
            "--batch-window-ms", min=0.0, help="How long a request waits for others to join it."
        ),
    ] = 5.0,
    threads: Annotated[
        int,
        typer.Option(
            min=0,
            help="PyTorch threads of a forward pass; 0: one fewer than the cores, leaving one to "
            "answer requests (--runtime onnx uses every core).",
        ),
    ] = 0,
    shutdown_timeout: Annotated[
        int,
        typer.Option(
            "--shutdown-timeout",
            min=0,
            help="On Ctrl-C or SIGTERM, seconds to let requests in flight finish.",
        ),
    ] = 30,
    log_level: Annotated[
        str, typer.Option("--log-level", help="critical, error, warning, info or debug.")
    ] = "info",
) -> None:
    """Serve model folders over HTTP: /predict (Hugging Face's shape), /explain, /translate,
    /models, the Open Inference Protocol under /v2, the live page at / and the API's docs at
    /docs."""
    with user_errors():
        import uvicorn

        from ..serve.app import create_app
        from ..serve.listener import uvicorn_config
        from ..serve.models import load_models
        from ..serve.settings import ServeSettings

        settings = ServeSettings(
            max_texts=max_texts,
            max_text_chars=max_text_chars,
            max_body_bytes=max_body_bytes,
            max_explain_texts=max_explain_texts,
            max_explain_steps=max_explain_steps,
            allowed_hosts=(*(allowed_host or []), host),
            read_timeout=read_timeout,
            batching=batching,
            max_batch_size=max_batch_size,
            batch_window_ms=batch_window_ms,
            threads=threads,
        )
        loaded = load_models(models, device, runtime)
        bound = _free_port(host, port)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(
            f"serving {', '.join(loaded)} on http://{shown}:{bound}/ (the page; /docs: the API)",
            err=True,
        )
        config = uvicorn_config(
            create_app(loaded, settings, device),
            host,
            bound,
            settings,
            log_level=log_level,
            timeout_graceful_shutdown=shutdown_timeout,
            lifespan="on",
        )
        uvicorn.Server(config).run()


def _free_port(host: str, port: int) -> int:
    """`port` (or, for 0, a free one) once it is known that host:port can be listened on, so
    that a taken port is one line now rather than uvicorn's log later. uvicorn then binds it
    itself: its own sockets get TCP_NODELAY, which a socket handed to it does not."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            return int(probe.getsockname()[1])
    except OSError as error:
        raise AttnclfError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); choose another "
            "--port or --host"
        ) from None
