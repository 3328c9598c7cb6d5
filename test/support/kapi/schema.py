"""Structural OpenAPI v3 schema handling for custom resources: defaulting, pruning of unknown
fields, and validation of type, enum, minimum/maximum (+exclusive), minLength/maxLength, pattern,
minItems/maxItems, required, nullable, nested properties, additionalProperties, array items and
CEL validation rules (``x-kubernetes-validations``, a subset: kapi/cel.py).
Messages follow the API server's wording and name the field (``spec.profile: Unsupported value``).
"""

import json
import re

from kapi import cel

_TYPE_NAMES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _fmt(v):
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _type_ok(value, typ, schema):
    if schema.get("x-kubernetes-int-or-string") and (isinstance(value, str) or
                                                     (isinstance(value, int) and not isinstance(value, bool))):
        return True
    if typ is None:
        return True
    if typ == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, float) and value.is_integer())
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    want = _TYPE_NAMES.get(typ)
    return want is None or isinstance(value, want)


def apply_defaults(value, schema):
    """Fill ``default`` values of absent properties (recursively), like the API server."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if name not in value and isinstance(sub, dict) and "default" in sub:
                value[name] = json.loads(json.dumps(sub["default"]))
            if name in value:
                apply_defaults(value[name], sub)
        addl = schema.get("additionalProperties")
        if isinstance(addl, dict):
            for name in value:
                if name not in props:
                    apply_defaults(value[name], addl)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


def prune(value, schema, path, dropped, root=False):
    """Remove fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields);
    the dotted paths of removed fields are appended to ``dropped``. Returns the pruned value."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource") and not root:
            keep = {"apiVersion", "kind", "metadata"}
        else:
            keep = set()
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        out = {}
        for k, v in value.items():
            sub_path = path + "." + k if path else k
            if root and k in ("apiVersion", "kind", "metadata"):
                out[k] = v
            elif props is not None and k in props:
                out[k] = prune(v, props[k], sub_path, dropped)
            elif isinstance(addl, dict):
                out[k] = prune(v, addl, sub_path, dropped)
            elif addl is True or preserve or k in keep:
                out[k] = v
            elif props is None and schema.get("type") != "object":
                out[k] = v
            else:
                dropped.append(sub_path)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(v, schema["items"], "%s[%d]" % (path, i), dropped) for i, v in enumerate(value)]
    return value


def validate(value, schema, path, errors, root=False):
    """Append (field, reason, message) tuples for every violation in ``value``."""
    if not isinstance(schema, dict):
        return
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            errors.append((path, "FieldValueTypeInvalid", 'Invalid value: "null": %s in body must '
                           "be of type %s: \"null\"" % (path, schema["type"])))
        return
    typ = schema.get("type")
    if not _type_ok(value, typ, schema):
        got = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else \
            "boolean" if isinstance(value, bool) else "string" if isinstance(value, str) else \
            "integer" if isinstance(value, int) else "number"
        errors.append((path, "FieldValueTypeInvalid", 'Invalid value: "%s": %s in body must be of '
                       'type %s: "%s"' % (got, path, typ, got)))
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append((path, "FieldValueNotSupported", "Unsupported value: %s: supported values: %s" %
                       (_fmt(value), ", ".join(_fmt(e) for e in schema["enum"]))))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema:
            lo = schema["minimum"]
            if value < lo or (schema.get("exclusiveMinimum") is True and value == lo):
                rel = "greater than" if schema.get("exclusiveMinimum") is True else \
                    "greater than or equal to"
                errors.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body should be "
                               "%s %s" % (_fmt(value), path, rel, _fmt(lo))))
        if "maximum" in schema:
            hi = schema["maximum"]
            if value > hi or (schema.get("exclusiveMaximum") is True and value == hi):
                rel = "less than" if schema.get("exclusiveMaximum") is True else "less than or equal to"
                errors.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body should be "
                               "%s %s" % (_fmt(value), path, rel, _fmt(hi))))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body should be at "
                           "least %d chars long" % (_fmt(value), path, schema["minLength"])))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append((path, "FieldValueTooLong", "Too long: may not be more than %d bytes" %
                           schema["maxLength"]))
        if "pattern" in schema:
            try:
                if not re.search(schema["pattern"], value):
                    errors.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body should "
                                   "match '%s'" % (_fmt(value), path, schema["pattern"])))
            except re.error:
                pass
    for rule in schema.get("x-kubernetes-validations") or []:
        _check_rule(value, rule, path, errors)
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append((path, "FieldValueInvalid", "Invalid value: %d: %s in body should have at "
                           "least %d items" % (len(value), path, schema["minItems"])))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append((path, "FieldValueTooMany", "Too many: %d: must have at most %d items" %
                           (len(value), schema["maxItems"])))
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                validate(v, items, "%s[%d]" % (path, i), errors)
    if isinstance(value, dict):
        for req in schema.get("required") or []:
            if req not in value:
                errors.append((path + "." + req if path else req, "FieldValueRequired", "Required value"))
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        for k, v in value.items():
            if root and k == "metadata":
                continue
            sub = props.get(k)
            if sub is None and isinstance(addl, dict):
                sub = addl
            if sub is not None:
                validate(v, sub, path + "." + k if path else k, errors)
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            errors.append((path, "FieldValueInvalid", "Invalid value: %d: %s in body should have at "
                           "least %d properties" % (len(value), path, schema["minProperties"])))


def check_structural(schema):
    """Light check of a CRD's openAPIV3Schema; returns a list of problems (empty when fine)."""
    problems = []
    if not isinstance(schema, dict):
        return ["spec.validation.openAPIV3Schema: Required value"]
    if schema.get("type") != "object":
        problems.append('spec.versions[].schema.openAPIV3Schema.type: Required value: must be "object" '
                        "at the root")
    return problems


_COMPILED = {}


def _compiled(text):
    tree = _COMPILED.get(text)
    if tree is None:
        tree = _COMPILED[text] = cel.compile_rule(text)
    return tree


def _kind_of(value):
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else \
        "boolean" if isinstance(value, bool) else "string" if isinstance(value, str) else \
        "integer" if isinstance(value, int) else "number"


def _check_rule(value, rule, path, errors):
    """One CEL rule on ``value`` (self); a false result or a runtime error is a violation."""
    text = rule.get("rule") if isinstance(rule, dict) else None
    try:
        tree = _compiled(text)
    except cel.CelError:
        return      # refused when the CRD was created; not reached
    if cel.uses_old_self(tree):
        return      # transition rules are not evaluated (module doc of kapi/cel.py)
    try:
        ok = cel.evaluate(tree, value)
        why = rule.get("message") or "failed rule: %s" % text
    except cel.CelError as e:
        ok, why = False, "rule evaluation error: %s" % e
    if not ok:
        errors.append((path or "<nil>", "FieldValueInvalid",
                       'Invalid value: "%s": %s' % (_kind_of(value), why)))


def rule_problems(schema, path):
    """CEL rules of a CRD schema that do not compile: [(path, message)]."""
    out = []
    if not isinstance(schema, dict):
        return out
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        where = "%s.x-kubernetes-validations[%d].rule" % (path, i)
        text = rule.get("rule") if isinstance(rule, dict) else None
        try:
            _compiled(text)
        except cel.CelError as e:
            out.append((where, "Invalid value: %s: compilation failed: %s" % (json.dumps(text), e)))
    for name, sub in (schema.get("properties") or {}).items():
        out += rule_problems(sub, "%s.properties[%s]" % (path, name))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out += rule_problems(schema[key], "%s.%s" % (path, key))
    return out
