"""JSON for the driver's spec and record without the json package, whose import brings in
`re` (a few milliseconds of every stress run's start-up): the C scanner and string
encoder of `_json`, which the json package itself uses. Where `_json` is missing, the
json package.

loads() reads one JSON document; dumps() writes dicts (string keys), lists, tuples,
strings, ints, floats, booleans and None, indented by one space as json.dump(indent=1)."""

try:
    import _json
except ImportError:  # an interpreter built without it
    _json = None


class _Context(object):
    # What _json.make_scanner reads from a json.JSONDecoder.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    def __init__(self):
        self.memo = {}

    @staticmethod
    def parse_constant(name):
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def loads(text):
    if _json is None:
        import json
        return json.loads(text)
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        value, end = _json.make_scanner(_Context())(text, start)
    except StopIteration:
        raise ValueError("not a JSON document")
    if text[end:].strip(" \t\n\r"):
        raise ValueError("extra data after the JSON document at offset %d" % end)
    return value


def _float(value):
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _encode(value, depth, out):
    if isinstance(value, str):
        out.append(_json.encode_basestring_ascii(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = "\n" + " " * (depth + 1)
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError("keys must be str, not %s" % type(key).__name__)
            out.append(("," if i else "") + inner + _json.encode_basestring_ascii(key) + ": ")
            _encode(item, depth + 1, out)
        out.append("\n" + " " * depth + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = "\n" + " " * (depth + 1)
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + inner)
            _encode(item, depth + 1, out)
        out.append("\n" + " " * depth + "]")
    else:
        raise TypeError("%s is not JSON serializable" % type(value).__name__)


def dumps(value):
    if _json is None:
        import json
        return json.dumps(value, indent=1)
    out = []
    _encode(value, 0, out)
    return "".join(out)
