"""`python -m app.worker`: the relay and the scheduled jobs without the API, for scale-out.

SIGTERM (or Ctrl-C) stops claiming, lets attempts in flight finish and releases the rest.
"""

import asyncio
import logging
import signal

import uvloop

from app.core.config import get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.logging import configure_logging
from app.core.tracing import install_tracing
from app.worker.runtime import background


async def main() -> None:
    settings = get_settings()
    engine = create_engine(settings)
    tracer_provider = install_tracing(None, engine, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with background(create_sessionmaker(engine), settings):
            logging.getLogger("app.worker").info("worker started")
            await stop.wait()
    finally:
        if tracer_provider is not None:
            tracer_provider.shutdown()
        await engine.dispose()
    logging.getLogger("app.worker").info("worker stopped")


if __name__ == "__main__":
    configure_logging(get_settings())
    # The event loop uvicorn serves the API with: its sockets are written in C, where the
    # standard loop's transports took a fifth of the worker's samples, writing e-mails.
    uvloop.run(main())
