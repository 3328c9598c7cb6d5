"""Label and field selectors with Kubernetes syntax and semantics.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a``, ``!a``,
``a>3``/``a<3``, comma-separated (all must hold). ``!=`` and ``notin`` also match objects without
the key, as in Kubernetes.

Field selectors: ``f=v``, ``f==v``, ``f!=v`` with ``\\``-escapes in values; which fields a resource
supports is decided by the caller (see resources.ResourceType.field_names).
"""

import re

from kapi.errors import bad_request

_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                     r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


class LabelSelector:
    """A parsed label selector; ``matches(labels_dict)``. Empty selector matches everything."""

    def __init__(self, text):
        self.text = text or ""
        self.reqs = _parse_labels(self.text)

    def empty(self):
        return not self.reqs

    def matches(self, labels):
        for key, op, values in self.reqs:
            has = key in labels
            val = labels.get(key)
            if op == "exists":
                ok = has
            elif op == "!exists":
                ok = not has
            elif op in ("=", "=="):
                ok = has and val == values[0]
            elif op == "!=":
                ok = not has or val != values[0]
            elif op == "in":
                ok = has and val in values
            elif op == "notin":
                ok = not has or val not in values
            elif op in ("gt", "lt"):
                try:
                    n = int(val) if has else None
                except ValueError:
                    n = None
                ok = n is not None and (n > values[0] if op == "gt" else n < values[0])
            else:
                ok = False
            if not ok:
                return False
        return True


def _split_top(text):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _bad(text, why):
    return bad_request("unable to parse requirement: %s: %s" % (text, why))


def _check_key(key, text):
    if not _KEY_RE.match(key) or len(key.split("/")[-1]) > 63:
        raise _bad(text, 'invalid label key "%s"' % key)
    return key


def _check_value(value, text):
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise _bad(text, 'invalid label value: "%s"' % value)
    return value


_SET_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_CMP_RE = re.compile(r"^\s*([^=!<>\s]+)\s*(==|!=|=|>|<)\s*(\S*)\s*$")


def _parse_labels(text):
    reqs = []
    if not text.strip():
        return reqs
    for part in _split_top(text):
        p = part.strip()
        if not p:
            raise _bad(text, "found '', expected: identifier")
        m = _SET_RE.match(p)
        if m:
            key = _check_key(m.group(1), text)
            values = [v.strip() for v in m.group(3).split(",")]
            if m.group(3).strip() == "":
                raise _bad(text, "for 'in', 'notin' operators, values set can't be empty")
            for v in values:
                _check_value(v, text)
            reqs.append((key, m.group(2), values))
            continue
        if p.startswith("!"):
            reqs.append((_check_key(p[1:].strip(), text), "!exists", None))
            continue
        m = _CMP_RE.match(p)
        if m:
            key, op, val = _check_key(m.group(1), text), m.group(2), m.group(3)
            if op in (">", "<"):
                try:
                    reqs.append((key, "gt" if op == ">" else "lt", [int(val)]))
                except ValueError:
                    raise _bad(text, "for 'Gt', 'Lt' operators, the value must be an integer")
                continue
            reqs.append((key, op, [_check_value(val, text)]))
            continue
        if re.match(r"^[^\s=!<>(),]+$", p):
            reqs.append((_check_key(p, text), "exists", None))
            continue
        raise _bad(text, "unexpected selector syntax")
    return reqs


class FieldSelector:
    """A parsed field selector: list of (field, op, value) with op '=' or '!='."""

    def __init__(self, text):
        self.text = text or ""
        self.reqs = _parse_fields(self.text)

    def empty(self):
        return not self.reqs

    def fields(self):
        return [f for f, _, _ in self.reqs]

    def matches(self, values):
        """``values`` maps each selectable field name to its string value ('' when absent)."""
        for field, op, want in self.reqs:
            have = values.get(field, "")
            if (have == want) != (op == "="):
                return False
        return True

    def exact(self, field):
        """The value required by ``field=value`` (to narrow a lookup), else None."""
        for f, op, v in self.reqs:
            if f == field and op == "=":
                return v
        return None


def _split_escaped(text, sep):
    parts, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value):
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _parse_fields(text):
    reqs = []
    if not text.strip():
        return reqs
    for part in _split_escaped(text, ","):
        p = part.strip()
        for op, norm in (("!=", "!="), ("==", "="), ("=", "=")):
            idx = _find_unescaped(p, op)
            if idx >= 0:
                field, value = p[:idx].strip(), p[idx + len(op):]
                if not field:
                    raise bad_request('invalid field selector: "%s"' % text)
                reqs.append((field, norm, _unescape(value)))
                break
        else:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (text, p))
    return reqs


def _find_unescaped(text, needle):
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(needle, i):
            return i
        i += 1
    return -1
