"""Actions (of links) as PDF action dictionaries and back, as the engine writes and reads
them: each Instant JSON action type has its PDF action (/URI, /GoTo, /GoToR, /GoToE, /Hide,
/ResetForm, /SubmitForm, /Launch, /JavaScript, /Named) and subactions are its /Next.

Where the engine's own PDF loses a value (a remote document's named destination, an embedded
one's target and page, an address beyond ASCII), annolog writes it so that it reads back:
the destination's name as /D, the target as /T, a link's address as UTF-8 (which the engine
and pdf.js both decode; a form's submit address is PDF text, which is how the engine reads
that one).
"""

from __future__ import annotations

from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, String

# /SubmitForm /Flags bits (PDF 32000-1, table 237), by the engine's names.
SUBMIT_FLAG_BITS = {
    "includeExclude": 1, "includeNoValueFields": 2, "exportFormat": 4, "getMethod": 8,
    "xfdf": 32, "includeAppendSaves": 64, "includeAnnotations": 128, "submitPDF": 256,
    "canonicalFormat": 512, "excludeNonUserAnnotations": 1024, "excludeFKey": 2048,
    "embedForm": 8192}
TARGETS = {"child": "C", "parent": "P"}


class UnreadableAction(Exception):
    """A PDF action this module does not read, with the reason."""


def action_dictionary(pdf: Pdf, action: dict[str, Any]) -> Dictionary | None:
    """The PDF action of a stored action (None for a goTo to a page the PDF lacks)."""
    written = _WRITERS[action["type"]](pdf, action)
    if written is None:
        return None
    following = [d for d in (action_dictionary(pdf, a) for a in action.get("subactions", []))
                 if d is not None]
    if following:
        written.Next = Array(following)
    return written


def _uri(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    return Dictionary(S=Name.URI, URI=String(action["uri"].encode("utf-8")))


def _go_to(pdf: Pdf, action: dict[str, Any]) -> Dictionary | None:
    index = action.get("pageIndex", 0)
    if not 0 <= index < len(pdf.pages):
        return None
    return Dictionary(S=Name.GoTo, D=Array([pdf.pages[index].obj, Name.Fit]))


def _go_to_remote(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    named = action.get("namedDestination") or ""
    return Dictionary(S=Name.GoToR, F=String(action["relativePath"]),
                      D=String(named) if named else Array([action.get("pageIndex", 0),
                                                           Name.Fit]))


def _go_to_embedded(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    target = TARGETS[action["targetType"]]
    return Dictionary(S=Name.GoToE, F=String(action["relativePath"]),
                      NewWindow=bool(action["newWindow"]), R=Name("/" + target),
                      T=Dictionary(R=Name("/" + target), N=String(action["relativePath"])),
                      D=Array([action.get("pageIndex", 0), Name.Fit]))


def _references(pdf: Pdf, references: list[dict[str, Any]]) -> Array:
    """Fields by name (an object number that is not in the PDF is left out)."""
    found: list[Any] = []
    for reference in references:
        if isinstance(reference.get("fieldName"), str):
            found.append(String(reference["fieldName"]))
        elif isinstance(reference.get("pdfObjectId"), int):
            try:
                found.append(pdf.get_object(reference["pdfObjectId"], 0))
            except (ValueError, pikepdf.PdfError):
                continue
    return Array(found)


def _hide(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    return Dictionary(S=Name.Hide, H=bool(action["hide"]),
                      T=_references(pdf, action["annotationReferences"]))


def _reset_form(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    written = Dictionary(S=Name.ResetForm,
                         Flags=1 if action.get("flags") == "includeExclude" else 0)
    if action.get("fields"):
        written.Fields = _references(pdf, action["fields"])
    return written


def _submit_form(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    written = Dictionary(S=Name.SubmitForm,
                         F=Dictionary(FS=Name.URL, F=String(action["uri"])),  # PDF text
                         Flags=sum(SUBMIT_FLAG_BITS[f] for f in action.get("flags", [])))
    if action.get("fields") is not None:
        written.Fields = _references(pdf, action["fields"])
    return written


def _launch(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    return Dictionary(S=Name.Launch, F=String(action["filePath"]))


def _javascript(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String(action["script"]))


def _named(pdf: Pdf, action: dict[str, Any]) -> Dictionary:
    name = action["customAction"] if action["action"] == "custom" else action["action"]
    return Dictionary(S=Name.Named, N=Name("/" + name[:1].upper() + name[1:]))


_WRITERS = {
    "uri": _uri, "goTo": _go_to, "goToRemote": _go_to_remote, "goToEmbedded": _go_to_embedded,
    "hide": _hide, "resetForm": _reset_form, "submitForm": _submit_form, "launch": _launch,
    "javaScript": _javascript, "named": _named,
}


# ---- reading -------------------------------------------------------------------------------

def action_of(action: Any, pages: dict[tuple[int, int], int], depth: int = 0) -> dict[str, Any]:
    """The Instant JSON action of a PDF action dictionary (accepted_content normalises it)."""
    if not isinstance(action, pikepdf.Dictionary) or depth > 16:
        raise UnreadableAction("an action that is not a dictionary, or nested too deep")
    kind = str(action.get("/S"))
    reader = _READERS.get(kind)
    if reader is None:
        raise UnreadableAction(f"{kind} actions are not read yet")
    read = reader(action, pages)
    following: Any = action.get("/Next")
    if isinstance(following, pikepdf.Dictionary):
        following = [following]
    if isinstance(following, (list, pikepdf.Array)) and len(following):
        read["subactions"] = [action_of(a, pages, depth + 1) for a in following]
    return read


def utf8_or_text(value: Any) -> str:
    """A string written as UTF-8 bytes (annolog's addresses) or as PDF text."""
    raw = bytes(value)
    if raw.startswith((b"\xfe\xff", b"\xff\xfe", b"\xef\xbb\xbf")):
        return str(value)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return str(value)


def _read_uri(action: Any, pages: Any) -> dict[str, Any]:
    return {"type": "uri", "uri": utf8_or_text(action.get("/URI", b""))}


def _destination_page(destination: Any, pages: dict[tuple[int, int], int]) -> int | None:
    if isinstance(destination, pikepdf.Array) and len(destination):
        first = destination[0]
        if isinstance(first, pikepdf.Dictionary) and first.objgen in pages:
            return pages[first.objgen]
        if isinstance(first, int) and first >= 0:
            return int(first)
    return None


def _read_go_to(action: Any, pages: dict[tuple[int, int], int]) -> dict[str, Any]:
    destination = action.get("/D")
    page = _destination_page(destination, pages)
    if page is None or not isinstance(destination[0], pikepdf.Dictionary):
        raise UnreadableAction("goTo actions to a named destination are not read yet")
    return {"type": "goTo", "pageIndex": page}


def _file(action: Any) -> str:
    spec = action.get("/F")
    if isinstance(spec, pikepdf.Dictionary):
        spec = spec.get("/UF", spec.get("/F"))
    if spec is None:
        raise UnreadableAction("an action without its file (/F)")
    return str(spec)


def _read_go_to_remote(action: Any, pages: Any) -> dict[str, Any]:
    destination = action.get("/D")
    read: dict[str, Any] = {"type": "goToRemote", "relativePath": _file(action)}
    if isinstance(destination, pikepdf.String):
        read["namedDestination"] = str(destination)
    elif (page := _destination_page(destination, {})) is not None:
        read["pageIndex"] = page
    return read


def _read_go_to_embedded(action: Any, pages: Any) -> dict[str, Any]:
    target = action.get("/T", {})
    relation = str(target.get("/R", action.get("/R", "/P")))
    read: dict[str, Any] = {"type": "goToEmbedded", "relativePath": _file(action),
            "targetType": "child" if relation == "/C" else "parent",
            "newWindow": bool(action.get("/NewWindow", False))}
    if (page := _destination_page(action.get("/D"), {})) is not None:
        read["pageIndex"] = page
    return read


def _read_references(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, (pikepdf.String, pikepdf.Dictionary)):
        value = [value]
    found: list[dict[str, Any]] = []
    for item in value if isinstance(value, pikepdf.Array) else []:
        if isinstance(item, pikepdf.String):
            found.append({"fieldName": str(item)})
        elif isinstance(item, pikepdf.Dictionary) and item.is_indirect:
            found.append({"pdfObjectId": item.objgen[0]})
    return found


def _read_hide(action: Any, pages: Any) -> dict[str, Any]:
    return {"type": "hide", "hide": bool(action.get("/H", True)),
            "annotationReferences": _read_references(action.get("/T"))}


def _read_reset_form(action: Any, pages: Any) -> dict[str, Any]:
    read: dict[str, Any] = {"type": "resetForm"}
    if "/Fields" in action:
        read["fields"] = _read_references(action.Fields)
    if int(action.get("/Flags", 0)) & 1:
        read["flags"] = "includeExclude"
    return read


def _read_submit_form(action: Any, pages: Any) -> dict[str, Any]:
    spec = action.get("/F")
    uri = spec.get("/F", b"") if isinstance(spec, pikepdf.Dictionary) else spec or b""
    bits = int(action.get("/Flags", 0))
    read: dict[str, Any] = {"type": "submitForm", "uri": str(uri)}
    flags = [name for name, bit in SUBMIT_FLAG_BITS.items() if bits & bit]
    if flags:
        read["flags"] = flags
    if "/Fields" in action:
        read["fields"] = _read_references(action.Fields)
    return read


def _read_launch(action: Any, pages: Any) -> dict[str, Any]:
    return {"type": "launch", "filePath": _file(action)}


def _read_javascript(action: Any, pages: Any) -> dict[str, Any]:
    script = action.get("/JS", "")
    if isinstance(script, pikepdf.Stream):
        script = script.read_bytes().decode("utf-8", "replace")
    return {"type": "javaScript", "script": str(script)}


def _read_named(action: Any, pages: Any) -> dict[str, Any]:
    return {"type": "named", "action": str(action.get("/N", "/"))[1:]}


_READERS = {
    "/URI": _read_uri, "/GoTo": _read_go_to, "/GoToR": _read_go_to_remote,
    "/GoToE": _read_go_to_embedded, "/Hide": _read_hide, "/ResetForm": _read_reset_form,
    "/SubmitForm": _read_submit_form, "/Launch": _read_launch,
    "/JavaScript": _read_javascript, "/Named": _read_named,
}
