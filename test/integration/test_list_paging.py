"""--kube-list-page-size / KUBE_LIST_PAGE_SIZE (default 1000 for the operator, 500 for the agent;
0 = no pagination): the informers list in pages of that many objects, one (rate-limited) request
per page. The test API server counts list requests per resource but does not record query strings,
so the page size is observed as the number of list requests for a known number of objects."""

import subprocess

from agent_support import http_status, metrics_port, start_agent
from harness import wait_for
from operator_support import create_node

# 2 001 pods: 3 list requests at 1 000 per page, 5 at 500, 2 at 2 000, 1 unpaginated -- every
# reading is distinguishable.
PODS = 2001
# 501 nodes: 2 list requests at the agent's 500 per page, 1 at 1 000.
NODES = 501


def seed_pods(srv, n, ns="paging"):
    pods = [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": "p-%05d" % i, "namespace": ns},
             "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
             "status": {"phase": "Running"}} for i in range(n)]
    assert srv.seed(pods) == n


def test_operator_lists_pods_in_pages_of_kube_list_page_size(apiserver, procs, joulie_bin,
                                                             monkeypatch):
    monkeypatch.delenv("KUBE_LIST_PAGE_SIZE", raising=False)
    apiserver.apply_crds()
    create_node(apiserver, "n1")
    seed_pods(apiserver, PODS)
    cases = [
        ([], {}, 3),                                              # default 1 000
        (["--kube-list-page-size", "2000"], {}, 2),               # 2000 + 1
        ([], {"KUBE_LIST_PAGE_SIZE": "600"}, 4),                  # 600 * 3 + 201
        (["--kube-list-page-size=0"], {"KUBE_LIST_PAGE_SIZE": "600"}, 1),  # flag over env; 0
    ]
    for args, env, pages in cases:
        apiserver.reset_counters()
        argv = [joulie_bin, "operator", "--once", "--dry-run", "--output", "json",
                "--kubeconfig", apiserver.kubeconfig("operator")] + args
        p = procs.start("operator-once", argv, env=dict(env, POD_NAMESPACE="default"))
        code = p.wait(60)
        assert code == 0, (args, env, p.output("stderr")[-2000:])
        assert '"managed":1' in p.output("stdout"), p.output("stdout")
        assert apiserver.count("list", "pods") == pages, (args, env, apiserver.counters())
        # Small collections are one page whatever the size.
        assert apiserver.count("list", "nodes") == 1, (args, env, apiserver.counters())


def test_agent_informers_use_kube_list_page_size(apiserver, procs, joulie_bin, tmp_path,
                                                 monkeypatch):
    monkeypatch.delenv("KUBE_LIST_PAGE_SIZE", raising=False)
    apiserver.apply_crds()
    nodes = [{"apiVersion": "v1", "kind": "Node",
              "metadata": {"name": "pool-%03d" % i, "labels": {"joulie.io/managed": "true"}}}
             for i in range(NODES)]
    npps = [{"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
             "metadata": {"name": "node-pool-%03d" % i},
             "spec": {"nodeName": "pool-%03d" % i, "profile": "eco",
                      "cpu": {"packagePowerCapWatts": 150}}} for i in range(5)]
    assert apiserver.seed(nodes + npps) == NODES + 5
    for args, node_pages, npp_pages in [
            ([], 2, 1),                                     # default 500: 500 + 1 nodes
            (["--kube-list-page-size", "2", "--kube-qps", "1000", "--kube-burst", "1000"],
             251, 3),                                       # 2 + 2 + 1 NodePowerProfiles
    ]:
        apiserver.reset_counters()
        agent = start_agent(procs, joulie_bin, apiserver, tmp_path, node=None, interval="1h",
                            user="agent-pool", name="pool", args=["--mode", "pool"] + args)
        port = metrics_port(agent)
        wait_for(lambda: http_status(port, "/readyz") == 200, 30, what="the pool agent's caches")
        c = apiserver.counters()
        # The API-server liveness probe lists one NodePowerProfile (limit=1) every few seconds;
        # those are not the informer's pages.
        probes = c["limits"].get("nodepowerprofiles", {}).get("1", 0)
        assert probes >= 1, c
        assert apiserver.count("list", "nodes") == node_pages, (args, c)
        assert apiserver.count("list", "nodepowerprofiles") - probes == npp_pages, (args, c)
        assert apiserver.count("list", "telemetryprofiles") == 1, (args, c)
        agent.stop()


def test_negative_page_size_is_a_usage_error(joulie_bin):
    proc = subprocess.run([joulie_bin, "operator", "--once", "--kube-list-page-size=-1"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert 'invalid value "-1" for --kube-list-page-size: must not be negative' in proc.stderr
