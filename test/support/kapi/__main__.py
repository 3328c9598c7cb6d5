"""Command line: ``python3 -m kapi --port 0 --port-file F [--tls-cert C --tls-key K]``."""

import argparse
import os
import sys
import threading

if __package__ in (None, ""):
    # Run as a script (python3 test/support/kapi/__main__.py): import the package from its parent
    # directory instead of this one (module names here must not shadow the standard library).
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

from kapi import versions  # noqa: E402
from kapi.server import KapiServer, load_seed  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(prog="kapi", description="Test Kubernetes API server for Joulie.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the bound port here once listening")
    p.add_argument("--control-port-file",
                   help="also listen for /_test/ controls on 127.0.0.1 (no auth) and write that port")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca", help="verify TLS client certificates against this CA (CN = user)")
    p.add_argument("--users", help="users file (JSON); without it every request is allowed")
    p.add_argument("--refuse-selectable-fields", action="store_true",
                   help="answer 400 to field selectors on CRD selectableFields (old servers)")
    p.add_argument("--server-version", default="1.%d" % versions.NEWEST,
                   help="Kubernetes version to play, 1.%d to 1.%d (default: the newest): /version, "
                        "the fields strict decoding knows, CRD field selectors"
                        % (versions.OLDEST, versions.NEWEST))
    p.add_argument("--feature-gates", default="",
                   help="Name=true|false,... (known: %s)" % ", ".join(sorted(versions.GATES)))
    p.add_argument("--history", type=int, default=1000,
                   help="watch events kept per resource before a watch gets 410 Gone")
    p.add_argument("--bookmark-interval", type=float, default=1.0, help="seconds between bookmarks")
    p.add_argument("--seed", help="objects to bulk-load at start (JSON list/items or JSON lines)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    a = p.parse_args(argv)
    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("--tls-cert and --tls-key go together")
    try:
        version = versions.ServerVersion(a.server_version, versions.parse_gates(a.feature_gates))
    except ValueError as e:
        p.error(str(e))
    srv = KapiServer(a.host, a.port, a.tls_cert, a.tls_key, a.client_ca, a.users, a.history,
                     a.refuse_selectable_fields, a.bookmark_interval, a.verbose, version)
    if a.seed:
        n = srv.api.seed(load_seed(a.seed))
        sys.stderr.write("kapi: seeded %d objects\n" % n)
    srv.start_listening()
    if a.control_port_file:
        srv.start_control()
    srv.write_port_files(a.port_file, a.control_port_file)
    sys.stderr.write("kapi: listening on %s://%s:%d as Kubernetes %s\n" % (
        "https" if a.tls_cert else "http", a.host, srv.port, version.git_version))
    sys.stderr.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
