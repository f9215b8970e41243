"""Small JSON Schema building blocks the domain modules share."""

NULL = {"type": "null"}


def text(max_length=256, min_length=0, **extra):
    return dict({"type": "string", "minLength": min_length, "maxLength": max_length}, **extra)


def optional(schema):
    return {"anyOf": [schema, NULL]}


def integer(minimum, maximum):
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def number(minimum, maximum, exclusive_minimum=False):
    bound = {"exclusiveMinimum": minimum} if exclusive_minimum else {"minimum": minimum}
    # JSON Schema numbers are finite by construction here: JSON has no inf or nan, and the
    # callers' json.dumps(allow_nan=False) refuses them before this.
    return dict({"type": "number", "maximum": maximum}, **bound)


EMAIL = text(254, 3, format="email")
PHONE = text(32, 8, format="phone")
DATE = text(10, 10, format="date")
# A file name inside a folder the worker owns: no separators, no leading dot.
FILE_NAME = text(100, 1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
