"""A hardware file (--hardware FILE): the node types of your own cluster, and how many of each.

    types:
      - name: r650-64c              # becomes the node label joulie.io/hardware-type
        count: 24                   # nodes of this type
        cores: 64                   # allocatable CPUs
        platformWatts: 110          # uncapped part: memory, disks, fans, NICs, PSU losses
        idlePackageWatts: 65        # CPU package (what RAPL caps), idle
        maxPackageWatts: 350        # CPU package at 100 % load, full frequency
        curve: [0, 0.15, 0.27, 0.38, 0.48, 0.58, 0.67, 0.75, 0.83, 0.92, 1]
                                    # g(0 %), g(10 %) ... g(100 %): the package's active power at
                                    # that load as a fraction of (max − idle); a SPECpower result's
                                    # "average active power" column, rescaled, gives it
        about: "2-socket 64-core"   # optional, shown in the report

See examples/evaluation/hardware.yaml and docs/evaluation.md ("Your own cluster").
"""

import yaml

from powersim import physics

MAX_NODES = 5000


def load(path):
    """{"types": {name: HardwareType}, "counts": [(name, count)]}; ValueError names the problem."""
    with open(path) as f:
        try:
            doc = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ValueError("%s: not YAML: %s" % (path, e)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("types"), list) or not doc["types"]:
        raise ValueError("%s: needs a non-empty list `types`" % path)
    types, counts = {}, []
    for i, t in enumerate(doc["types"]):
        if not isinstance(t, dict):
            raise ValueError("%s: types[%d] is not a mapping" % (path, i))
        d = dict(t)
        count = d.pop("count", None)
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise ValueError("%s: types[%d]: count must be a positive integer" % (path, i))
        try:
            hw = physics.HardwareType.from_dict(d)
        except ValueError as e:
            raise ValueError("%s: types[%d]: %s" % (path, i, e)) from None
        if hw.name in types:
            raise ValueError("%s: type %s named twice" % (path, hw.name))
        types[hw.name] = hw
        counts.append((hw.name, count))
    if sum(c for _, c in counts) > MAX_NODES:
        raise ValueError("%s: more than %d nodes" % (path, MAX_NODES))
    return {"types": types, "counts": counts}
