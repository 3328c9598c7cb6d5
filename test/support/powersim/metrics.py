"""GET /metrics of the power simulator: Prometheus text format 0.0.4 (`promtool check metrics`).

Per node (label `node`, what the operator's signals map by default, docs/design.md#context-and-signals):
  joulie_sim_node_power_watts            node power (platform + capped package)
  joulie_sim_node_package_power_watts    the capped CPU package domain
  joulie_sim_node_temperature_celsius    node (package) temperature
  joulie_sim_node_cap_watts              cap applied through /control (absent: never capped)
  joulie_sim_node_throttle_pct           DVFS throttle applied through /control
  joulie_sim_node_utilisation_ratio      busy cores / cores (legacy nodes: their load)
  joulie_sim_node_energy_joules_total    energy drawn since the simulator started (simulated time)
Cluster:
  joulie_sim_it_power_watts, joulie_sim_facility_power_watts, joulie_sim_pue_ratio,
  joulie_sim_ambient_temperature_celsius, joulie_sim_it_energy_joules_total,
  joulie_sim_facility_energy_joules_total, joulie_sim_time_seconds (the simulated clock),
  joulie_sim_clock_factor, joulie_sim_running_jobs.
Energy counters and temperatures advance in simulated time; Prometheus scrapes in real time, so a
rate() over them is simulated joules per real second (× the clock factor): use the gauges.
"""

from . import physics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v):
    if v != v:  # NaN
        return "NaN"
    return repr(float(v))


def render(model):
    """The exposition of model (call with model.lock held, after model.advance())."""
    nodes = sorted(model.nodes.values(), key=lambda n: n.name)
    out = []

    def family(name, kind, help_text, samples):
        out.append("# HELP %s %s" % (name, help_text))
        out.append("# TYPE %s %s" % (name, kind))
        for labels, value in samples:
            if labels:
                text = ",".join('%s="%s"' % (k, _label(v)) for k, v in labels)
                out.append("%s{%s} %s" % (name, text, _num(value)))
            else:
                out.append("%s %s" % (name, _num(value)))

    def per_node(fn):
        return [((("node", n.name),), fn(n)) for n in nodes]

    family("joulie_sim_node_power_watts", "gauge", "Node power (platform + capped CPU package).",
           per_node(lambda n: n.power_watts()))
    family("joulie_sim_node_package_power_watts", "gauge", "CPU package power (the capped domain).",
           per_node(lambda n: n.package_watts()))
    family("joulie_sim_node_temperature_celsius", "gauge", "Node CPU package temperature.",
           per_node(lambda n: n.temperature))
    family("joulie_sim_node_cap_watts", "gauge", "Package power cap applied through /control.",
           [((("node", n.name),), n.cap_watts) for n in nodes if n.cap_watts is not None])
    family("joulie_sim_node_throttle_pct", "gauge", "DVFS throttle applied through /control.",
           per_node(lambda n: n.throttle_pct))
    family("joulie_sim_node_utilisation_ratio", "gauge", "Busy cores over cores (legacy nodes: load).",
           per_node(lambda n: n.utilisation()))
    family("joulie_sim_node_energy_joules_total", "counter",
           "Energy the node drew, integrated over simulated time.", per_node(lambda n: n.energy_j))
    ambient = physics.ambient_celsius(model.t)
    it = sum(n.power_watts() for n in nodes)
    facility = physics.facility_watts(it, ambient, model.capacity_watts) if model.eval_mode else it
    family("joulie_sim_it_power_watts", "gauge", "Sum of the nodes' power.", [((), it)])
    family("joulie_sim_facility_power_watts", "gauge", "Facility power (IT + cooling + losses).",
           [((), facility)])
    family("joulie_sim_pue_ratio", "gauge", "Power usage effectiveness, facility over IT power.",
           [((), facility / it if it > 0 else 1.0)])
    family("joulie_sim_ambient_temperature_celsius", "gauge", "Outdoor temperature.", [((), ambient)])
    family("joulie_sim_it_energy_joules_total", "counter", "IT energy over simulated time.",
           [((), model.it_energy_j)])
    family("joulie_sim_facility_energy_joules_total", "counter",
           "Facility energy over simulated time.", [((), model.facility_energy_j)])
    family("joulie_sim_time_seconds", "gauge", "The simulated clock (0 = midnight of day one).",
           [((), model.t)])
    family("joulie_sim_clock_factor", "gauge", "Simulated seconds per real second.",
           [((), model.factor)])
    family("joulie_sim_running_jobs", "gauge", "Jobs running on evaluation nodes.",
           [((), sum(len(n.jobs) for n in nodes))])
    return "\n".join(out) + "\n"
