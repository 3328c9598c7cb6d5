"""The object store: one global resourceVersion, per-resource collections of pre-serialised
objects, bounded per-collection event history, and watchers.

Objects are kept as their JSON bytes (serialised once per version) plus the few things selectors
need (labels, selectable field values), so lists and watches never re-encode objects and 150 000
pods fit comfortably. Callers decode ``raw`` when they need a mutable copy.

All mutation happens under ``Store.lock``; event fan-out to watchers happens under the same lock, so
a watcher never misses or reorders an event relative to the resourceVersion it was started from.
"""

import bisect
import collections
import json
import queue
import threading

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Stored:
    """One version of one object."""
    __slots__ = ("key", "raw", "rv", "labels", "fields")

    def __init__(self, key, raw, rv, labels, fields):
        self.key = key
        self.raw = raw
        self.rv = rv
        self.labels = labels
        self.fields = fields

    def obj(self):
        """A fresh, mutable decoded copy."""
        return json.loads(self.raw)


def make_stored(rt, obj):
    meta = obj.get("metadata") or {}
    key = (meta.get("namespace") or "", meta.get("name") or "")
    labels = meta.get("labels") or {}
    return Stored(key, dumps(obj), int(meta.get("resourceVersion") or 0), dict(labels),
                  rt.field_values(obj))


class Event:
    __slots__ = ("rv", "type", "new", "old")

    def __init__(self, rv, etype, new, old):
        self.rv = rv
        self.type = etype
        self.new = new      # the object after the event (for DELETED: last state, deletion RV)
        self.old = old      # previous version (MODIFIED, DELETED) or None


class Collection:
    """All objects of one resource (all served versions share it)."""

    def __init__(self, key, history_size):
        self.key = key
        self.objects = {}
        self._keys = []             # sorted (namespace, name); None when it must be rebuilt
        self.history = collections.deque(maxlen=max(1, history_size))
        self.horizon = 0            # watches from a resourceVersion below this get 410
        self.plain_watchers = set()
        self.indexed = {}           # (field, value) -> set of watchers with field=value
        self.indexed_fields = collections.Counter()

    def sorted_keys(self):
        if self._keys is None:
            self._keys = sorted(self.objects)
        return self._keys

    def _key_added(self, key):
        if self._keys is not None:
            bisect.insort(self._keys, key)

    def _key_removed(self, key):
        if self._keys is not None:
            i = bisect.bisect_left(self._keys, key)
            if i < len(self._keys) and self._keys[i] == key:
                del self._keys[i]

    def watchers_for(self, ev):
        out = set(self.plain_watchers)
        for field in self.indexed_fields:
            for st in (ev.new, ev.old):
                if st is not None:
                    out.update(self.indexed.get((field, st.fields.get(field, "")), ()))
        return out


class Store:
    def __init__(self, history_size=1000):
        self.lock = threading.RLock()
        self.rv = 1
        self.history_size = history_size
        self.collections = {}
        self.watchers = set()

    def collection(self, key):
        c = self.collections.get(key)
        if c is None:
            c = self.collections[key] = Collection(key, self.history_size)
            c.horizon = 0
        return c

    def next_rv(self):
        self.rv += 1
        return self.rv

    def get(self, ckey, ns, name):
        with self.lock:
            c = self.collections.get(ckey)
            return c.objects.get((ns or "", name)) if c else None

    def commit(self, ckey, etype, stored, old=None):
        """Record a new version (ADDED/MODIFIED) or a deletion (DELETED, ``stored`` = last state with
        the deletion RV) and fan the event out. Caller holds the lock."""
        c = self.collection(ckey)
        if etype == DELETED:
            c.objects.pop(stored.key, None)
            c._key_removed(stored.key)
        else:
            if stored.key not in c.objects:
                c._key_added(stored.key)
            c.objects[stored.key] = stored
        ev = Event(stored.rv, etype, stored, old)
        if len(c.history) == c.history.maxlen:
            c.horizon = c.history[0].rv
        c.history.append(ev)
        for w in c.watchers_for(ev):
            w.offer(ev)

    def bulk_load(self, ckey, stored_items):
        """Insert many objects at once without events (benchmark seeding)."""
        with self.lock:
            c = self.collection(ckey)
            for st in stored_items:
                c.objects[st.key] = st
            c._keys = None
            c.horizon = self.rv
            c.history.clear()

    def compact(self):
        """Forget all history: the next watch from any older resourceVersion gets 410."""
        with self.lock:
            for c in self.collections.values():
                c.history.clear()
                c.horizon = self.rv

    def list(self, ckey, ns, label_sel, field_sel, limit=0, start_after=None):
        """Matching objects in key order: (items, last key or None when complete, remaining count
        (0 when unknown), resourceVersion of the store at that moment)."""
        with self.lock:
            c = self.collections.get(ckey)
            if c is None:
                return [], None, 0, self.rv
            keys = c.sorted_keys()
            if start_after is not None:
                i = bisect.bisect_right(keys, start_after)
            elif ns:
                i = bisect.bisect_left(keys, (ns, ""))
            else:
                i = 0
            objects = c.objects
            out = []
            filtered = not (label_sel.empty() and field_sel.empty())
            n = len(keys)
            while i < n:
                k = keys[i]
                if ns and k[0] != ns:
                    break
                st = objects[k]
                i += 1
                if filtered and not (label_sel.matches(st.labels) and field_sel.matches(st.fields)):
                    continue
                out.append(st)
                if limit and len(out) >= limit:
                    break
            more = False
            if limit and len(out) >= limit and i < n and (not ns or keys[i][0] == ns):
                more = True
            remaining = 0
            if more and not filtered:
                end = n if not ns else bisect.bisect_left(keys, (ns + "\0", ""))
                remaining = end - i
            return out, (out[-1].key if more and out else None), remaining, self.rv

    def snapshot(self, ckey, ns):
        """Everything in a collection (for initial watch events): list of Stored."""
        c = self.collections.get(ckey)
        if c is None:
            return []
        return [c.objects[k] for k in c.sorted_keys() if not ns or k[0] == ns]


    def start_watch(self, ckey, watcher, from_rv, initial):
        """Register ``watcher`` on a collection. With ``from_rv``: replay history after it (False
        when it is older than the kept history: the caller answers 410). Without: queue synthetic
        ADDED events for the current objects first when ``initial``."""
        with self.lock:
            c = self.collection(ckey)
            if from_rv is not None:
                if from_rv < c.horizon:
                    return False
                for ev in c.history:
                    if ev.rv > from_rv:
                        watcher.offer(ev)
            elif initial:
                for st in self.snapshot(ckey, watcher.ns):
                    if watcher.matches(st):
                        watcher.q.put((ADDED, st.raw))
            watcher.register(c)
            watcher.ckey = ckey
            self.watchers.add(watcher)
            return True

    def stop_watch(self, watcher):
        with self.lock:
            c = self.collections.get(watcher.ckey)
            if c is not None:
                watcher.unregister(c)
            self.watchers.discard(watcher)

    def signal_watchers(self, marker):
        """Send ``marker`` (CUT or END) to every open watch; returns how many there were."""
        with self.lock:
            for w in list(self.watchers):
                w.q.put(marker)
            return len(self.watchers)


# Queue markers for watchers.
CUT = "cut"          # drop the connection abruptly (test control / server stopping)
END = "end"          # end the stream cleanly


class Watcher:
    """One open watch: filters events (namespace, label and field selectors) and queues them."""

    def __init__(self, ns, label_sel, field_sel):
        self.ns = ns
        self.label_sel = label_sel
        self.field_sel = field_sel
        self.q = queue.SimpleQueue()
        self.index_key = None
        self.ckey = None

    def matches(self, st):
        if st is None:
            return False
        if self.ns and st.key[0] != self.ns:
            return False
        return self.label_sel.matches(st.labels) and self.field_sel.matches(st.fields)

    def offer(self, ev):
        """Queue what this watcher sees of ``ev`` (caller holds the store lock)."""
        if ev.type == ADDED:
            if self.matches(ev.new):
                self.q.put((ADDED, ev.new.raw))
            return
        if ev.type == DELETED:
            if self.matches(ev.new):
                self.q.put((DELETED, ev.new.raw))
            return
        now, before = self.matches(ev.new), self.matches(ev.old)
        if now and before:
            self.q.put((MODIFIED, ev.new.raw))
        elif now:
            self.q.put((ADDED, ev.new.raw))
        elif before:
            # Like the watch cache: the previous state, stamped with the event's resourceVersion.
            obj = ev.old.obj()
            obj.setdefault("metadata", {})["resourceVersion"] = str(ev.rv)
            self.q.put((DELETED, dumps(obj)))

    def register(self, c):
        for field, op, value in self.field_sel.reqs:
            if op == "=":
                self.index_key = (field, value)
                c.indexed.setdefault(self.index_key, set()).add(self)
                c.indexed_fields[field] += 1
                return
        c.plain_watchers.add(self)

    def unregister(self, c):
        if self.index_key is None:
            c.plain_watchers.discard(self)
            return
        s = c.indexed.get(self.index_key)
        if s is not None and self in s:
            s.discard(self)
            if not s:
                del c.indexed[self.index_key]
            c.indexed_fields[self.index_key[0]] -= 1
            if c.indexed_fields[self.index_key[0]] <= 0:
                del c.indexed_fields[self.index_key[0]]

