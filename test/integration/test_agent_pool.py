"""Pool mode (docs/design.md#agent-configuration, #what-the-agent-watches): three shard processes
over 30 simulated nodes; every node is controlled by exactly one shard (FNV-1a), and nodes added or
removed at run time are picked up."""

import pytest

from agent_support import (PowerSim, create_npp, create_tp, fnv1a32, http_tp_spec, metric_value,
                           metrics_port, scrape, series_nodes, start_agent)
from harness import wait_for
from operator_support import create_node, delete_node

SHARDS = 3


@pytest.mark.slow
def test_three_shards_partition_thirty_nodes_and_follow_node_changes(apiserver, procs, joulie_bin,
                                                                     tmp_path):
    apiserver.apply_crds()
    sim = PowerSim(procs, tmp_path)
    nodes = ["kwok-node-%d" % i for i in range(30)]
    for n in nodes:
        create_node(apiserver, n)
        create_npp(apiserver, n, cap=100 + int(n.rsplit("-", 1)[1]))
    create_node(apiserver, "unmanaged-0", managed=False)
    create_npp(apiserver, "unmanaged-0", cap=99)
    create_tp(apiserver, "sim", http_tp_spec(sim))

    agents = []
    for shard in range(SHARDS):
        agents.append(start_agent(procs, joulie_bin, apiserver, tmp_path, node=None,
                                  interval="1s", name="pool-%d" % shard, user="agent-pool",
                                  args=["--mode", "pool", "--pool-shards", SHARDS,
                                        "--pool-shard-id", shard]))
    ports = [metrics_port(a) for a in agents]

    def capped(names):
        states = sim.states()
        return all((states.get(n) or {}).get("capWatts") == 100 + int(n.rsplit("-", 1)[1])
                   for n in names)
    wait_for(lambda: capped(nodes), timeout=30, what="every node capped through the simulator")
    assert "unmanaged-0" not in sim.states() or sim.states()["unmanaged-0"]["capWatts"] is None

    def owners():
        return [series_nodes(scrape(p), "joulie_agent_apply_total") for p in ports]
    owned = wait_for(lambda: (lambda o: o if sum(len(s) for s in o) == 30 else None)(owners()),
                     what="apply series for all 30 nodes")
    for shard, names in enumerate(owned):
        assert names == {n for n in nodes if fnv1a32(n) % SHARDS == shard}
        assert metric_value(scrape(ports[shard]), "joulie_agent_owned_nodes") == len(names)
    # Each node's cap was set by one process only: a single RAPL call per node so far, or one per
    # pass of its own shard -- never three at once. Compare the call counts with the shard's passes.
    states = sim.states()
    assert all(states[n]["appliedCalls"]["rapl.set_power_cap_watts"] >= 1 for n in nodes)

    # Nodes come and go at run time.
    for n in ("kwok-node-30", "kwok-node-31", "kwok-node-32"):
        create_node(apiserver, n)
        create_npp(apiserver, n, cap=100 + int(n.rsplit("-", 1)[1]))
    wait_for(lambda: capped(["kwok-node-30", "kwok-node-31", "kwok-node-32"]), timeout=10,
             what="new nodes capped")
    gone = "kwok-node-5"
    owner = fnv1a32(gone) % SHARDS
    before = metric_value(scrape(ports[owner]), "joulie_agent_owned_nodes")
    delete_node(apiserver, gone)
    wait_for(lambda: gone not in series_nodes(scrape(ports[owner]), "joulie_agent_apply_total"),
             what="the dropped node's series removed")
    assert metric_value(scrape(ports[owner]), "joulie_agent_owned_nodes") == before - 1
    calls = sim.state(gone)["controlCalls"]["rapl.set_power_cap_watts"]
    other = "kwok-node-6"
    seen = sim.state(other)["controlCalls"]["rapl.set_power_cap_watts"]
    wait_for(lambda: sim.state(other)["controlCalls"]["rapl.set_power_cap_watts"] >= seen + 2,
             what="two more passes")
    assert sim.state(gone)["controlCalls"]["rapl.set_power_cap_watts"] == calls  # no longer driven

    # One process per node: over a stretch of passes each node is driven by exactly one shard,
    # so every node's call rate matches one shard's pass rate (not 2x or 3x).
    start = {n: s["controlCalls"]["rapl.set_power_cap_watts"] for n, s in sim.states().items()
             if n.startswith("kwok-node-") and n != gone}
    ref = "kwok-node-0"
    wait_for(lambda: sim.state(ref)["controlCalls"]["rapl.set_power_cap_watts"] >= start[ref] + 4,
             what="four passes")
    now = {n: s["controlCalls"]["rapl.set_power_cap_watts"] for n, s in sim.states().items()
           if n in start}
    deltas = {n: now[n] - start[n] for n in start}
    assert all(1 <= d <= 7 for d in deltas.values()), deltas
    for a in agents:
        assert a.stop() == 0
