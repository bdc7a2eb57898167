# client.py: a connection to asyncflowd, the Python counterpart of
# libasyncflow (client/include/asyncflow.h): the same operations, the same
# protocol (frames of a 4-byte big-endian length and one protobuf message,
# a `hello` handshake first, request ids echoed in the responses, events
# pushed at any time), Python's types instead of protobuf-c's structs.
#
# Rules a caller can rely on:
#   - every failure is an exception of errors.py, never an exit or a print;
#   - a Client is not thread-safe: use one from one thread at a time (or
#     one Client per thread, as a server thread and a main thread do);
#   - timeouts are in seconds, None waits forever; a timeout is not a
#     connection error (the connection stays usable);
#   - connection errors are sticky: after ECONN or EPROTO every call raises
#     the same error until reconnect(), which connects again to the same
#     socket, serves the same objects and watches the same vows again;
#   - pushed events (settled vows you watch, invocations of objects you
#     serve) queue in the Client until next_event() or dispatch() takes them.
#
# Not here: values and their canonical form (values.py), the exception
# classes (errors.py), the protocol's numbers (generated _constants.py).
import logging
import os
import socket
import struct
import time
from collections import deque
from types import SimpleNamespace

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

from . import _constants
from . import asyncflow_pb2 as pb
from .errors import (AsyncflowError, ECONN, ECYCLE, EDECODE, EDENIED,
                     EINVAL, ELIMIT, ENOTFOUND, EPROTO, ESETTLED, ETIMEDOUT,
                     REJECTED, error_for)
from .values import (ErrorValue, VowRef, from_wire, get_text, put_text,
                     to_wire)

__all__ = ['Client', 'connect', 'Reject', 'Started', 'VowKit', 'VowInfo',
           'Invocation', 'Info', 'DEFAULT_SOCKET', 'RESOLVER_LEN']

log = logging.getLogger('asyncflow')

# As in client/include/asyncflow.h.
DEFAULT_SOCKET = './asyncflow-data/asyncflowd.sock'
RESOLVER_LEN = 16

# Each request's oneof field -> the result oneof its success carries (the
# Python side of AF_OPS in client/ops.h).
RESULTS = {
    'start': 'start', 'mkvow': 'mkvow', 'settle': 'vow', 'get_vow': 'vow',
    'watch_vow': 'vow', 'list': 'list', 'show': 'show',
    'journal': 'journal', 'failures': 'list', 'wake': 'wake',
    'stats': 'stats', 'serve': 'serve', 'terminate': 'terminate',
    'cancel': 'cancel', 'call': 'call',
}

# A value the daemon refused, and answers that need no more doing
# (answered already, e.g. a redelivery; or not ours to answer).
_REFUSED = (EINVAL, ELIMIT, EDECODE, ECYCLE)
_IGNORED = (ESETTLED, ENOTFOUND, EDENIED)

_STATES = {pb.VOW_STATUS_PENDING: 'pending',
           pb.VOW_STATUS_FULFILLED: 'fulfilled',
           pb.VOW_STATUS_REJECTED: 'rejected'}


class Reject(Exception):
    """Raised by a serve handler to reject the invocation with `reason`
    (any value) instead of the ErrorValue made from an ordinary exception."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Info(SimpleNamespace):
    """A reply as attributes (activation, journal entry, stats, ...): one
    per field of its protobuf message, values decoded, enums as names.
    A field named like a Python keyword gets a trailing underscore."""

    def as_dict(self):
        return dict(vars(self))


class Started(tuple):
    """start()'s answer: (activation, outcome vow id, existing)."""
    __slots__ = ()

    def __new__(cls, activation, outcome, existing):
        return tuple.__new__(cls, (activation, outcome, existing))

    activation = property(lambda s: s[0])
    outcome = property(lambda s: s[1])
    existing = property(lambda s: s[2])

    def __repr__(self):
        return 'Started(activation=%d, outcome=%d, existing=%r)' % self


class VowKit(tuple):
    """mkvow()'s answer: (vow id, resolver secret of RESOLVER_LEN bytes)."""
    __slots__ = ()

    def __new__(cls, vow, resolver):
        return tuple.__new__(cls, (vow, resolver))

    vow = property(lambda s: s[0])
    resolver = property(lambda s: s[1])

    def __repr__(self):
        # The secret stays out of logs and tracebacks.
        return 'VowKit(vow=%d, resolver=<secret>)' % self[0]


class VowInfo:
    """A vow's state: 'pending', 'fulfilled' or 'rejected', and once
    settled its value (the fulfilment or the reason)."""

    def __init__(self, vow, state, value=None):
        self.vow = vow
        self.state = state
        self.value = value

    @property
    def settled(self):
        return self.state != 'pending'

    def result(self):
        """The fulfilment; raises REJECTED (.reason) if rejected and EINVAL
        if still pending."""
        if self.state == 'fulfilled':
            return self.value
        if self.state == 'rejected':
            raise REJECTED(self.value)
        raise EINVAL('vow %d is still pending' % self.vow)

    def __eq__(self, other):
        return (isinstance(other, VowInfo) and
                (self.vow, self.state, self.value) ==
                (other.vow, other.state, other.value))

    def __repr__(self):
        return 'VowInfo(vow=%d, state=%r, value=%r)' % (
            self.vow, self.state, self.value)


class Invocation:
    """A flow's eventual send to an object this connection serves: answer
    it by settling vow `vow` with `resolver` (dispatch() does that with the
    handler's result). `grants` maps the vow id of each ResolverRef in args
    to its secret: a capability the flow hands over. Delivery is at least
    once: `vow` is the idempotency key."""

    def __init__(self, m):
        self.vow = m.vow
        self.resolver = bytes(m.resolver)
        self.object = get_text(m, 'object')
        self.method = get_text(m, 'method')
        self.args = from_wire(m.args) if m.HasField('args') else None
        self.activation = m.activation
        self.grants = {g.vow: bytes(g.resolver) for g in m.grants}

    def __repr__(self):
        return ('Invocation(vow=%d, object=%r, method=%r, args=%r, '
                'activation=%d)' % (self.vow, self.object, self.method,
                                    self.args, self.activation))


def _vow_id(v):
    if isinstance(v, VowRef):
        return v.id
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise EINVAL('a vow is an id (int) or a VowRef, not %r' % (v,))
    return v


def _vow_info(m):
    value = from_wire(m.value) if m.HasField('value') else None
    return VowInfo(m.vow, _STATES.get(m.state, 'pending'), value)


def _convert(m):
    """Any reply message as an Info (or an Invocation / VowInfo)."""
    if isinstance(m, pb.Invocation):
        return Invocation(m)
    if isinstance(m, pb.VowInfo):
        return _vow_info(m)
    if isinstance(m, pb.Value):
        return from_wire(m)
    out = Info()
    for f in m.DESCRIPTOR.fields:
        name = f.name + '_' if f.name in ('from', 'import', 'class') else \
            f.name
        v = getattr(m, f.name)
        if f.label == FieldDescriptor.LABEL_REPEATED:
            if f.type == FieldDescriptor.TYPE_MESSAGE:
                v = [_convert(x) for x in v]
            else:
                v = list(v)
        elif f.type == FieldDescriptor.TYPE_MESSAGE:
            v = _convert(v) if m.HasField(f.name) else None
        elif f.type == FieldDescriptor.TYPE_ENUM:
            ev = f.enum_type.values_by_number.get(v)
            v = ev.name if ev is not None else v
        elif f.type == FieldDescriptor.TYPE_STRING:
            v = get_text(m, f.name)
        setattr(out, name, v)
    return out


def connect(path=None, **kwargs):
    """A connected Client: see Client."""
    return Client(path, **kwargs)


class Client:
    """One connection to asyncflowd.

    path: the daemon's socket; None means $ASYNCFLOW_SOCKET, else
    DEFAULT_SOCKET. timeout: of every operation but get_vow/wait's own
    (None: forever). connect_timeout: for connecting and the handshake.
    trust_uid: the uid the daemon must run as (checked with SO_PEERCRED;
    root is trusted too), default our own, so that a socket swapped in by
    another user cannot harvest resolver secrets; -1 trusts anyone.
    name: free text for the daemon's log.

    Raises ECONN (no daemon there, refused, closed during the handshake,
    not the uid trusted), EPROTO (another protocol version), ETIMEDOUT,
    or the error the daemon answered the handshake with.
    """

    def __init__(self, path=None, timeout=None, connect_timeout=30.0,
                 trust_uid=None, name='asyncflow-python'):
        self.path = (path or os.environ.get('ASYNCFLOW_SOCKET') or
                     DEFAULT_SOCKET)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.trust_uid = os.getuid() if trust_uid is None else trust_uid
        self.name = name
        self.incarnation = 0
        self.daemon = ''
        self._sock = None
        self._broken = None     # the sticky error, an exception
        self._buf = bytearray()
        self._next_id = 1
        self._pending = set()   # ids sent, answer not taken yet
        self._answers = {}      # id -> Response
        self._events = deque()  # pb.Event
        self._handlers = {}     # served object name -> handler
        self._watched = set()   # vow ids whose settlement is not seen yet
        self._open(self._deadline(connect_timeout), retry=False)

    # ---- the connection ------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the connection; answers and events not taken are dropped.
        Calls after it raise ECONN (reconnect() opens it again)."""
        self._reset()
        self._events.clear()
        self._broken = ECONN('the connection is closed')

    def reconnect(self, timeout=None):
        """Connect again to the same socket (after the daemon restarted, or
        after close()), trying until `timeout` seconds have passed (None:
        forever) while there is no daemon, then serve the objects and watch
        the vows of before again. Answers to requests sent before are lost
        (a request sent but not answered may or may not have been carried
        out); queued events are kept."""
        deadline = self._deadline(timeout)
        while True:
            self._open(deadline, retry=True)
            try:
                for name in list(self._handlers):
                    self._call('serve', pb.Serve(), self.timeout,
                               lambda m: put_text(m, 'object', name))
                for vid in sorted(self._watched):
                    self._watch(vid)
                return
            except ECONN:
                # Lost again at once (the daemon went down again).
                left = self._left(deadline)
                if left is not None and left <= 0:
                    raise
                time.sleep(0.05 if left is None else min(0.05, left))

    def _reset(self):
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._broken = None
        self._buf = bytearray()
        self._next_id = 1
        self._pending.clear()
        self._answers.clear()

    @staticmethod
    def _deadline(timeout):
        return None if timeout is None else time.monotonic() + timeout

    @staticmethod
    def _left(deadline):
        if deadline is None:
            return None
        return max(0.0, deadline - time.monotonic())

    def _open(self, deadline, retry):
        pause = 0.05
        while True:
            try:
                self._open_once(deadline)
                return
            except ECONN:
                if not retry:
                    raise
                left = self._left(deadline)
                if left is not None and left <= 0:
                    raise
                self._reset()
                time.sleep(pause if left is None else min(pause, left))
                pause = min(pause * 2, 1.0)

    def _open_once(self, deadline):
        self._reset()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self._left(deadline))
            s.connect(self.path)
        except socket.timeout:
            s.close()
            raise ETIMEDOUT('cannot connect to %s within the timeout'
                            % self.path) from None
        except OSError as e:
            s.close()
            raise ECONN('cannot connect to %s: %s'
                        % (self.path, e.strerror or e)) from None
        if self.trust_uid != -1:
            ucred = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                 struct.calcsize('3i'))
            _, uid, _ = struct.unpack('3i', ucred)
            if uid not in (self.trust_uid, 0):
                s.close()
                raise ECONN('the daemon at %s runs as uid %d, not %d: not '
                            'trusted' % (self.path, uid, self.trust_uid))
        self._sock = s
        hello = pb.Hello(version=_constants.PROTOCOL_VERSION)
        put_text(hello, 'client', self.name)
        try:
            r = self._request('hello', hello, deadline)
        except ETIMEDOUT:
            self._reset()
            raise ETIMEDOUT('the daemon did not answer the handshake in '
                            'time') from None
        except AsyncflowError:
            self._reset()
            raise
        if r.WhichOneof('result') != 'hello':
            self._reset()
            raise EPROTO('the daemon did not answer hello')
        h = r.hello
        if h.version != _constants.PROTOCOL_VERSION:
            self._reset()
            raise EPROTO('the daemon speaks protocol version %d, this '
                         'client version %d'
                         % (h.version, _constants.PROTOCOL_VERSION))
        self.incarnation = h.incarnation
        self.daemon = get_text(h, 'daemon')

    def _fail(self, exc):
        """Make exc the sticky error and raise it."""
        if self._broken is None:
            self._broken = exc
            if self._sock is not None:
                self._sock.close()
                self._sock = None
        raise exc

    def _check(self):
        if self._broken is not None:
            b = self._broken
            raise type(b)(b.message)

    # ---- frames ---------------------------------------------------------

    def _send(self, req, deadline):
        data = req.SerializeToString()
        if len(data) > _constants.MAX_FRAME:
            raise ELIMIT('the request is %d bytes, more than a frame '
                         'takes (%d)' % (len(data), _constants.MAX_FRAME))
        try:
            self._sock.settimeout(self._left(deadline))
            self._sock.sendall(struct.pack('>I', len(data)) + data)
        except socket.timeout:
            # Part of a frame may be written: the stream is no longer
            # usable.
            self._fail(ECONN('timed out writing a request; the '
                             'connection is closed'))
        except OSError as e:
            self._fail(ECONN('connection lost: %s' % (e.strerror or e)))

    def _read(self, deadline):
        """Read what the socket has (waiting until deadline), then queue
        every whole frame. Raises ETIMEDOUT when nothing came."""
        try:
            self._sock.settimeout(self._left(deadline))
            chunk = self._sock.recv(1 << 16)
        except socket.timeout:
            raise ETIMEDOUT('no answer within the timeout') from None
        except BlockingIOError:
            raise ETIMEDOUT('no answer within the timeout') from None
        except OSError as e:
            self._fail(ECONN('connection lost: %s' % (e.strerror or e)))
        if not chunk:
            self._fail(ECONN('connection closed by the daemon'))
        self._buf += chunk
        hl = _constants.FRAME_HEADER
        while len(self._buf) >= hl:
            (n,) = struct.unpack('>I', self._buf[:hl])
            if n > _constants.MAX_FRAME:
                self._fail(EPROTO('the daemon sent a frame of %d bytes, '
                                  'more than %d' % (n, _constants.MAX_FRAME)))
            if len(self._buf) < hl + n:
                break
            data = bytes(self._buf[hl:hl + n])
            del self._buf[:hl + n]
            try:
                m = pb.ServerMessage.FromString(data)
            except (DecodeError, RuntimeError) as e:
                self._fail(EPROTO('a frame from the daemon does not '
                                  'decode (%s)' % e))
            self._take(m)

    def _take(self, m):
        kind = m.WhichOneof('kind')
        if kind == 'event':
            self._events.append(m.event)
            return
        if kind != 'response':
            return  # a message kind newer than this client
        r = m.response
        if r.id == 0:
            e = r.error
            self._fail(ECONN('connection closed by the daemon: %s: %s'
                             % (get_text(e, 'name'), get_text(e, 'message'))))
        if r.id in self._pending:
            self._answers[r.id] = r
        elif r.id >= self._next_id:
            self._fail(EPROTO('the daemon answered request %d, never sent'
                              % r.id))
        # else: a request given up on (timed out): dropped.

    def _request(self, op, msg, deadline):
        """Send op, wait for its Response until deadline, return it (an
        error reply raised as its exception)."""
        self._check()
        req = pb.Request(id=self._next_id)
        getattr(req, op).CopyFrom(msg)
        self._next_id += 1
        self._send(req, deadline)
        self._pending.add(req.id)
        try:
            while req.id not in self._answers:
                self._read(deadline)
        finally:
            self._pending.discard(req.id)
        r = self._answers.pop(req.id)
        if r.HasField('error'):
            e = r.error
            if e.code >= 0:
                raise EPROTO('the daemon answered with error code %d' %
                             e.code)
            raise error_for(e.code, get_text(e, 'name'),
                            get_text(e, 'message'))
        return r

    def _call(self, op, msg, timeout, fill=None):
        """One operation: fill(msg) (where text goes in), send, wait at
        most timeout seconds, and return the result message."""
        if fill is not None:
            fill(msg)
        r = self._request(op, msg, self._deadline(timeout))
        want = RESULTS.get(op)
        # A request this module does not know (request()) takes any.
        if want is not None and r.WhichOneof('result') != want:
            raise EPROTO('the daemon answered %s with a %s result'
                         % (op, r.WhichOneof('result')))
        which = r.WhichOneof('result')
        return getattr(r, which) if which else None

    def request(self, op, msg, timeout=None):
        """The low-level call every operation goes through: send `msg` (a
        message of asyncflow_pb2) as Request field `op` and return the
        Response's result message, unconverted. For requests newer than
        this module's functions, and for tests."""
        if op == 'hello':
            raise EINVAL('hello is the handshake, not a request')
        return self._call(op, msg, self._timeout(timeout))

    def _timeout(self, timeout):
        return self.timeout if timeout is None else timeout

    # ---- operations -------------------------------------------------------

    def start(self, flow, args=None, key=None):
        """Start an activation of `flow` with `args` (any value). With an
        idempotency key, the same key, flow and args answer the first
        activation (existing True); other flow or args with it raise
        EEXIST. Returns Started(activation, outcome vow id, existing).
        Raises ENOTFOUND (no such flow), EINVAL, ELIMIT, EDECODE."""
        m = pb.StartFlow()
        put_text(m, 'flow', flow, 'the flow name')
        if args is not None:
            to_wire(args, m.args)
        if key:
            put_text(m, 'idempotency_key', key, 'the idempotency key')
        r = self._call('start', m, self.timeout)
        return Started(r.activation, r.outcome, r.existing)

    def mkvow(self):
        """A new pending vow: VowKit(vow, resolver). The resolver settles
        it: keep it secret; the daemon hands it out only this once."""
        r = self._call('mkvow', pb.MakeVow(), self.timeout)
        if len(r.resolver) != RESOLVER_LEN:
            raise EPROTO('the daemon sent a resolver of %d bytes'
                         % len(r.resolver))
        return VowKit(r.vow, bytes(r.resolver))

    def settle(self, vow, resolver, value=None, reject=False):
        """Fulfil vow with value (reject: reject it with value as the
        reason). Settling with a VowRef makes it follow that vow. Repeating
        the same settlement succeeds. Returns the VowInfo after it.
        Raises ENOTFOUND, EDENIED (wrong resolver), ESETTLED (settled
        differently), ECYCLE, ELIMIT, EDECODE, EINVAL."""
        if not isinstance(resolver, (bytes, bytearray)) or \
                len(resolver) != RESOLVER_LEN:
            raise EINVAL('a resolver is %d bytes' % RESOLVER_LEN)
        m = pb.SettleVow(vow=_vow_id(vow), resolver=bytes(resolver),
                         reject=bool(reject))
        to_wire(value, m.value)
        return _vow_info(self._call('settle', m, self.timeout))

    def fulfil(self, vow, resolver, value=None):
        """settle(vow, resolver, value)."""
        return self.settle(vow, resolver, value)

    def reject(self, vow, resolver, reason):
        """settle(vow, resolver, reason, reject=True)."""
        return self.settle(vow, resolver, reason, reject=True)

    def get_vow(self, vow, wait=False, timeout=None):
        """The VowInfo of vow. With wait, the answer comes once it is
        settled, at most timeout seconds (None: forever) or ETIMEDOUT.
        Raises ENOTFOUND."""
        m = pb.GetVow(vow=_vow_id(vow), wait=bool(wait))
        return _vow_info(self._call('get_vow', m, timeout))

    def wait(self, vow, timeout=None):
        """The value vow is fulfilled with, once it settles (at most
        timeout seconds, else ETIMEDOUT); raises REJECTED with .reason when
        it is rejected."""
        return self.get_vow(vow, wait=True, timeout=timeout).result()

    def watch(self, vow):
        """Ask for an event when vow settles (at once if it has): take it
        with next_event(), a VowInfo. Returns the vow's state now. A
        reconnect() watches again the vows whose event has not come.
        Raises ENOTFOUND."""
        return self._watch(_vow_id(vow))

    def _watch(self, vid):
        r = self._call('watch_vow', pb.WatchVow(vow=vid), self.timeout)
        now = _vow_info(r)
        if now.settled:
            # The daemon answers a settled vow's watch with its state and
            # pushes nothing: the event is queued here, so that watch then
            # next_event works whenever the vow settles (also when it
            # settled while reconnect() was waiting for the daemon).
            self._watched.discard(vid)
            ev = pb.Event()
            ev.vow_settled.CopyFrom(r)
            self._events.append(ev)
        else:
            self._watched.add(vid)
        return now

    def ls(self, state=None, after=0, limit=0):
        """Activations with ids above `after`, in id order, at most `limit`
        (0: the daemon's default), only those in `state` if given
        ("Running", "Sleeping", "Replaying", "Failed", "Done"). A list of
        Info (id, flow, state, args, outcome, waiting_on, journal_length,
        failure, incarnation, invocations, ...). Raises EINVAL (unknown
        state), ELIMIT (page too large: ask for fewer)."""
        m = pb.ListActivations(after=after, limit=limit)
        if state:
            put_text(m, 'state', state, 'the state')
        return _convert(self._call('list', m, self.timeout)).activations

    def show(self, activation):
        """One activation, an Info like ls()'s. Raises ENOTFOUND."""
        m = pb.ShowActivation(activation=activation)
        return _convert(self._call('show', m, self.timeout))

    def journal(self, activation, start=0, limit=0):
        """Entries [start, start + limit) of an activation's journal (limit
        0: to the end): an Info with entries (Info: kind, call_index,
        target, method, args, value, vow, incarnation), from_ (the index
        of entries[0]) and length (the whole journal's). Raises ENOTFOUND,
        ELIMIT (too large for one answer: ask for pages)."""
        m = pb.DumpJournal(activation=activation, limit=limit)
        setattr(m, 'from', start)
        return _convert(self._call('journal', m, self.timeout))

    def failures(self):
        """The Failed activations (at most 10,000: page with
        ls("Failed", after) for more), a list of Info."""
        r = self._call('failures', pb.ListFailures(), self.timeout)
        return _convert(r).activations

    def wake(self, activation=0):
        """Replay activation now with the code loaded now (0: every Failed
        one but the quarantined). Raises ENOTFOUND, ESTATE (Done)."""
        self._call('wake', pb.Wake(activation=activation), self.timeout)

    def terminate(self, activation, message=''):
        """Give up on activation (not Done): its outcome is rejected with
        Error("Terminated", message or a default), none of its code runs
        again, and it is Done. Raises ENOTFOUND, ESTATE (Done already)."""
        self._call('terminate', pb.Terminate(activation=activation,
                                             message=message), self.timeout)

    def cancel(self, activation, reason=None):
        """Ask activation (not Done) to stop, as af_cancel does: durable
        once this returns; every coroutine of the flow waiting then gets
        the reason (None: an error named Cancelled naming the activation)
        and the flow decides what to do. A Sleeping or Failed activation
        gets it after its replay. Repeating it changes nothing (the first
        reason stands). Raises ENOTFOUND (no such activation, or a vow the
        reason names), ESTATE (Done), EINVAL / ELIMIT / EDECODE (a bad
        reason: one that holds a resolver, ...)."""
        m = pb.Cancel(activation=activation)
        if reason is not None:
            to_wire(reason, m.reason)
        self._call('cancel', m, self.timeout)

    def call(self, object, method, args=None):
        """Call `method` of the object a flow exported, `object` as
        "act/A/NAME" (af_export), with args (any value; None: null), as
        af_call_export does. Returns the call's result vow id: the call is
        durable once this returns, and the vow settles when the flow's
        handler answers (wait() for it); it is rejected with an error
        named NotFound if A has no export NAME when the call reaches it,
        Finished if A ended first, or the terminate error. Raises EINVAL
        (a malformed reference, a method that is empty, over 128 bytes or
        has a '/', args holding a resolver), ENOTFOUND (no activation A,
        or a vow the args name), ELIMIT / EDECODE (bad args)."""
        m = pb.CallExport()
        put_text(m, 'object', object, 'the object reference')
        put_text(m, 'method', method, 'the method')
        if args is not None:
            to_wire(args, m.args)
        return self._call('call', m, self.timeout).vow

    def stats(self):
        """The daemon's counters, an Info (incarnation, commits, ...)."""
        return _convert(self._call('stats', pb.Stats(), self.timeout))

    def modules(self):
        """The flow modules the daemon has loaded, when its protocol has a
        `modules` request; raises EINVAL naming what is missing when the
        protocol this client was built from has none."""
        if 'modules' not in pb.Request.DESCRIPTOR.fields_by_name:
            raise EINVAL('the protocol this client was built from has no '
                         'modules request')
        msg = type(pb.Request().modules)()
        return _convert(self._call('modules', msg, self.timeout))

    # ---- events and serving ------------------------------------------------

    def serve(self, object, handler=None):
        """Serve object `object` on this connection: the daemon pushes an
        Invocation for every unanswered send to it (those waiting first).
        With a handler, dispatch() and serve_forever() answer them:
        handler(invocation) returns the result (fulfils the result vow) or
        raises: Reject(reason) rejects with reason, any other Exception
        with ErrorValue(its class name, its text); ECONN and EPROTO leave
        the invocation unanswered (the daemon delivers it again). Returns
        how many invocations were waiting. Raises EINVAL (empty name, or
        longer than 255 bytes)."""
        r = self._call('serve', pb.Serve(), self.timeout,
                       lambda m: put_text(m, 'object', object,
                                          'the object name'))
        self._handlers[object] = handler
        return r.pending

    def next_event(self, timeout=None):
        """The oldest pushed event, waiting at most timeout seconds (None:
        forever, 0: only what has arrived): a VowInfo (a watched vow
        settled) or an Invocation (of an object served here); None when
        none came in time. Events of a kind this client does not know are
        skipped."""
        deadline = self._deadline(timeout)
        while True:
            while self._events:
                ev = self._events.popleft()
                kind = ev.WhichOneof('kind')
                if kind == 'vow_settled':
                    self._watched.discard(ev.vow_settled.vow)
                    return _vow_info(ev.vow_settled)
                if kind == 'invocation':
                    return Invocation(ev.invocation)
            self._check()
            try:
                self._read(deadline)
            except ETIMEDOUT:
                if not self._events:
                    return None

    def dispatch(self, timeout=None):
        """next_event(timeout), answering an Invocation with its object's
        handler (see serve) before returning it."""
        ev = self.next_event(timeout)
        if isinstance(ev, Invocation):
            handler = self._handlers.get(ev.object)
            if handler is not None:
                self.answer(ev, handler)
        return ev

    def serve_forever(self, reconnect=True, reconnect_timeout=None,
                      stop=None, poll=0.2):
        """dispatch() until stop (a callable or a threading.Event) says so,
        checked every `poll` seconds. When the connection is lost (the
        daemon restarted) and reconnect is true, reconnect() within
        reconnect_timeout and go on: invocations not answered are
        delivered again."""
        def stopped():
            if stop is None:
                return False
            return stop.is_set() if hasattr(stop, 'is_set') else stop()

        while not stopped():
            try:
                self.dispatch(None if stop is None else poll)
            except (ECONN, EPROTO) as e:
                if not reconnect:
                    raise
                log.warning('asyncflow: %s; reconnecting', e)
                self.reconnect(reconnect_timeout)

    def answer(self, inv, handler):
        """Run handler(inv) and settle inv's result vow with what it
        returned or raised (see serve). A result the daemon refuses (too
        large, not canonical) rejects the invocation with a BadResult
        error instead. A repeated answer of a redelivered invocation
        (ESETTLED) is not an error."""
        try:
            result, rejected = handler(inv), False
        except Reject as r:
            result, rejected = r.reason, True
        except (ECONN, EPROTO):
            raise
        except AsyncflowError as e:
            result, rejected = ErrorValue(e.name, e.message), True
        except Exception as e:
            result, rejected = ErrorValue(type(e).__name__, str(e)), True
        try:
            self._answer(inv, rejected, result)
        except _REFUSED as e:
            if rejected:
                log.warning('asyncflow: %s %s.%s: the rejection was '
                            'refused: %s', inv.vow, inv.object, inv.method,
                            e)
                return
            self._answer(inv, True, ErrorValue(
                'BadResult', 'the result of %s.%s is not a valid value: %s'
                % (inv.object, inv.method, e)))

    def _answer(self, inv, rejected, value):
        try:
            self.settle(inv.vow, inv.resolver, value, reject=rejected)
        except _IGNORED as e:
            log.warning('asyncflow: invocation %d (%s.%s): cannot answer: '
                        '%s; ignored', inv.vow, inv.object, inv.method, e)

