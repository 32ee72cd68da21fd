"""A separate process that appends audit records (for the multi-process and kill -9 tests).

    python tests/audit/proc_writer.py --org acme --count 200 --concurrency 8 [--go FILE] [--journaled]

Prints ``ready`` once the appender is open, waits for ``--go`` to exist (so several processes
start together), then prints ``ack <event_id> <seq>`` after each append returns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


async def main(args: argparse.Namespace) -> None:
    from audit import AuditEvent, append, append_journaled, close, ready

    await ready(args.org)
    print("ready", flush=True)
    if args.go:
        while not os.path.exists(args.go):
            time.sleep(0.01)
    queue = list(range(args.count))

    async def writer() -> None:
        while queue:
            i = queue.pop()
            event = AuditEvent(
                org_id=args.org,
                event_type="tool_call",
                source="server:proc",
                actor=f"pid:{os.getpid()}",
                event_id=str(uuid.uuid4()),
                arguments={"i": i, "phone": "010-2222-3333"},
            )
            if args.journaled:  # durable in the journal, chained later (a server's tool call)
                await append_journaled(event)
                sys.stdout.write(f"ack {event.event_id} -\n")
            else:
                record = await append(event)
                sys.stdout.write(f"ack {record.event_id} {record.seq}\n")
            sys.stdout.flush()

    await asyncio.gather(*(writer() for _ in range(args.concurrency)))
    if not args.no_close:
        await close()
    print("done", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--org", default="acme")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--go")
    parser.add_argument("--journaled", action="store_true", help="append through the write-ahead journal")
    parser.add_argument("--no-close", action="store_true", help="end without closing the appender (exit hooks only)")
    asyncio.run(main(parser.parse_args()))
