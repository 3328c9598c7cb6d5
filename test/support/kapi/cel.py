"""A small CEL subset for CRD validation rules (``x-kubernetes-validations``), enough for the rules
Joulie's CRDs use and the usual cross-field checks: literals (strings, integers, doubles, booleans,
null, lists), ``self`` and field selection, indexing, ``has()``, ``size()``/``.size()``,
``.startsWith/.endsWith/.contains/.matches``, ``!``, unary ``-``, ``* / % + -``, comparisons,
``in``, ``&&``, ``||`` (CEL's commutative error handling) and ``? :``.

A rule outside the subset fails to compile, and the CRD is refused: stricter than a real server
(which would accept it), never looser. Rules that mention ``oldSelf`` (transition rules) are not
evaluated. A runtime error (for example selecting a field that is absent without ``has()``)
fails the rule, as it fails the request on a real server.
"""

import re

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?)
  | (?P<int>\d+)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[<>!+\-*/%().,\[\]?:])
""", re.X)


class CelError(Exception):
    """A rule that does not compile, or fails at run time."""


def _tokens(text):
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise CelError("unexpected character %r at %d" % (text[pos], pos))
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        value = m.group(kind)
        if kind == "str":
            value = bytes(value[1:-1], "utf-8").decode("unicode_escape")
        elif kind == "int":
            value = int(value)
        elif kind == "float":
            value = float(value)
        out.append((kind, value))
    out.append(("end", None))
    return out


class _Parser:
    """Recursive descent into a tree of tuples."""

    def __init__(self, text):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, value=None):
        kind, v = self.toks[self.i]
        if value is None:
            return kind, v
        return kind in ("op", "id") and v == value

    def take(self, value=None):
        kind, v = self.toks[self.i]
        if value is not None and not (kind in ("op", "id") and v == value):
            raise CelError("expected %r, found %r" % (value, v))
        self.i += 1
        return kind, v

    def parse(self):
        tree = self.expr()
        if self.peek()[0] != "end":
            raise CelError("unexpected %r" % (self.peek()[1],))
        return tree

    def expr(self):
        cond = self.or_()
        if self.peek("?"):
            self.take("?")
            a = self.expr()
            self.take(":")
            b = self.expr()
            return ("cond", cond, a, b)
        return cond

    def or_(self):
        left = self.and_()
        while self.peek("||"):
            self.take()
            left = ("or", left, self.and_())
        return left

    def and_(self):
        left = self.rel()
        while self.peek("&&"):
            self.take()
            left = ("and", left, self.rel())
        return left

    def rel(self):
        left = self.add()
        for op in ("==", "!=", "<=", ">=", "<", ">", "in"):
            if self.peek(op):
                self.take()
                return ("bin", op, left, self.add())
        return left

    def add(self):
        left = self.mul()
        while self.peek("+") or self.peek("-"):
            op = self.take()[1]
            left = ("bin", op, left, self.mul())
        return left

    def mul(self):
        left = self.unary()
        while self.peek("*") or self.peek("/") or self.peek("%"):
            op = self.take()[1]
            left = ("bin", op, left, self.unary())
        return left

    def unary(self):
        if self.peek("!"):
            self.take()
            return ("not", self.unary())
        if self.peek("-"):
            self.take()
            return ("neg", self.unary())
        return self.member()

    def member(self):
        node = self.primary()
        while True:
            if self.peek("."):
                self.take()
                kind, name = self.take()
                if kind != "id":
                    raise CelError("expected a field name after '.'")
                if self.peek("("):
                    node = ("method", name, node, self.args())
                else:
                    node = ("select", node, name)
            elif self.peek("["):
                self.take()
                index = self.expr()
                self.take("]")
                node = ("index", node, index)
            else:
                return node

    def args(self):
        self.take("(")
        out = []
        if not self.peek(")"):
            out.append(self.expr())
            while self.peek(","):
                self.take()
                out.append(self.expr())
        self.take(")")
        return out

    def primary(self):
        kind, v = self.take()
        if kind in ("int", "float", "str"):
            return ("lit", v)
        if kind == "id":
            if v in ("true", "false"):
                return ("lit", v == "true")
            if v == "null":
                return ("lit", None)
            if self.peek("("):
                return ("call", v, self.args())
            if v not in ("self", "oldSelf"):
                raise CelError("undeclared reference to '%s'" % v)
            return ("var", v)
        if kind == "op" and v == "(":
            e = self.expr()
            self.take(")")
            return e
        if kind == "op" and v == "[":
            items = []
            if not self.peek("]"):
                items.append(self.expr())
                while self.peek(","):
                    self.take()
                    items.append(self.expr())
            self.take("]")
            return ("list", items)
        raise CelError("unexpected %r" % (v,))


def compile_rule(text):
    """The parsed rule; CelError when it is outside the subset or malformed."""
    if not isinstance(text, str) or not text.strip():
        raise CelError("rule is empty")
    tree = _Parser(text).parse()
    _check_calls(tree)
    return tree


_FUNCS = {"has": 1, "size": 1, "int": 1, "string": 1, "double": 1}
_METHODS = {"size": 0, "startsWith": 1, "endsWith": 1, "contains": 1, "matches": 1}


def _check_calls(t):
    if not isinstance(t, tuple):
        return
    if t[0] == "call":
        if t[1] not in _FUNCS or len(t[2]) != _FUNCS[t[1]]:
            raise CelError("found no matching overload for '%s'" % t[1])
        if t[1] == "has" and t[2][0][0] != "select":
            raise CelError("invalid argument to has() macro")
    if t[0] == "method" and (t[1] not in _METHODS or len(t[3]) != _METHODS[t[1]]):
        raise CelError("found no matching overload for '%s'" % t[1])
    for part in t[1:]:
        if isinstance(part, tuple):
            _check_calls(part)
        elif isinstance(part, list):
            for p in part:
                _check_calls(p)


def uses_old_self(tree):
    if not isinstance(tree, tuple):
        return False
    if tree == ("var", "oldSelf"):
        return True
    return any(uses_old_self(p) if isinstance(p, tuple) else
               any(uses_old_self(q) for q in p) if isinstance(p, list) else False
               for p in tree[1:])


def evaluate(tree, self_value):
    """True/False for a rule; CelError on a runtime error or a non-boolean result."""
    out = _eval(tree, self_value)
    if not isinstance(out, bool):
        raise CelError("rule did not evaluate to a bool")
    return out


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _eval(t, s):
    op = t[0]
    if op == "lit":
        return t[1]
    if op == "var":
        if t[1] == "oldSelf":
            raise CelError("oldSelf is not available")
        return s
    if op == "list":
        return [_eval(x, s) for x in t[1]]
    if op == "select":
        obj = _eval(t[1], s)
        if not isinstance(obj, dict) or t[2] not in obj:
            raise CelError("no such key: %s" % t[2])
        return obj[t[2]]
    if op == "index":
        obj, key = _eval(t[1], s), _eval(t[2], s)
        try:
            return obj[key]
        except (KeyError, IndexError, TypeError):
            raise CelError("no such key or index: %r" % (key,))
    if op == "call":
        name, args = t[1], t[2]
        if name == "has":
            obj = _eval(args[0][1], s)
            return isinstance(obj, dict) and args[0][2] in obj
        v = _eval(args[0], s)
        if name == "size":
            if isinstance(v, (str, list, dict)):
                return len(v)
            raise CelError("size() of %s" % type(v).__name__)
        try:
            return {"int": int, "string": str, "double": float}[name](v)
        except (TypeError, ValueError):
            raise CelError("%s() conversion failed" % name)
    if op == "method":
        name, target = t[1], _eval(t[2], s)
        args = [_eval(a, s) for a in t[3]]
        if name == "size":
            if isinstance(target, (str, list, dict)):
                return len(target)
            raise CelError("size() of %s" % type(target).__name__)
        if not isinstance(target, str) or not all(isinstance(a, str) for a in args):
            raise CelError("%s() needs strings" % name)
        if name == "startsWith":
            return target.startswith(args[0])
        if name == "endsWith":
            return target.endswith(args[0])
        if name == "contains":
            return args[0] in target
        try:
            return re.search(args[0], target) is not None
        except re.error as e:
            raise CelError("matches(): %s" % e)
    if op == "not":
        v = _eval(t[1], s)
        if not isinstance(v, bool):
            raise CelError("! of a non-bool")
        return not v
    if op == "neg":
        v = _eval(t[1], s)
        if not _num(v):
            raise CelError("- of a non-number")
        return -v
    if op in ("and", "or"):
        # CEL: false && error == false, true || error == true, in either order.
        short = op == "or"
        results = []
        for side in (t[1], t[2]):
            try:
                v = _eval(side, s)
            except CelError as e:
                results.append(e)
                continue
            if not isinstance(v, bool):
                raise CelError("%s of a non-bool" % op)
            if v is short:
                return short
            results.append(v)
        for r in results:
            if isinstance(r, CelError):
                raise r
        return not short
    if op == "cond":
        c = _eval(t[1], s)
        if not isinstance(c, bool):
            raise CelError("?: condition is not a bool")
        return _eval(t[2] if c else t[3], s)
    if op == "bin":
        o, a, b = t[1], _eval(t[2], s), _eval(t[3], s)
        if o == "==":
            return a == b and type(a) is type(b) or (_num(a) and _num(b) and a == b)
        if o == "!=":
            return not (a == b and type(a) is type(b) or (_num(a) and _num(b) and a == b))
        if o == "in":
            if isinstance(b, (list, dict)):
                return a in b
            raise CelError("'in' needs a list or map")
        if o in ("<", "<=", ">", ">="):
            if not ((_num(a) and _num(b)) or (isinstance(a, str) and isinstance(b, str))):
                raise CelError("no matching overload for '%s'" % o)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[o]
        if o == "+":
            if (_num(a) and _num(b)) or (type(a) is type(b) and isinstance(a, (str, list))):
                return a + b
            raise CelError("no matching overload for '+'")
        if not (_num(a) and _num(b)):
            raise CelError("no matching overload for '%s'" % o)
        if o == "-":
            return a - b
        if o == "*":
            return a * b
        if b == 0:
            raise CelError("division by zero")
        if o == "/":
            return a // b if isinstance(a, int) and isinstance(b, int) else a / b
        return a % b
    raise CelError("cannot evaluate %s" % op)
