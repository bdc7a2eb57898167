#!/usr/bin/env python3
# test_client.py: the Python client (client/python, package asyncflow)
# against a real asyncflowd, run by tests/e2e/python.sh, which starts the
# daemon, builds nothing (make python did) and sets
#
#   PYTHONPATH       the build's python directory (the assembled package)
#   ASYNCFLOW_SOCKET the daemon's socket
#   AF_WORK          a scratch directory of this run
#   AF_ROOT          the source tree (for the headers and the proto)
#
# Without arguments: the unittest suite, every operation. With `restart`:
# one client process that lives through a SIGKILL and restart of the
# daemon which python.sh does in the middle (see restart_scenario).
#
# No test asserts a duration; waits are for a positive event with a
# generous deadline.
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import asyncflow
from asyncflow import (ErrorValue, ObjRef, Reject, ResolverRef, VowRef,
                       asyncflow_pb2 as pb, values)

SOCK = os.environ.get('ASYNCFLOW_SOCKET')
WORK = os.environ.get('AF_WORK', '.')
ROOT = os.environ.get('AF_ROOT', '.')
LONG = 30.0  # a deadline for a broken daemon, not a pace for a slow one


def connect(**kw):
    return asyncflow.connect(SOCK, **kw)


class Server:
    """A Client serving `name` with handler in a thread of its own, until
    stop(). Registered (ServeReply received) before the constructor
    returns, so a flow started afterwards finds it."""

    def __init__(self, name, handler):
        self.client = connect()
        self.pending = self.client.serve(name, handler)
        self.done = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.client.serve_forever(reconnect=False, stop=self.done)
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self.done.set()
        self.thread.join(LONG)
        self.client.close()
        if self.error is not None:
            raise self.error


class Bank:
    """The `bank` object of the transfer flow, in Python: balances, and
    the answer of each invocation by its vow id, so that a redelivered
    invocation is answered again without moving money twice."""

    def __init__(self, balances):
        self.balances = dict(balances)
        self.answers = {}
        self.calls = []

    def __call__(self, inv):
        self.calls.append((inv.vow, inv.method, inv.args))
        if inv.vow in self.answers:
            return self.answers[inv.vow]
        acct, amount = inv.args['account'], inv.args['amount']
        if acct == 'closed':
            raise ValueError('account %s is closed' % acct)
        if acct == 'weird':
            return {1, 2}  # not a value: BadResult
        if inv.method == 'withdraw':
            if self.balances.get(acct, 0) < amount:
                raise Reject(ErrorValue('Insufficient',
                                        '%s has too little' % acct))
            self.balances[acct] -= amount
        elif inv.method == 'deposit':
            self.balances[acct] = self.balances.get(acct, 0) + amount
        else:
            raise Reject(ErrorValue('NoSuchMethod', inv.method))
        self.answers[inv.vow] = None
        return None


class TestConnection(unittest.TestCase):

    def test_handshake_speaks_the_headers_protocol_version(self):
        with open(os.path.join(ROOT, 'include/asyncflow/protocol.h')) as f:
            want = int(re.search(r'#define AF_PROTOCOL_VERSION (\d+)',
                                 f.read()).group(1))
        self.assertEqual(asyncflow.PROTOCOL_VERSION, want)
        with connect() as c:
            self.assertTrue(c.daemon.startswith('asyncflowd'), c.daemon)
            self.assertGreaterEqual(c.incarnation, 1)

    def test_another_protocol_version_is_refused(self):
        saved = asyncflow._constants.PROTOCOL_VERSION
        asyncflow._constants.PROTOCOL_VERSION = saved + 100
        try:
            with self.assertRaises(asyncflow.AsyncflowError) as cm:
                connect()
        finally:
            asyncflow._constants.PROTOCOL_VERSION = saved
        self.assertIn('version', str(cm.exception))

    def test_no_daemon_is_ECONN_a_ConnectionError(self):
        path = os.path.join(WORK, 'nobody-here.sock')
        with self.assertRaises(asyncflow.ECONN) as cm:
            asyncflow.connect(path)
        self.assertIsInstance(cm.exception, ConnectionError)
        self.assertIn(path, str(cm.exception))

    def test_closed_client_raises_ECONN_until_reconnect(self):
        c = connect()
        c.close()
        with self.assertRaises(asyncflow.ECONN):
            c.stats()
        c.reconnect(timeout=LONG)
        self.assertEqual(c.stats().durability, 'full')
        c.close()

    def test_error_codes_are_classes_named_as_the_daemon_names_them(self):
        with open(os.path.join(ROOT, 'include/asyncflow/errors.h')) as f:
            names = re.findall(r'XX\((E[A-Z]+), (-\d+),', f.read())
        self.assertGreater(len(names), 10)
        for name, code in names:
            cls = getattr(asyncflow, name)
            self.assertTrue(issubclass(cls, asyncflow.AsyncflowError))
            self.assertEqual(cls.code, int(code))
            self.assertEqual(cls.name, name)
        self.assertTrue(issubclass(asyncflow.EINVAL, ValueError))
        self.assertTrue(issubclass(asyncflow.ETIMEDOUT, TimeoutError))


def roundtrip(c, value):
    s = c.start('echo', value)
    return c.wait(s.outcome, timeout=LONG)


class TestValues(unittest.TestCase):

    def setUp(self):
        self.c = connect()

    def tearDown(self):
        self.c.close()

    def test_every_kind_round_trips_through_a_flow(self):
        kit = self.c.mkvow()
        v = {
            'null': None, 't': True, 'f': False, 'zero': 0,
            'min': -(1 << 63), 'max': (1 << 63) - 1, 'pi': 3.25,
            'neg0': -0.0, 'inf': math.inf, 'text': 'h\u00e9llo \u2603',
            'empty': '', 'raw': b'\x00\xff', 'list': [1, [2, [3]], []],
            'rec': {'inner': {'deeper': {}}}, 'vow': VowRef(kit.vow),
            'obj': ObjRef('bank'), 'err': ErrorValue('Oops', 'it broke'),
            'noname': ErrorValue(), 'tuple': (1, 2),
        }
        back = roundtrip(self.c, v)
        want = dict(v, tuple=[1, 2])
        self.assertEqual(back, want)
        self.assertEqual(math.copysign(1, back['neg0']), -1)
        nan = roundtrip(self.c, [math.nan])[0]
        self.assertTrue(math.isnan(nan))

    def test_record_keys_are_sent_sorted_bytewise(self):
        keys = ['b', 'a', '\u00e9', 'Z', 'aa', '\U0001f600', 'a\u00e9', '']
        v = {k: i for i, k in enumerate(keys)}
        w = values.to_wire(v)
        sent = [values.get_text(f, 'key') for f in w.record_value.fields]
        self.assertEqual(sent, sorted(keys, key=lambda k: k.encode()))
        self.assertEqual(roundtrip(self.c, v), v)

    def test_the_daemon_refuses_what_is_not_canonical(self):
        for keys in (['b', 'a'], ['a', 'a']):
            m = pb.StartFlow()
            values.put_text(m, 'flow', 'echo')
            m.args.record_value.SetInParent()
            for k in keys:
                f = m.args.record_value.fields.add()
                values.put_text(f, 'key', k)
                f.value.null_value = True
            with self.assertRaises(asyncflow.EDECODE):
                self.c.request('start', m)
        # The connection is still good after the refusals.
        self.assertEqual(roundtrip(self.c, {'b': 1, 'a': 2}),
                         {'a': 2, 'b': 1})

    def test_what_is_not_a_value_is_refused_before_sending(self):
        bad = [{1, 2}, object(), {1: 'int key'}, 1 << 63, -(1 << 63) - 1,
               'lone \udc80 surrogate', {'k\udc80': 1}]
        for v in bad:
            with self.assertRaises(asyncflow.EINVAL, msg=repr(v)):
                self.c.start('echo', v)
        deep = None
        for _ in range(asyncflow._constants.VALUE_MAX_DEPTH):
            deep = [deep]
        with self.assertRaises(asyncflow.ELIMIT):
            self.c.start('echo', deep)
        loop = []
        loop.append(loop)
        with self.assertRaises(asyncflow.ELIMIT):
            self.c.start('echo', loop)
        # Nested as deep as the daemon allows, and back.
        ok = deep[0]
        self.assertEqual(values.to_wire(ok).ByteSize() > 0, True)

    def test_a_resolver_in_start_args_is_EINVAL(self):
        kit = self.c.mkvow()
        with self.assertRaises(asyncflow.EINVAL):
            self.c.start('echo', ResolverRef(kit.vow))

    def test_a_string_with_NUL_round_trips_when_the_protocol_carries_bytes(
            self):
        f = pb.Value.DESCRIPTOR.fields_by_name['string_value']
        if f.type != f.TYPE_BYTES:
            self.skipTest('Value.string_value is a protobuf string here')
        # In string values; names and record keys refuse NUL (README).
        v = {'s': 'nul\x00inside', 'l': ['\x00', 'end\x00']}
        self.assertEqual(roundtrip(self.c, v), v)

    def test_text_fields_work_declared_string_or_bytes(self):
        # The same schema with string_value and Field.key declared bytes,
        # as the protocol may declare them: the client's bytes on the wire
        # are the same, and decode to the same value.
        protoc = shutil.which('protoc')
        if protoc is None:
            self.skipTest('no protoc')
        with open(os.path.join(ROOT, 'proto/asyncflow.proto')) as f:
            src = f.read()
        src = src.replace('package asyncflow;', 'package asyncflow_alt;')
        src = re.sub(r'\bstring (string_value = 5|key = 1)', r'bytes \1',
                     src)
        src = re.sub(r'\bbytes (string_value = 5|key = 1)', r'bytes \1',
                     src)
        d = tempfile.mkdtemp(dir=WORK)
        with open(os.path.join(d, 'alt.proto'), 'w') as f:
            f.write(src)
        subprocess.run([protoc, '--proto_path=' + d, '--python_out=' + d,
                        'alt.proto'], check=True)
        sys.path.insert(0, d)
        try:
            import alt_pb2
        finally:
            sys.path.remove(d)
        fd = alt_pb2.Value.DESCRIPTOR.fields_by_name['string_value']
        self.assertEqual(fd.type, fd.TYPE_BYTES)
        v = {'z\u00e9': ['text \u2603', {'k': 'v'}], 'a': 'b'}
        alt = values.to_wire(v, alt_pb2.Value())
        here = values.to_wire(v)
        self.assertEqual(alt.SerializeToString(), here.SerializeToString())
        self.assertEqual(values.from_wire(alt), v)
        self.assertIsInstance(alt.record_value.fields[0].key, bytes)


class TestOperations(unittest.TestCase):

    def setUp(self):
        self.c = connect()

    def tearDown(self):
        self.c.close()

    def test_start_with_an_idempotency_key(self):
        key = 'py-key-%d' % os.getpid()
        a = self.c.start('echo', {'n': 1}, key=key)
        self.assertFalse(a.existing)
        b = self.c.start('echo', {'n': 1}, key=key)
        self.assertEqual((b.activation, b.outcome, b.existing),
                         (a.activation, a.outcome, True))
        with self.assertRaises(asyncflow.EEXIST):
            self.c.start('echo', {'n': 2}, key=key)
        with self.assertRaises(asyncflow.EINVAL):
            self.c.start('echo', None, key='k' * 300)
        with self.assertRaises(asyncflow.ENOTFOUND) as cm:
            self.c.start('no-such-flow')
        self.assertIn('no-such-flow', cm.exception.message)

    def test_mkvow_and_settle(self):
        kit = self.c.mkvow()
        self.assertEqual(len(kit.resolver), asyncflow.RESOLVER_LEN)
        self.assertNotIn(kit.resolver.hex(), repr(kit))
        info = self.c.get_vow(kit.vow)
        self.assertEqual((info.state, info.value, info.settled),
                         ('pending', None, False))
        with self.assertRaises(asyncflow.EDENIED):
            self.c.fulfil(kit.vow, bytes(16), 1)
        with self.assertRaises(asyncflow.EINVAL):
            self.c.fulfil(kit.vow, b'short', 1)
        self.assertEqual(self.c.fulfil(kit.vow, kit.resolver, [1]).state,
                         'fulfilled')
        self.c.fulfil(kit.vow, kit.resolver, [1])  # the same: fine
        with self.assertRaises(asyncflow.ESETTLED):
            self.c.fulfil(kit.vow, kit.resolver, [2])
        self.assertEqual(self.c.get_vow(VowRef(kit.vow)).value, [1])
        with self.assertRaises(asyncflow.ENOTFOUND):
            self.c.get_vow(10 ** 12)

    def test_a_rejected_vow_raises_REJECTED_with_its_reason(self):
        kit = self.c.mkvow()
        g = self.c.start('gather', [VowRef(kit.vow)])
        self.c.reject(kit.vow, kit.resolver, ErrorValue('No', 'refused'))
        with self.assertRaises(asyncflow.REJECTED) as cm:
            self.c.wait(g.outcome, timeout=LONG)
        self.assertEqual(cm.exception.reason, ErrorValue('No', 'refused'))
        info = self.c.get_vow(g.outcome)
        self.assertEqual(info.state, 'rejected')

    def test_wait_times_out_and_the_connection_goes_on(self):
        kit = self.c.mkvow()
        g = self.c.start('gather', [VowRef(kit.vow), 'plain'])
        # Nobody settles kit before the timeout: it must run out.
        with self.assertRaises(asyncflow.ETIMEDOUT) as cm:
            self.c.wait(g.outcome, timeout=0.2)
        self.assertIsInstance(cm.exception, TimeoutError)
        other = connect()
        other.fulfil(kit.vow, kit.resolver, 'x')
        other.close()
        self.assertEqual(self.c.wait(g.outcome, timeout=LONG), ['x', 'plain'])

    def test_watch_a_vow_until_it_settles(self):
        kit = self.c.mkvow()
        self.assertEqual(self.c.watch(kit.vow).state, 'pending')
        self.assertIsNone(self.c.next_event(timeout=0))
        other = connect()
        other.fulfil(kit.vow, kit.resolver, {'done': True})
        other.close()
        ev = self.c.next_event(timeout=LONG)
        self.assertEqual(ev, asyncflow.VowInfo(kit.vow, 'fulfilled',
                                               {'done': True}))
        # A vow watched after it settled: the event comes at once.
        self.assertEqual(self.c.watch(kit.vow).state, 'fulfilled')
        self.assertEqual(self.c.next_event(timeout=LONG).value,
                         {'done': True})
        with self.assertRaises(asyncflow.ENOTFOUND):
            self.c.watch(10 ** 12)

    def test_ls_show_journal(self):
        kit = self.c.mkvow()
        g = self.c.start('gather', [VowRef(kit.vow)])
        acts = {a.id: a for a in self.c.ls()}
        self.assertEqual(acts[g.activation].flow, 'gather')
        self.assertEqual(acts[g.activation].state, 'Running')
        page = self.c.ls(state='Running', after=g.activation - 1, limit=1)
        self.assertEqual([a.id for a in page], [g.activation])
        self.assertEqual(self.c.ls(after=g.activation), [
            a for a in self.c.ls() if a.id > g.activation])
        with self.assertRaises(asyncflow.EINVAL):
            self.c.ls(state='Bogus')
        s = self.c.show(g.activation)
        self.assertEqual((s.id, s.flow, s.args, s.outcome),
                         (g.activation, 'gather', [VowRef(kit.vow)],
                          g.outcome))
        self.assertIn(kit.vow, s.waiting_on)
        self.c.fulfil(kit.vow, kit.resolver, 5)
        self.assertEqual(self.c.wait(g.outcome, timeout=LONG), [5])
        self.assertEqual(self.c.show(g.activation).state, 'Done')
        with self.assertRaises(asyncflow.ENOTFOUND):
            self.c.show(10 ** 12)

    def test_journal_of_a_flow_that_sent_to_a_served_object(self):
        bank = Bank({'ann': 10})
        srv = Server('bank', bank)
        try:
            t = self.c.start('transfer', {'from': 'ann', 'to': 'ben',
                                          'amount': 4})
            self.assertEqual(self.c.wait(t.outcome, timeout=LONG),
                             {'ok': True})
        finally:
            srv.stop()
        # Done: the journal is deleted unless the daemon retains it.
        j = self.c.journal(t.activation)
        self.assertEqual(len(j.entries), j.length)
        with self.assertRaises(asyncflow.ENOTFOUND):
            self.c.journal(10 ** 12)
        # A running one's journal: its send, with target and method.
        t2 = self.c.start('transfer', {'from': 'ann', 'to': 'ben',
                                       'amount': 1})
        j = self.c.journal(t2.activation)
        self.assertEqual(j.length, self.c.show(t2.activation).journal_length)
        self.assertEqual(j.from_, 0)
        sends = [e for e in j.entries if e.kind == 'CHECK_SEND']
        self.assertEqual([(e.target, e.method) for e in sends],
                         [('bank', 'withdraw')])
        self.assertEqual(sends[0].args, {'account': 'ann', 'amount': 1})
        part = self.c.journal(t2.activation, start=1, limit=1)
        self.assertEqual((part.from_, len(part.entries), part.length),
                         (1, 1, j.length))
        # Its invocation, unanswered, is in show; serve it to finish.
        inv = self.c.show(t2.activation).invocations
        self.assertEqual([(i.object, i.method) for i in inv],
                         [('bank', 'withdraw')])
        self.assertEqual(inv[0].resolver, b'')
        srv = Server('bank', bank)
        try:
            self.assertEqual(self.c.wait(t2.outcome, timeout=LONG),
                             {'ok': True})
        finally:
            srv.stop()

    def test_failures_and_wake(self):
        fails = self.c.failures()
        self.assertIsInstance(fails, list)
        for a in fails:
            self.assertEqual(a.state, 'Failed')
        self.c.wake()  # every Failed one: none here, still fine
        s = self.c.start('echo', 1)
        self.c.wait(s.outcome, timeout=LONG)
        with self.assertRaises(asyncflow.ESTATE):
            self.c.wake(s.activation)
        with self.assertRaises(asyncflow.ENOTFOUND):
            self.c.wake(10 ** 12)
        kit = self.c.mkvow()
        g = self.c.start('gather', [VowRef(kit.vow)])
        self.c.wake(g.activation)  # Running: nothing to do
        self.assertEqual(self.c.show(g.activation).state, 'Running')
        self.c.fulfil(kit.vow, kit.resolver, 0)

    def test_stats(self):
        before = self.c.stats()
        self.assertEqual(before.durability, 'full')
        self.assertGreaterEqual(before.connections, 1)
        s = self.c.start('echo', None)
        self.c.wait(s.outcome, timeout=LONG)
        after = self.c.stats()
        self.assertGreater(after.commits, before.commits)
        self.assertEqual(after.incarnation, self.c.incarnation)
        self.assertIn('invocations_pending', after.as_dict())

    def test_modules(self):
        if 'modules' in pb.Request.DESCRIPTOR.fields_by_name:
            self.assertIsNotNone(self.c.modules())
        else:
            with self.assertRaises(asyncflow.EINVAL) as cm:
                self.c.modules()
            self.assertIn('modules', str(cm.exception))

    def test_call_an_export(self):
        s = self.c.start('shop')
        obj = 'act/%d/order' % s.activation
        v = self.c.call(obj, 'add_item', {'item': 'book'})
        self.assertIsInstance(v, int)
        self.assertEqual(self.c.wait(v, timeout=LONG), ['book'])
        self.assertEqual(self.c.wait(self.c.call(obj, 'items'),
                                     timeout=LONG), ['book'])
        # The handler's rejection: the vow is rejected, the call is not.
        v = self.c.call(obj, 'nope')
        with self.assertRaises(asyncflow.REJECTED) as cm:
            self.c.wait(v, timeout=LONG)
        self.assertEqual(cm.exception.reason.name, 'NotFound')
        # A name the activation does not export.
        v = self.c.call('act/%d/nothing' % s.activation, 'items')
        with self.assertRaises(asyncflow.REJECTED) as cm:
            self.c.wait(v, timeout=LONG)
        self.assertEqual(cm.exception.reason.name, 'NotFound')
        # Bad references and methods, no such activation: as af_call_export.
        for bad in ('act/x/order', 'order', 'act/%d/a/b' % s.activation):
            with self.assertRaises(asyncflow.EINVAL):
                self.c.call(bad, 'items')
        for bad in ('', 'a/b', 'm' * 200):
            with self.assertRaises(asyncflow.EINVAL):
                self.c.call(obj, bad)
        with self.assertRaises(asyncflow.EINVAL):
            self.c.call(7, 'items')
        with self.assertRaises(asyncflow.ENOTFOUND):
            self.c.call('act/999999999/order', 'items')
        with self.assertRaises(asyncflow.EINVAL):
            self.c.call(obj, 'add_item', ResolverRef(self.c.mkvow().vow))
        self.c.cancel(s.activation)
        with self.assertRaises(asyncflow.REJECTED):
            self.c.wait(s.outcome, timeout=LONG)
        # After the end: Finished, never hung.
        v = self.c.call(obj, 'items')
        with self.assertRaises(asyncflow.REJECTED) as cm:
            self.c.wait(v, timeout=LONG)
        self.assertEqual(cm.exception.reason.name, 'Finished')

    def test_cancel(self):
        s = self.c.start('shop')
        obj = 'act/%d/order' % s.activation
        self.c.wait(self.c.call(obj, 'add_item', {'item': 'lamp'}),
                    timeout=LONG)
        self.assertIsNone(self.c.cancel(
            s.activation, ErrorValue('Cancelled', 'changed my mind')))
        with self.assertRaises(asyncflow.REJECTED) as cm:
            self.c.wait(s.outcome, timeout=LONG)
        self.assertEqual(cm.exception.reason,
                         ErrorValue('Cancelled', 'changed my mind'))
        # Done: refused; unknown: ENOTFOUND; a bad reason: EINVAL.
        with self.assertRaises(asyncflow.ESTATE):
            self.c.cancel(s.activation)
        with self.assertRaises(asyncflow.ENOTFOUND):
            self.c.cancel(999999999)
        # Without a reason: an error named Cancelled.
        t = self.c.start('shop')
        self.c.cancel(t.activation)
        with self.assertRaises(asyncflow.REJECTED) as cm:
            self.c.wait(t.outcome, timeout=LONG)
        self.assertEqual(cm.exception.reason.name, 'Cancelled')
        u = self.c.start('shop')
        with self.assertRaises(asyncflow.EINVAL):
            self.c.cancel(u.activation, ResolverRef(self.c.mkvow().vow))
        with self.assertRaises(asyncflow.ENOTFOUND):
            self.c.cancel(u.activation, VowRef(999999999))
        self.c.cancel(u.activation)


class TestServe(unittest.TestCase):

    def setUp(self):
        self.c = connect()

    def tearDown(self):
        self.c.close()

    def test_a_flow_calls_a_python_function(self):
        bank = Bank({'alice': 100})
        srv = Server('bank', bank)
        try:
            t = self.c.start('transfer', {'from': 'alice', 'to': 'bob',
                                          'amount': 30})
            self.assertEqual(self.c.wait(t.outcome, timeout=LONG),
                             {'ok': True})
            self.assertEqual(bank.balances, {'alice': 70, 'bob': 30})
            self.assertEqual([m for _, m, _ in bank.calls],
                             ['withdraw', 'deposit'])
            # A Reject: that reason. Nothing moved.
            t = self.c.start('transfer', {'from': 'alice', 'to': 'bob',
                                          'amount': 1000})
            with self.assertRaises(asyncflow.REJECTED) as cm:
                self.c.wait(t.outcome, timeout=LONG)
            self.assertEqual(cm.exception.reason.name, 'Insufficient')
            # An exception: its class and text. The flow compensates.
            t = self.c.start('transfer', {'from': 'alice', 'to': 'closed',
                                          'amount': 5})
            with self.assertRaises(asyncflow.REJECTED) as cm:
                self.c.wait(t.outcome, timeout=LONG)
            self.assertEqual(cm.exception.reason, ErrorValue(
                'ValueError', 'account closed is closed'))
            self.assertEqual(bank.balances['alice'], 70)
            # A result that is not a value: BadResult.
            t = self.c.start('transfer', {'from': 'weird', 'to': 'bob',
                                          'amount': 1})
            with self.assertRaises(asyncflow.REJECTED) as cm:
                self.c.wait(t.outcome, timeout=LONG)
            self.assertEqual(cm.exception.reason.name, 'BadResult')
        finally:
            srv.stop()

    def test_resolver_grants_let_the_server_settle_the_flows_vow(self):
        seen = []

        def approver(inv):
            ref = inv.args['resolver']
            self.assertIsInstance(ref, ResolverRef)
            secret = inv.grants[ref.id]
            seen.append(inv)
            about = inv.args['about']
            if 'deny' in about:
                srv.client.reject(ref.id, secret,
                                  ErrorValue('Denied', 'not approved'))
            else:
                srv.client.fulfil(ref.id, secret,
                                  {'approved': True, 'about': about})
            return None

        srv = Server('approver', approver)
        try:
            a = self.c.start('approval', {'order': 7})
            self.assertEqual(self.c.wait(a.outcome, timeout=LONG),
                             {'approved': True, 'about': {'order': 7}})
            self.assertEqual(seen[0].method, 'request')
            self.assertEqual(seen[0].activation, a.activation)
            a = self.c.start('approval', {'deny': 1})
            with self.assertRaises(asyncflow.REJECTED) as cm:
                self.c.wait(a.outcome, timeout=LONG)
            self.assertEqual(cm.exception.reason.name, 'Denied')
        finally:
            srv.stop()

    def test_an_unanswered_invocation_is_delivered_again(self):
        # Server A takes the withdraw and goes away without answering;
        # the waiting count and the redelivery both show it to B.
        t = self.c.start('transfer', {'from': 'x', 'to': 'y', 'amount': 2})
        a = connect()
        self.assertIsInstance(a.serve('bank'), int)
        first = a.next_event(timeout=LONG)
        self.assertIsInstance(first, asyncflow.Invocation)
        self.assertEqual((first.object, first.method, first.activation),
                         ('bank', 'withdraw', t.activation))
        self.assertEqual(len(first.resolver), asyncflow.RESOLVER_LEN)
        a.close()
        bank = Bank({'x': 5})
        srv = Server('bank', bank)
        try:
            self.assertEqual(self.c.wait(t.outcome, timeout=LONG),
                             {'ok': True})
        finally:
            srv.stop()
        self.assertEqual(bank.calls[0][:2], (first.vow, 'withdraw'))
        # Answering it again (a late duplicate) is not an error.
        b = connect()
        b.answer(first, lambda inv: None)
        b.close()

    def test_serve_refuses_a_bad_name(self):
        with self.assertRaises(asyncflow.EINVAL):
            self.c.serve('')
        with self.assertRaises(asyncflow.EINVAL):
            self.c.serve('n' * 300)


def restart_scenario():
    """A client and a server that live through a SIGKILL of the daemon.
    python.sh waits for WORK/ready (the bank handler holds an invocation,
    and a vow is watched), kills the daemon, touches WORK/killed, starts
    it again (without the example module the first one loaded) and waits
    for this process to exit 0."""
    ready = os.path.join(WORK, 'ready')
    killed = os.path.join(WORK, 'killed')
    c = connect()
    inc = c.incarnation
    seen = []

    def bank(inv):
        seen.append(inv.vow)
        if len(seen) == 1:
            # Hold the first invocation until the daemon is gone: its
            # answer cannot arrive, so it must come again.
            open(ready, 'w').close()
            deadline = time.monotonic() + 60
            while not os.path.exists(killed):
                if time.monotonic() > deadline:
                    raise SystemExit('restart: no restart came')
                time.sleep(0.05)
        return None

    srv = connect()
    srv.serve('bank', bank)
    stop = threading.Event()
    failed = []

    def run():
        try:
            srv.serve_forever(reconnect=True, reconnect_timeout=60,
                              stop=stop)
        except BaseException as e:
            failed.append(e)

    th = threading.Thread(target=run, daemon=True)
    kit = c.mkvow()
    g = c.start('gather', [VowRef(kit.vow)])
    c.watch(kit.vow)
    # A flow of the module the first daemon loaded (example-v1.so) and
    # the second does not: Failed after the restart.
    approval = c.mkvow()
    order = c.start('order', {'approval': VowRef(approval.vow)})
    j = c.journal(order.activation)
    assert [(e.kind, e.target, e.method) for e in j.entries[:1]] == [
        ('CHECK_CALL', 'ledger', 'record')], j
    assert j.entries[1].kind == 'DO_RETURN', j
    t = c.start('transfer', {'from': 'a', 'to': 'b', 'amount': 1})
    th.start()
    try:
        c.wait(t.outcome, timeout=60)
        raise SystemExit('restart: the transfer finished before the kill')
    except asyncflow.ECONN as e:
        print('restart: lost the daemon as expected: %s' % e)
    c.reconnect(timeout=60)
    assert c.incarnation > inc, (c.incarnation, inc)
    # The vow made before the crash is there; settling it finishes the
    # gather, and the watch of before (renewed) reports it.
    c.fulfil(kit.vow, kit.resolver, 'after')
    assert c.wait(g.outcome, timeout=60) == ['after']
    ev = c.next_event(timeout=60)
    assert ev == asyncflow.VowInfo(kit.vow, 'fulfilled', 'after'), ev
    # The flow whose code is gone is Failed, listed, and stays so when
    # woken with the code loaded now.
    fails = {a.id: a for a in c.failures()}
    assert 'order not registered' in fails[order.activation].failure, fails
    assert order.activation in [a.id for a in c.ls(state='Failed')]
    c.wake(order.activation)
    assert c.show(order.activation).state == 'Failed'
    assert c.get_vow(order.outcome).state == 'pending'
    # The server reconnected by itself and got the withdraw again.
    assert c.wait(t.outcome, timeout=60) == {'ok': True}
    stop.set()
    th.join(60)
    assert not failed, failed
    assert seen[0] == seen[1], seen
    assert len(set(seen)) == 2, seen  # withdraw (twice), then deposit
    print('restart: incarnation %d -> %d, invocation %d delivered twice'
          % (inc, c.incarnation, seen[0]))
    c.close()
    srv.close()


if __name__ == '__main__':
    if SOCK is None:
        sys.exit('test_client.py: run by tests/e2e/python.sh '
                 '(ASYNCFLOW_SOCKET is not set)')
    if sys.argv[1:] == ['restart']:
        restart_scenario()
    else:
        unittest.main(verbosity=2)
