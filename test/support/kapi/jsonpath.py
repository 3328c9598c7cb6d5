"""The small JSONPath subset CRDs use in additionalPrinterColumns and selectableFields:
``.a.b``, ``.a[0]``, ``.a[*].b``, ``.a['key.with.dots']`` and filters ``.a[?(@.k=="v")].b``."""

import re

_TOKEN = re.compile(r"""\.([A-Za-z0-9_\-$]+)|\[(\*|-?\d+)\]|\[['"]([^'"]+)['"]\]|"""
                    r"""\[\?\(@\.([A-Za-z0-9_.\-]+)\s*(==|!=)\s*['"]?([^'")]*)['"]?\)\]""")


def compile_path(path):
    """Parse ``path`` into steps; raises ValueError on unsupported syntax."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    if p.startswith("$"):
        p = p[1:]
    steps, pos = [], 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if not m:
            raise ValueError("unsupported JSONPath %r at %d" % (path, pos))
        if m.group(1) is not None:
            steps.append(("key", m.group(1)))
        elif m.group(2) is not None:
            steps.append(("all", None) if m.group(2) == "*" else ("index", int(m.group(2))))
        elif m.group(3) is not None:
            steps.append(("key", m.group(3)))
        else:
            steps.append(("filter", (m.group(4).split("."), m.group(5), m.group(6))))
        pos = m.end()
    return steps


def evaluate(steps, doc):
    """All values ``steps`` select in ``doc`` (a list; empty when nothing matches)."""
    cur = [doc]
    for kind, arg in steps:
        nxt = []
        for v in cur:
            if kind == "key":
                if isinstance(v, dict) and arg in v:
                    nxt.append(v[arg])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append(v[arg])
            elif kind == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            else:
                keys, op, want = arg
                if isinstance(v, list):
                    for item in v:
                        got = item
                        for k in keys:
                            got = got.get(k) if isinstance(got, dict) else None
                        text = _text(got) if got is not None else None
                        if (text == want) == (op == "=="):
                            nxt.append(item)
        cur = nxt
    return cur


def _text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def field_value(steps, doc):
    """The string value of a selectable field ('' when absent), as field selectors compare it."""
    vals = evaluate(steps, doc) if steps else [doc]
    if not vals or vals[0] is None:
        return ""
    return _text(vals[0])
