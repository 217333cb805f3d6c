"""A measured shape's scale and precision as a PDF /Measure dictionary (PDF 32000-1,
12.9: a rectilinear measure) and back, with the engine's keys for the descriptions, as the
engine writes them: "/R (1 pt = 2 in)", the number formats of lengths (/X, /D) and areas
(/A), and /IT naming a measured line, polyline or polygon."""

from __future__ import annotations

import re
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name, String

FROM_DESCRIPTION = "/PSPDF:MeasurementScaleFromDescription"
TO_DESCRIPTION = "/PSPDF:MeasurementScaleToDescription"
POINTS_PER = {"pt": 1.0, "in": 72.0, "mm": 72 / 25.4, "cm": 72 / 2.54}
INTENTS = {"pspdfkit/shape/line": "/LineDimension",
           "pspdfkit/shape/polyline": "/PolyLineDimension",
           "pspdfkit/shape/polygon": "/PolygonDimension"}
FRACTIONS = {"1/2": 2, "1/4": 4, "1/8": 8, "1/16": 16}
DECIMALS = {"1": 1, "0.1": 10, "0.01": 100, "0.001": 1000, "0.0001": 10000}
DEFAULT_SCALE: dict[str, Any] = {"from": 1, "to": 1, "unitFrom": "in", "unitTo": "in"}
RATIO = re.compile(r"^\s*(\S+)\s+(\w+)\s*=\s*(\S+)\s+(\w+)\s*$")


def write_measure(annotation: Dictionary, content: dict[str, Any]) -> None:
    """Set /Measure (and /IT) for a measured record: one with a scale, or a precision alone
    (measured at the engine's default scale, 1 in = 1 in)."""
    scale: Any = content.get("measurementScale")
    if not isinstance(scale, dict):
        if "measurementPrecision" not in content:
            return
        scale = DEFAULT_SCALE
    precision = str(content.get("measurementPrecision", "0.01"))
    denominator, form = (FRACTIONS[precision], Name.F) if precision in FRACTIONS \
        else (DECIMALS.get(precision, 100), Name.D)
    unit = scale["unitTo"]
    factor = float(scale["to"]) / float(scale["from"]) / POINTS_PER[scale["unitFrom"]] \
        if scale["from"] else 0.0

    def number_format(conversion: float, name: str) -> Array:
        return Array([Dictionary(U=String(name), C=conversion, D=denominator, F=form)])

    measure = Dictionary(Type=Name.Measure, Subtype=Name.RL,
                         R=String(f"{_number(scale['from'])} {scale['unitFrom']} = "
                                  f"{_number(scale['to'])} {unit}"),
                         X=number_format(factor, unit), D=number_format(1, unit),
                         A=number_format(1, f"sq {unit}"))
    for key, name in ((FROM_DESCRIPTION, "fromDescription"), (TO_DESCRIPTION, "toDescription")):
        if isinstance(scale.get(name), str):
            measure[key] = String(scale[name])
    annotation.Measure = measure
    annotation.Cap = True
    if content["type"] in INTENTS:
        annotation.IT = Name(INTENTS[content["type"]])


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def read_measure(annotation: Any) -> dict[str, Any]:
    """measurementScale and measurementPrecision of a measured shape ({} for none)."""
    measure = annotation.get("/Measure")
    if not isinstance(measure, pikepdf.Dictionary):
        return {}
    ratio = RATIO.match(str(measure.get("/R", "")))
    if ratio is None:
        return {}
    low, unit_from, high, unit_to = ratio.groups()
    try:
        scale: dict[str, Any] = {"from": _parsed(low), "unitFrom": unit_from,
                                 "to": _parsed(high), "unitTo": unit_to}
    except ValueError:
        return {}
    for key, name in ((FROM_DESCRIPTION, "fromDescription"), (TO_DESCRIPTION, "toDescription")):
        if key in measure:
            scale[name] = str(measure[key])
    found: dict[str, Any] = {"measurementScale": scale}
    lengths = measure.get("/X")
    if isinstance(lengths, pikepdf.Array) and len(lengths):
        denominator = int(lengths[0].get("/D", 100))
        table = FRACTIONS if lengths[0].get("/F") == Name.F else DECIMALS
        for name, value in table.items():
            if value == denominator:
                found["measurementPrecision"] = name
    return found


def _parsed(text: str) -> float:
    value = float(text.replace(",", "."))
    return int(value) if value.is_integer() else value
