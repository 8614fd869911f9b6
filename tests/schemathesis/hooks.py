"""Hostile strings in schemathesis's generated data (loaded through SCHEMATHESIS_HOOKS by main.rs).

Schemathesis draws strings from the OpenAPI document's types, and with `--generation-allow-x00 true` they may
hold NUL. These hooks go further: any string in a body or a path parameter may be swapped for, or suffixed with,
one of the values below, the kinds of text an attacker sends first. Each is either valid input or must be
refused with a 4xx in the API's error format; none may cause a 5xx or an answer outside the document.
"""

import schemathesis
from hypothesis import strategies as st

HOSTILE = [
    "\u0000",
    "a\u0000b",
    "%00",
    "\u0001\u001f\u007f\u0085",
    "\r\nX-Injected: 1",
    "\t",
    "../../etc/passwd",
    "a/b",
    "..",
    "-1",
    "9223372036854775808",
    "\u202eevil\u202c",
    "\ufeff",
    "\u200b",
    "\U0010ffff",
    "\U0001f600" * 50,
    "x" * 5000,
    "' OR '1'='1' --",
    "'; DROP TABLE users; --",
    "\\",
    '"',
    "{{code}}",
    "${jndi:ldap://127.0.0.1/x}",
    "<script>alert(1)</script>",
    "+41 79 123 45 67\u0000",
    "+999999999999999999999",
]


# Bodies only: a path over hyper's fixed 64 KiB URI limit is answered 414 by hyper itself, with an empty body,
# before any of our code runs (see the README's compatibility notes); the 5,000 above is far over every ID limit.
BODY_ONLY = ["x" * 70000]


def _hostile(value, extra=()):
    """A strategy that yields `value` itself or a hostile variant of every string inside it."""
    pool = HOSTILE + list(extra)
    if isinstance(value, str):
        return st.one_of(
            st.just(value),
            st.sampled_from(pool),
            st.sampled_from(pool).map(lambda h: value + h),
        )
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: _hostile(v, extra) for k, v in value.items()})
    if isinstance(value, list):
        return st.tuples(*(_hostile(v, extra) for v in value)).map(list)
    return st.just(value)


@schemathesis.hook
def flatmap_body(context, body):
    return _hostile(body, BODY_ONLY)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    return _hostile(path_parameters)
