"""One bounded poll for the test support code (the benchmarks, the Prometheus helper, the
evaluation): a condition is asked every `interval` seconds until it returns something truthy
(returned) or `timeout` passes (an `error` naming what was awaited). Integration tests use
harness.wait_for, which fails the pytest test with the last value instead."""

import time


def wait_for(predicate, timeout, interval=0.05, what="a condition", error=TimeoutError,
             between=None):
    """`between`, if given, is called after every unsuccessful try (e.g. to check that the
    processes the condition depends on are still alive); it raises to give up early."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if between is not None:
            between()
        if time.monotonic() >= deadline:
            raise error("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)  # bounded polling of a condition, not synchronisation
