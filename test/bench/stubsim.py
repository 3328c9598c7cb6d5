#!/usr/bin/python3
"""A minimal, fast stand-in for the power simulator, for benchmarks only.

The real simulator (test/support/powersim, http.server + a thread per connection) answers a few
thousand requests a second at best; a pool-mode agent pass over 5 000 nodes is then bounded by it.
This stub speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) on asyncio to answer
`GET /telemetry/<node>` with a fixed sample and `POST /control/<node>` with {"result":"applied"},
so that the agent's own cost can be measured. It counts requests (printed on SIGTERM and served at
`GET /_count`). It models no power: never use it in tests.

    stubsim.py --port 0 --port-file FILE
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time

COUNT = {"GET": 0, "POST": 0}


def reply(status, body):
    head = ("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (status, len(body)))
    return head.encode() + body


TELEMETRY = None


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == "content-length:":
                    length = int(line[15:].strip())
            if length:
                await reader.readexactly(length)
            COUNT[method] = COUNT.get(method, 0) + 1
            if method == "GET" and path.startswith("/telemetry/"):
                ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                writer.write(reply("200 OK", b'{"packagePowerWatts":150.0,"ts":"%s"}' % ts.encode()))
            elif method == "POST" and path.startswith("/control/"):
                writer.write(reply("200 OK", b'{"result":"applied"}'))
            elif path == "/_count":
                writer.write(reply("200 OK", json.dumps(COUNT).encode()))
            else:
                writer.write(reply("404 Not Found", b'{"result":"error"}'))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main_async(args):
    server = await asyncio.start_server(handle, args.host, args.port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    print(json.dumps(COUNT), file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
