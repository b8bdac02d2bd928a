"""Schemathesis hooks for .ci/schemathesis (loaded through `hooks` in .ci/schemathesis.toml).

`POST /ssf/receive` takes a Security Event Token as `application/secevent+jwt` (RFC 8417, RFC 8935): text on the
wire, a type schemathesis has no serializer for. Generated strings are sent as UTF-8; anything else the negative
phase generates (numbers, objects) as its JSON text, which the receiver must refuse like any malformed SET.
"""
import json

import schemathesis


@schemathesis.serializer("application/secevent+jwt")
def security_event_token(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode("utf-8")
