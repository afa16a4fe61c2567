"""JSON as the owner sent it: one strict parser, one writer, one depth limit.

The hub relays a body byte for byte and stores its text, so GET All serves exactly what was
pushed. Where the hub must compose a document (a PATCH merged into a stored object, an EVSE
written into its Location) it writes it anew: key order kept, every number as the literal it
was sent as, strings as UTF-8 with only the escapes JSON requires, no whitespace.
"""

from incar.exactjson.depth import MAX_DEPTH, TooDeep, check_depth, depth
from incar.exactjson.parse import DuplicateKey, NotJson, parse_body, parse_stored
from incar.exactjson.same import same_value
from incar.exactjson.values import ExactInt, ExactObject, Number
from incar.exactjson.write import dumps, dumps_plain, dumps_text, storable, verbatim

__all__ = [
    "MAX_DEPTH",
    "DuplicateKey",
    "ExactInt",
    "ExactObject",
    "NotJson",
    "Number",
    "TooDeep",
    "check_depth",
    "depth",
    "dumps",
    "dumps_plain",
    "dumps_text",
    "parse_body",
    "parse_stored",
    "same_value",
    "storable",
    "verbatim",
]
