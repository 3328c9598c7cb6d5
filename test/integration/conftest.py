"""Fixtures for Joulie's integration tests (see harness.py for the classes they return).

* ``certs`` (session): CA + server + client certificates.
* ``apiserver`` (function): a fresh HTTPS test API server with the default users.
* ``apiserver_factory`` (function): ``apiserver_factory(tls=False, history=5, ...)`` for servers
  with other options; all are stopped at teardown.
* ``kube`` (function): the API under test -- the real cluster when ``JOULIE_E2E_KUBECONFIG`` is set,
  else a fresh test API server. Scenario tests written against it run on both tiers.
* ``cluster`` (function): only the external cluster; skips (with the reason) when it is not set.
* ``joulie_bin`` / ``build_dir`` (session): the binary under test (env JOULIE_BIN, set by meson)
  and the build directory (JOULIE_BUILD_DIR).
* ``procs`` (function): start subprocesses with captured output; always stopped at teardown, and
  their output tails are printed when the test fails.
* ``kube_probe`` / ``informer_probe`` (session): the test drivers of the Kubernetes transport
  (a :class:`kube_probe_support.KubeProbe`) and of the informer / leader election (a path); skip
  when they are not built.
"""

import os
from pathlib import Path

import pytest

from harness import REPO, ApiServer, Certs, ExternalCluster, Procs
from kube_probe_support import KubeProbe, built_probe

E2E_ENV = "JOULIE_E2E_KUBECONFIG"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


#: Fixtures through which a test runs Joulie's own code (the binary or the kube-client probes).
RUNS_JOULIE = {"joulie_bin", "build_dir", "kube_probe", "informer_probe"}


#: Workers for ``-n auto`` (meson's integration test passes it): the tests mostly wait on
#: processes and sockets, so more workers than the 2 cores of the CI machine pay off.
DEFAULT_WORKERS = 4


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes ~8 s or more (mostly waiting); started first when the suite runs "
        "on several workers, so that it does not end the run alone (docs/testing.md)")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` means JOULIE_TEST_WORKERS workers (default DEFAULT_WORKERS), not one per core."""
    return int(os.environ.get("JOULIE_TEST_WORKERS") or DEFAULT_WORKERS)


def pytest_collection_modifyitems(config, items):
    _sanitizer_pass_selection(config, items)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _slow_first(items)


def _slow_first(items):
    """Under pytest-xdist every worker collects, in the same order, and the controller hands out
    tests in that order, each worker holding the one it runs and the next. The ``slow`` tests go
    first, each followed by a quick one, so that they start at once on different workers instead
    of two of them queueing on one worker at the end of the run."""
    slow = [i for i in items if i.get_closest_marker("slow")]
    rest = [i for i in items if not i.get_closest_marker("slow")]
    order = []
    for item in slow:
        order.append(item)
        if rest:
            order.append(rest.pop(0))
    items[:] = order + rest


def _sanitizer_pass_selection(config, items):
    """In the sanitizer pass (JOULIE_SANITIZER_PASS=1, set by meson for a -Db_sanitize build) only
    the tests that run Joulie's code are repeated; the rest (the test API server's, the power
    simulator's, manifests, CRDs, docs) ran in the release pass and would test nothing new."""
    if os.environ.get("JOULIE_SANITIZER_PASS") != "1":
        return
    keep, drop = [], []
    for item in items:
        (keep if RUNS_JOULIE & set(getattr(item, "fixturenames", ())) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def apiserver_factory(tmp_path, certs, request):
    servers = []

    def make(**options):
        options.setdefault("certs", certs)
        srv = ApiServer(tmp_path / ("kapi-%d" % len(servers)), **options)
        servers.append(srv)
        return srv.start()
    yield make
    for srv in servers:
        srv.close()
        if _failed(request):
            print("----- test API server log (%s) -----\n%s" % (srv.workdir, srv.log_tail()))


@pytest.fixture
def apiserver(apiserver_factory):
    return apiserver_factory()


def _external(tmp_path):
    path = os.environ.get(E2E_ENV)
    return ExternalCluster(path, tmp_path / "external") if path else None


@pytest.fixture
def cluster(tmp_path):
    if not os.environ.get(E2E_ENV):
        pytest.skip("%s is not set: the external-cluster tier is skipped" % E2E_ENV)
    c = _external(tmp_path)
    yield c
    c.cleanup()


@pytest.fixture
def kube(tmp_path, apiserver_factory):
    c = _external(tmp_path)
    if c is None:
        yield apiserver_factory()
        return
    yield c
    c.cleanup()


@pytest.fixture(scope="session")
def build_dir():
    return Path(os.environ.get("JOULIE_BUILD_DIR") or REPO / "build")


@pytest.fixture(scope="session")
def joulie_bin(build_dir):
    path = Path(os.environ.get("JOULIE_BIN") or build_dir / "joulie")
    if not path.exists():
        pytest.skip("joulie binary not found at %s (build it, or run through meson test)" % path)
    return path


@pytest.fixture(scope="session")
def kube_probe(build_dir):
    return KubeProbe(built_probe(build_dir, "kube_probe"))


@pytest.fixture(scope="session")
def informer_probe(build_dir):
    return built_probe(build_dir, "informer_probe")


@pytest.fixture
def procs(tmp_path, request):
    p = Procs(tmp_path / "procs")
    yield p
    p.stop_all()
    if _failed(request) and p.procs:
        print(p.report())
    reports = p.sanitizer_reports()
    if reports:
        pytest.fail("sanitizer report(s) from %s:\n%s" % (
            ", ".join(name for name, _ in reports),
            "\n".join("----- %s -----\n%s" % r for r in reports)), pytrace=False)
