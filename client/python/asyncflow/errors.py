# errors.py: the exceptions of the asyncflow package, one class per result
# code of the daemon, built from AF_ERRNO_MAP (include/asyncflow/errors.h,
# through the generated _constants.py), so that a new code is a new class
# without an edit here.
#
# Every failure is an AsyncflowError with .code (the negative AF_E* code),
# .name ("ENOTFOUND") and .message (the daemon's message, or the client's).
# Catch the class of one code (asyncflow.ENOTFOUND), or AsyncflowError for
# all. A few codes are also the matching built-in exception, so ordinary
# Python code catches them too: EINVAL is a ValueError, ETIMEDOUT a
# TimeoutError, ECONN a ConnectionError. REJECTED (code 1) is not a
# failure of the client but the answer "this vow was rejected": its
# .reason is the rejection's value.
#
# Not here: turning an error reply into an exception (client.py), the
# error *values* flows exchange (values.ErrorValue).
from . import _constants

__all__ = ['AsyncflowError', 'error_for', 'CODES']


class AsyncflowError(Exception):
    """A failure reported by the daemon or by the client library."""

    code = None
    name = 'EUNKNOWN'
    text = 'unknown error'

    def __init__(self, message=None, code=None, name=None):
        if code is not None:
            self.code = code
        if name is not None:
            self.name = name
        self.message = message if message else self.text
        super().__init__('%s: %s' % (self.name, self.message))


# Built-in exceptions a code is also an instance of.
_ALSO = {
    'EINVAL': (ValueError,),
    'ETIMEDOUT': (TimeoutError,),
    'ECONN': (ConnectionError,),
}

# code -> class, and name -> class, for every code of the map but OK.
CODES = {}
_BY_NAME = {}

for _name, _code, _text in _constants.ERRNO_MAP:
    if _code == 0:
        continue
    _cls = type(_name, (AsyncflowError,) + _ALSO.get(_name, ()), {
        '__doc__': _text[:1].upper() + _text[1:] + ' (AF_%s).' % _name,
        '__module__': __name__,
        'code': _code,
        'name': _name,
        'text': _text,
    })
    globals()[_name] = _cls
    __all__.append(_name)
    CODES[_code] = _cls
    _BY_NAME[_name] = _cls


def _rejected_init(self, reason, message=None):
    self.reason = reason
    AsyncflowError.__init__(self, message or 'rejected with %r' % (reason,))


# A rejected vow carries its reason (any value, usually an ErrorValue).
REJECTED.__init__ = _rejected_init  # noqa: F821 (defined by the loop)


def error_for(code, name, message):
    """The exception for an error reply {code, name, message}: the class of
    the code, else of the name, else AsyncflowError itself (a daemon newer
    than this build may send codes it does not know)."""
    cls = CODES.get(code) or _BY_NAME.get(name)
    if cls is None or cls is REJECTED:  # noqa: F821
        return AsyncflowError(message, code=code, name=name or 'EUNKNOWN')
    return cls(message)
