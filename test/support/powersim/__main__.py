"""python3 -m powersim --port 0 --port-file FILE [--idle-watts 60 --dynamic-watts 140 --load 1.0]"""

import argparse
import json
import signal
import sys

from .model import PowerModel
from .server import serve


def parse_node_load(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected NODE=LOAD, got %r" % text)
    load = float(value)
    if not 0.0 <= load <= 1.0:
        raise argparse.ArgumentTypeError("load must be in [0,1]")
    return name, load


def main(argv=None):
    p = argparse.ArgumentParser(prog="powersim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = any free port (see --port-file)")
    p.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    p.add_argument("--idle-watts", type=float, default=60.0)
    p.add_argument("--dynamic-watts", type=float, default=140.0)
    p.add_argument("--load", type=float, default=1.0, help="default load of every node, 0..1")
    p.add_argument("--node-load", type=parse_node_load, action="append", default=[],
                   metavar="NODE=LOAD", help="per-node load (repeatable)")
    p.add_argument("--hang-seconds", type=float, default=30.0,
                   help="how long a 'hang' fault holds a request")
    p.add_argument("--eval-config", metavar="FILE",
                   help="evaluation mode: JSON {factor, performanceCapWatts, sampleSeconds, hardware?, physics?, "
                        "nodes: [{name, type, tempOffset}]}; the clock waits for POST /sim/start")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if not 0.0 <= args.load <= 1.0:
        p.error("--load must be in [0,1]")

    eval_config = None
    if args.eval_config:
        try:
            with open(args.eval_config) as f:
                eval_config = json.load(f)
        except (OSError, ValueError) as e:
            p.error("--eval-config: %s" % e)
    try:
        model = PowerModel(args.idle_watts, args.dynamic_watts, args.load, dict(args.node_load),
                           eval_config=eval_config)
    except (ValueError, KeyError) as e:
        p.error("--eval-config: %s" % e)
    server = serve(args.host, args.port, args.port_file, model, args.hang_seconds, args.verbose)

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return: run it off the main thread.
        import threading
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("powersim listening on %s:%d" % server.server_address[:2], file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
