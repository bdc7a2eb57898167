# values.py: asyncflow values as Python objects, and their canonical
# protobuf form (proto/asyncflow.proto, message Value).
#
#   null    None              list      list or tuple (decoded: list)
#   bool    bool              record    dict with str keys (decoded: dict)
#   int     int (int64)       vow       VowRef(id)
#   double  float             resolver  ResolverRef(id)
#   string  str               object    ObjRef(name)
#   bytes   bytes, bytearray  error     ErrorValue(name, message)
#
# The daemon refuses what is not canonical, so to_wire writes the one
# canonical form: record fields sorted bytewise by their UTF-8 keys, every
# string valid UTF-8 (a str with a lone surrogate is refused here), the
# nesting at most VALUE_MAX_DEPTH. What the daemon checks beyond that (no
# NUL in keys and names, the encoded size) it answers with an error.
#
# Text fields are written and read through put_text/get_text, which look
# at the generated descriptor: a field declared `string` takes a str, one
# declared `bytes` (UTF-8, so that NUL survives) takes the encoded bytes.
# Either declaration of Value.string_value and Field.key works.
#
# Not here: the connection (client.py); the JSON form asyncflowctl prints
# (client/ctl/json.c).
from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor

from . import _constants
from . import asyncflow_pb2 as pb
from .errors import EINVAL, ELIMIT, EPROTO

__all__ = ['VowRef', 'ResolverRef', 'ObjRef', 'ErrorValue', 'to_wire',
           'from_wire', 'put_text', 'get_text']

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class VowRef:
    """A reference to vow `id` ({"@vow": id})."""
    id: int


@dataclass(frozen=True)
class ResolverRef:
    """The right to settle vow `id` ({"@resolver": id}); never the secret."""
    id: int


@dataclass(frozen=True)
class ObjRef:
    """A reference to a host object or served object by name."""
    name: str


@dataclass(frozen=True)
class ErrorValue:
    """An error value: what a rejected vow usually carries."""
    name: str = ''
    message: str = ''


# (message class, field name) -> whether the field is declared bytes.
_BYTES_FIELD = {}


def _is_bytes(msg, field):
    key = (type(msg), field)
    b = _BYTES_FIELD.get(key)
    if b is None:
        f = msg.DESCRIPTOR.fields_by_name[field]
        b = f.type == FieldDescriptor.TYPE_BYTES
        _BYTES_FIELD[key] = b
    return b


def _utf8(s, what):
    try:
        return s.encode('utf-8')
    except UnicodeEncodeError as e:
        raise EINVAL('%s is not valid UTF-8: %s' % (what, e)) from None


def put_text(msg, field, s, what=None):
    """Set text field `field` of msg to str s, as the generated code
    declares it (str for `string`, UTF-8 bytes for `bytes`)."""
    if not isinstance(s, str):
        raise EINVAL('%s must be a str, not %s'
                     % (what or field, type(s).__name__))
    b = _utf8(s, what or field)
    setattr(msg, field, b if _is_bytes(msg, field) else s)


def get_text(msg, field):
    """Text field `field` of msg as a str, whichever way it is declared."""
    v = getattr(msg, field)
    if isinstance(v, bytes):
        try:
            return v.decode('utf-8')
        except UnicodeDecodeError as e:
            raise EPROTO('the daemon sent %s.%s that is not UTF-8: %s'
                         % (type(msg).__name__, field, e)) from None
    return v


def to_wire(obj, out=None, depth=1):
    """The canonical pb.Value of obj (filled into `out` if given). Raises
    EINVAL for what is not a value (a set, an object, a dict with a key
    that is not a str, an int beyond int64, text that is not UTF-8) and
    ELIMIT for nesting deeper than the daemon allows (which also catches
    a list that contains itself)."""
    v = pb.Value() if out is None else out
    if depth > _constants.VALUE_MAX_DEPTH:
        raise ELIMIT('value nested deeper than %d levels'
                     % _constants.VALUE_MAX_DEPTH)
    if obj is None:
        v.null_value = True
    elif isinstance(obj, bool):
        v.bool_value = obj
    elif isinstance(obj, int):
        if not INT64_MIN <= obj <= INT64_MAX:
            raise EINVAL('integer %d does not fit int64' % obj)
        v.int_value = obj
    elif isinstance(obj, float):
        v.double_value = obj
    elif isinstance(obj, str):
        put_text(v, 'string_value', obj, 'a string')
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        v.bytes_value = bytes(obj)
    elif isinstance(obj, (list, tuple)):
        v.list_value.SetInParent()
        for item in obj:
            to_wire(item, v.list_value.items.add(), depth + 1)
    elif isinstance(obj, Mapping):
        v.record_value.SetInParent()
        keyed = []
        for k in obj:
            if not isinstance(k, str):
                raise EINVAL('record keys must be str, not %s (%r)'
                             % (type(k).__name__, k))
            keyed.append((_utf8(k, 'record key %r' % k), k))
        keyed.sort()
        for _, k in keyed:
            f = v.record_value.fields.add()
            put_text(f, 'key', k, 'a record key')
            to_wire(obj[k], f.value, depth + 1)
    elif isinstance(obj, VowRef):
        v.vow_id = obj.id
    elif isinstance(obj, ResolverRef):
        v.resolver_id = obj.id
    elif isinstance(obj, ObjRef):
        put_text(v, 'obj_name', obj.name, 'an object name')
    elif isinstance(obj, ErrorValue):
        v.error_value.SetInParent()
        put_text(v.error_value, 'name', obj.name, 'an error name')
        put_text(v.error_value, 'message', obj.message, 'an error message')
    else:
        raise EINVAL('a %s is not an asyncflow value' % type(obj).__name__)
    return v


def from_wire(v):
    """The Python object of a pb.Value."""
    kind = v.WhichOneof('kind')
    if kind == 'null_value':
        return None
    if kind in ('bool_value', 'int_value', 'double_value', 'bytes_value'):
        return getattr(v, kind)
    if kind == 'string_value':
        return get_text(v, kind)
    if kind == 'list_value':
        return [from_wire(i) for i in v.list_value.items]
    if kind == 'record_value':
        return {get_text(f, 'key'): from_wire(f.value)
                for f in v.record_value.fields}
    if kind == 'vow_id':
        return VowRef(v.vow_id)
    if kind == 'resolver_id':
        return ResolverRef(v.resolver_id)
    if kind == 'obj_name':
        return ObjRef(get_text(v, kind))
    if kind == 'error_value':
        return ErrorValue(get_text(v.error_value, 'name'),
                          get_text(v.error_value, 'message'))
    raise EPROTO('the daemon sent a value of no kind this client knows')
