"""A YAML subset loader (standard library only) for Kubernetes manifests sent as
``application/yaml``: block mappings and sequences, flow collections, plain (multi-line), single-
and double-quoted scalars, literal/folded block scalars with chomping, comments and ``---``
documents. Scalars resolve like Kubernetes' YAML 1.1 decoder (yes/no/on/off are booleans).
Anchors, aliases and tags are refused with ValueError."""

import json
import re

_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_HEX = re.compile(r"^0x[0-9a-fA-F_]+$")
_OCT = re.compile(r"^0o?[0-7_]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")


def resolve_plain(s):
    """Type of a plain scalar."""
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    low = s.lower()
    if low in ("true", "yes", "on", "y") and s in ("true", "True", "TRUE", "yes", "Yes", "YES", "on",
                                                    "On", "ON", "y", "Y"):
        return True
    if low in ("false", "no", "off", "n") and s in ("false", "False", "FALSE", "no", "No", "NO",
                                                     "off", "Off", "OFF", "n", "N"):
        return False
    if _INT.match(s):
        return int(s.replace("_", ""))
    if _HEX.match(s):
        return int(s[2:].replace("_", ""), 16)
    if len(s) > 1 and s[0] == "0" and _OCT.match(s):
        return int(s.lstrip("0o").replace("_", "") or "0", 8)
    if _FLOAT.match(s) and any(c.isdigit() for c in s):
        return float(s.replace("_", ""))
    if low in (".inf", "+.inf"):
        return float("inf")
    if low == "-.inf":
        return float("-inf")
    if low == ".nan":
        return float("nan")
    return s


def _strip_comment(line):
    """Remove a trailing comment (``#`` after whitespace, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"':
                continue
        elif ch in "\"'" and (i == 0 or line[i - 1] in " \t:[{,-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _split_key(content):
    """(key, rest) when ``content`` is a ``key: value`` line, else None."""
    quote, depth = None, 0
    i = 0
    if content[:1] in "\"'":
        q = content[0]
        j = 1
        while j < len(content):
            if content[j] == "\\" and q == '"':
                j += 2
                continue
            if content[j] == q:
                if q == "'" and content[j + 1:j + 2] == "'":
                    j += 2
                    continue
                break
            j += 1
        i = j + 1
        rest = content[i:].lstrip()
        if rest.startswith(":") and (len(rest) == 1 or rest[1] in " \t"):
            return _scalar(content[:i]), rest[1:].strip()
        return None
    if content[:1] in "[{":
        return None
    for i, ch in enumerate(content):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == ":" and depth == 0 and (i + 1 == len(content) or content[i + 1] in " \t"):
            return content[:i].strip(), content[i + 1:].strip()
    return None


def _scalar(text):
    t = text.strip()
    if t.startswith('"'):
        if not t.endswith('"') or len(t) < 2:
            raise ValueError("unterminated double-quoted scalar: %s" % t)
        return json.loads(t.replace("\\/", "/").replace("\t", "\\t"))
    if t.startswith("'"):
        if not t.endswith("'") or len(t) < 2:
            raise ValueError("unterminated single-quoted scalar: %s" % t)
        return t[1:-1].replace("''", "'")
    if t[:1] in ("&", "*", "!") and t not in ("!",):
        raise ValueError("YAML anchors, aliases and tags are not supported: %s" % t)
    if t[:1] in "[{":
        return _Flow(t).parse()
    return resolve_plain(t)


class _Flow:
    """Flow collections: [a, b], {k: v}."""

    def __init__(self, text):
        self.s = text
        self.i = 0

    def parse(self):
        v = self.value()
        self.ws()
        if self.i != len(self.s):
            raise ValueError("trailing characters in flow collection: %s" % self.s)
        return v

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def value(self):
        self.ws()
        ch = self.s[self.i:self.i + 1]
        if ch == "[":
            self.i += 1
            out = []
            while True:
                self.ws()
                if self.s[self.i:self.i + 1] == "]":
                    self.i += 1
                    return out
                out.append(self.value())
                self.ws()
                if self.s[self.i:self.i + 1] == ",":
                    self.i += 1
        if ch == "{":
            self.i += 1
            out = {}
            while True:
                self.ws()
                if self.s[self.i:self.i + 1] == "}":
                    self.i += 1
                    return out
                k = self.atom(stop=":,}", key=True)
                self.ws()
                v = None
                if self.s[self.i:self.i + 1] == ":":
                    self.i += 1
                    v = self.value()
                out[k] = v
                self.ws()
                if self.s[self.i:self.i + 1] == ",":
                    self.i += 1
        return self.atom(stop=",]}")

    def atom(self, stop, key=False):
        self.ws()
        if self.i >= len(self.s):
            raise ValueError("unterminated flow collection: %s" % self.s)
        ch = self.s[self.i]
        if ch in "\"'":
            j = self.i + 1
            while j < len(self.s):
                if ch == '"' and self.s[j] == "\\":
                    j += 2
                    continue
                if self.s[j] == ch:
                    if ch == "'" and self.s[j + 1:j + 2] == "'":
                        j += 2
                        continue
                    break
                j += 1
            text = self.s[self.i:j + 1]
            self.i = j + 1
            return _scalar(text)
        if ch in "[{":
            return self.value()
        j = self.i
        while j < len(self.s) and self.s[j] not in stop:
            if self.s[j] == ":" and ":" in stop and (j + 1 == len(self.s) or self.s[j + 1] in " ,}"):
                break
            j += 1
        text = self.s[self.i:j].strip()
        self.i = j
        return text if key else resolve_plain(text)


class _Parser:
    def __init__(self, text):
        self.lines = text.replace("\r\n", "\n").replace("\t", "  ").split("\n")
        self.i = 0

    def _skip_blank(self):
        while self.i < len(self.lines):
            s = _strip_comment(self.lines[self.i])
            if s.strip():
                return True
            self.i += 1
        return False

    def _cur(self):
        line = _strip_comment(self.lines[self.i])
        ind = len(line) - len(line.lstrip(" "))
        return ind, line[ind:]

    def node(self, min_indent):
        if not self._skip_blank():
            return None
        ind, content = self._cur()
        if ind < min_indent:
            return None
        if content == "-" or content.startswith("- "):
            return self.sequence(ind)
        if _split_key(content) is not None:
            return self.mapping(ind)
        return self.inline(content, ind - 1)

    def sequence(self, ind):
        out = []
        while self._skip_blank():
            cur_ind, content = self._cur()
            if cur_ind != ind or not (content == "-" or content.startswith("- ")):
                break
            rest = content[1:]
            if not rest.strip():
                self.i += 1
                out.append(self.node(ind + 1))
                continue
            col = ind + 1 + (len(rest) - len(rest.lstrip(" ")))
            self.lines[self.i] = " " * col + rest.lstrip(" ")
            out.append(self.node(col))
        return out

    def mapping(self, ind):
        out = {}
        while self._skip_blank():
            cur_ind, content = self._cur()
            if cur_ind != ind:
                if cur_ind > ind:
                    raise ValueError("bad indentation at line %d: %r" % (self.i + 1, self.lines[self.i]))
                break
            kv = _split_key(content)
            if kv is None:
                raise ValueError("expected 'key: value' at line %d: %r" % (self.i + 1, content))
            key, rest = kv
            if key in out:
                raise ValueError('duplicate key "%s" at line %d' % (key, self.i + 1))
            self.i += 1
            if rest == "":
                if self._skip_blank():
                    nind, ncontent = self._cur()
                    if nind > ind or (nind == ind and (ncontent == "-" or ncontent.startswith("- "))):
                        out[key] = self.node(nind)
                        continue
                out[key] = None
            else:
                self.i -= 1
                out[key] = self.inline(rest, ind)
        return out

    def inline(self, rest, parent_ind):
        """A value that starts on the current line (after ``key:`` or ``- ``)."""
        if rest[:1] in ("|", ">"):
            return self.block_scalar(rest, parent_ind)
        self.i += 1
        text = rest
        if rest[:1] in "[{":
            while not _balanced(text) and self.i < len(self.lines):
                text += " " + _strip_comment(self.lines[self.i]).strip()
                self.i += 1
            return _scalar(text)
        if rest[:1] in "\"'" and not _closed(rest):
            while not _closed(text) and self.i < len(self.lines):
                text += " " + self.lines[self.i].strip()
                self.i += 1
            return _scalar(text)
        # Plain multi-line scalar: more-indented continuation lines fold into one.
        parts = [rest]
        while self.i < len(self.lines):
            raw = _strip_comment(self.lines[self.i])
            if not raw.strip():
                j = self.i
                while j < len(self.lines) and not _strip_comment(self.lines[j]).strip():
                    j += 1
                if j < len(self.lines) and _indent(self.lines[j]) > parent_ind and parts:
                    parts.append("\n" * (j - self.i))
                    self.i = j
                    continue
                break
            if _indent(raw) <= parent_ind:
                break
            if _split_key(raw.strip()) is not None:
                raise ValueError("mapping values are not allowed here (line %d)" % (self.i + 1))
            parts.append(raw.strip())
            self.i += 1
        if len(parts) == 1:
            return _scalar(rest)
        out = ""
        for p in parts:
            if p.startswith("\n"):
                out += p
            elif out and not out.endswith("\n"):
                out += " " + p
            else:
                out += p
        return out

    def block_scalar(self, header, parent_ind):
        m = re.match(r"^([|>])([-+]?)([1-9]?)([-+]?)\s*$", header)
        if not m:
            raise ValueError("bad block scalar header %r" % header)
        style, chomp = m.group(1), m.group(2) or m.group(4)
        explicit = int(m.group(3)) if m.group(3) else None
        self.i += 1
        body = []
        block_ind = None if explicit is None else parent_ind + explicit + 1
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not line.strip():
                body.append("")
                self.i += 1
                continue
            ind = _indent(line)
            if block_ind is None:
                if ind <= parent_ind:
                    break
                block_ind = ind
            if ind < block_ind:
                break
            body.append(line[block_ind:])
            self.i += 1
        trailing = 0
        while body and body[-1] == "":
            body.pop()
            trailing += 1
        if style == "|":
            text = "\n".join(body)
        else:
            text, prev_more = "", False
            for j, line in enumerate(body):
                more = line.startswith(" ") or line == ""
                if j == 0:
                    text = line
                elif line == "":
                    text += "\n"
                elif text.endswith("\n") or more or prev_more:
                    text += ("" if text.endswith("\n") else "\n") + line
                else:
                    text += " " + line
                prev_more = line.startswith(" ")
        if chomp == "-":
            return text
        if chomp == "+":
            return text + "\n" * (trailing + (1 if body else 0))
        return text + "\n" if body else ""


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _balanced(text):
    depth, quote = 0, None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth <= 0


def _closed(text):
    q = text[0]
    body = text[1:]
    i = 0
    while i < len(body):
        if q == '"' and body[i] == "\\":
            i += 2
            continue
        if body[i] == q:
            if q == "'" and body[i + 1:i + 2] == "'":
                i += 2
                continue
            return True
        i += 1
    return False


def load_all(text):
    """Every document of a YAML stream (empty documents skipped)."""
    docs, cur = [], []
    for line in text.replace("\r\n", "\n").split("\n"):
        if re.match(r"^---(\s|$)", line) or line.strip() == "...":
            docs.append("\n".join(cur))
            cur = []
            rest = line[3:].strip() if line.startswith("---") else ""
            if rest and not rest.startswith("#"):
                cur.append(rest)
        elif line.startswith("%"):
            continue
        else:
            cur.append(line)
    docs.append("\n".join(cur))
    out = []
    for d in docs:
        p = _Parser(d)
        if not p._skip_blank():
            continue
        v = p.node(0)
        if p._skip_blank():
            raise ValueError("unexpected content at line %d: %r" % (p.i + 1, p.lines[p.i]))
        out.append(v)
    return out


def load(text):
    """The first document of ``text`` (None when there is none)."""
    docs = load_all(text)
    return docs[0] if docs else None
