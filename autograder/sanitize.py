"""``sanitize``: make executed student notebooks inert before anyone opens them in a browser.

A graded notebook is rendered by nbgrader's formgrader (inside the TA's Jupyter
session) and by the feedback pages. Anything a student's code displayed, and
anything in a markdown cell, would otherwise reach those pages as live HTML.
:func:`sanitize_notebook` rewrites a notebook so that every renderer shows it
without running student script, loading remote resources or changing the page
around it:

* ``text/html`` outputs: cleaned by ``nh3`` (the Rust ``ammonia`` sanitizer)
  with :data:`ALLOWED_TAGS` / :data:`ALLOWED_ATTRIBUTES`: tables, plain
  formatting, lists, headings, links (``http``, ``https``, ``mailto`` and
  relative) and images whose source is a ``data:image/...`` URL survive;
  ``script``, ``style``, ``iframe``, ``object``, ``embed``, ``form``, ``meta``,
  ``base``, inline ``svg``/``math``, ``style`` and ``on*`` attributes, and every
  other URL scheme do not. See :func:`sanitize_html`.
* ``image/svg+xml`` outputs: kept byte for byte (after dropping their XML
  prolog and ``<style>`` elements) when they pass a strict allowlist check
  (matplotlib figures do), else removed. See :func:`sanitize_svg`.
* ``text/markdown`` outputs and markdown cells: see :func:`sanitize_markdown`.
* ``image/png``, ``image/jpeg``, ``image/gif``, ``image/webp``: kept when they
  are base64 text; ``text/plain``, ``text/latex`` (text for MathJax; no
  renderer inserts it as HTML) and ``application/json`` are kept as they are.
  Every other MIME type (``application/javascript``, widget views, Bokeh,
  Plotly, Vega, PDF, ...) is dropped; an output left with nothing to show gets
  a ``text/plain`` line saying what was removed.
* Output metadata keeps only ``width``/``height`` (numbers), ``unconfined`` and
  ``alt`` per kept MIME type (``isolated``, ``filenames`` and the rest go).
* Raw cells that HTML renderers insert (no ``raw_mimetype``, or ``text/html``)
  are cleaned like ``text/html``; cell attachments keep raster images only;
  notebook-level widget state is dropped; an nbgrader ``grade_id`` holding
  markup characters (templates insert it unescaped) has them replaced by ``_``.

Stream and error outputs and code-cell sources are left alone: every renderer
escapes them.
"""

from __future__ import annotations

import copy
import html
import re
import xml.parsers.expat

import nh3
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

# --------------------------------------------------------------------------- HTML

#: Tags kept by :func:`sanitize_html` (nh3's defaults without image maps, plus ``tfoot``).
ALLOWED_TAGS = frozenset((set(nh3.ALLOWED_TAGS) - {"area", "map"}) | {"tfoot"})

#: Tags removed together with their content (the rest of the unknown tags are unwrapped: text kept).
REMOVED_WITH_CONTENT = frozenset({
    "script", "style", "template", "svg", "math", "iframe", "frame", "frameset", "object", "embed",
    "applet", "noscript", "noembed", "noframes", "xmp", "title", "textarea", "select", "head",
})

#: Attributes kept per tag (``"*"``: on every tag). No ``style``, no ``on*``, no ``id`` (except headings).
ALLOWED_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
ALLOWED_ATTRIBUTES.setdefault("*", set()).update({"class", "title", "lang", "dir"})
ALLOWED_ATTRIBUTES["a"].update({"href", "title"})
ALLOWED_ATTRIBUTES["img"].update({"src", "alt", "width", "height", "title"})
ALLOWED_ATTRIBUTES["table"].update({"border", "cellpadding", "cellspacing", "width"})
for _cell in ("th", "td"):
    ALLOWED_ATTRIBUTES[_cell].update({"valign", "width", "nowrap"})
for _level in range(1, 7):  # markdown headings carry ids for their anchor links
    ALLOWED_ATTRIBUTES.setdefault(f"h{_level}", set()).add("id")

#: Link schemes kept in ``href`` (and ``cite``); relative links are kept too.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})

#: ``data:`` images an ``<img src>`` may hold (the only image sources kept: nothing is fetched).
_DATA_IMAGE = re.compile(r"\Adata:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*\Z", re.I)
_SCHEME = re.compile(r"\A([a-zA-Z][a-zA-Z0-9+.\-]*):")
_URL_JUNK = re.compile(r"[\x00-\x20\x7f]+")   # browsers drop these from URLs before reading the scheme
_URL_ATTRIBUTES = {"href", "src", "cite", "action", "formaction", "background", "poster", "longdesc"}


def url_allowed(tag, attr, value):
    """Whether ``value`` may stay as ``attr`` of ``tag``.

    ``<img src>``: only a base64 ``data:image/(png|jpeg|gif|webp|svg+xml)`` URL (an image
    shown never fetches anything). Other URL attributes: ``http``, ``https``, ``mailto`` or a
    relative URL, never a protocol-relative ``//host`` one.
    """
    url = _URL_JUNK.sub("", str(value))
    if tag == "img" and attr == "src":
        return bool(_DATA_IMAGE.match(str(value).strip()))
    if re.match(r"\A[\\/]{2}", url):
        return False
    scheme = _SCHEME.match(url)
    return scheme is None or scheme.group(1).lower() in LINK_SCHEMES


def _attribute_filter(tag, attr, value):
    if attr in _URL_ATTRIBUTES and not url_allowed(tag, attr, value):
        return None
    return value


def sanitize_html(text):
    """``text`` (an HTML fragment) with everything active removed; see the module docstring.

    Idempotent: ``sanitize_html(sanitize_html(x)) == sanitize_html(x)``.
    """
    return nh3.clean(
        str(text),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(REMOVED_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_attribute_filter,
        url_schemes=set(LINK_SCHEMES) | {"data"},   # data: only survives _attribute_filter in <img src>
        strip_comments=True,
        link_rel="noopener noreferrer",
    )


# --------------------------------------------------------------------------- markdown

#: The wrapper of a markdown cell rewritten by :func:`sanitize_markdown`.
REWRITTEN_MARKDOWN_OPEN = '<div class="nnkit-sanitized">'


def _renderer_class():
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    class AttachmentTolerantRenderer(IPythonRenderer):
        """nbconvert's renderer, but a missing attachment gives an empty image instead of an error."""

        def _embed_image_or_attachment(self, src):
            if src.startswith("attachment:") and src[len("attachment:"):] not in self.attachments:
                return ""
            return super()._embed_image_or_attachment(src)

    class MarkdownAudit(IPythonRenderer):
        """Renders nothing; sets ``unsafe`` on raw HTML or on a link or image URL we would drop."""

        unsafe = False

        def block_html(self, text):
            self.unsafe = True
            return ""

        def inline_html(self, text):
            self.unsafe = True
            return ""

        def link(self, text, url, title=None):
            if not url_allowed("a", "href", url):
                self.unsafe = True
            return ""

        def image(self, text, url, title=None):
            if not (url.startswith("attachment:") or url_allowed("img", "src", url)):
                self.unsafe = True
            return ""

    return AttachmentTolerantRenderer, MarkdownAudit


def markdown_to_html(source, attachments=None, anchor_links=True):
    """``source`` rendered to HTML the way nbconvert renders markdown cells, then :func:`sanitize_html`.

    ``attachments`` (a cell's) turn ``attachment:NAME`` images into data URLs; a missing one
    leaves an empty image instead of raising.
    """
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    renderer_cls, _ = _renderer_class()
    renderer = renderer_cls(escape=False, attachments=dict(attachments or {}),
                            exclude_anchor_links=not anchor_links)
    return sanitize_html(MarkdownWithMath(renderer=renderer).render(str(source)))


def markdown_has_active_content(source):
    """Whether markdown ``source`` holds raw HTML (outside code) or a link/image URL we would drop.

    Read twice: as nbconvert reads it (``$math$`` is math, not markdown) and as a renderer
    without math support would (so raw HTML written inside ``$...$`` counts too).
    """
    import mistune
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    _, audit_cls = _renderer_class()
    with_math, plain = audit_cls(escape=False), audit_cls(escape=False)
    MarkdownWithMath(renderer=with_math).render(str(source))
    mistune.create_markdown(renderer=plain, plugins=list(MarkdownWithMath.DEFAULT_PLUGINS))(str(source))
    return with_math.unsafe or plain.unsafe


def sanitize_markdown(source, attachments=None):
    """Markdown ``source`` that renders without active content, changed only where it must be.

    Markdown with no raw HTML (outside code spans and code blocks) and no link or image URL
    outside the policy of :func:`url_allowed` is returned unchanged: ``a < b``, code spans,
    fenced code and math stay exactly as written. Otherwise the whole source is replaced by
    its sanitized rendering (:func:`markdown_to_html`) as one raw-HTML line wrapped in
    :data:`REWRITTEN_MARKDOWN_OPEN` (newlines become ``&#10;`` so that no markdown renderer
    re-reads any of it as markdown). Idempotent.
    """
    source = _text(source)
    if not markdown_has_active_content(source):
        return source
    rendered = markdown_to_html(source, attachments, anchor_links=False).strip()
    if not rendered:
        return ""
    body = rendered.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "&#10;")
    if body.startswith(REWRITTEN_MARKDOWN_OPEN):
        return body
    return f"{REWRITTEN_MARKDOWN_OPEN}{body}</div>"


# --------------------------------------------------------------------------- SVG

_SVG_NS = {
    "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://purl.org/dc/elements/1.1/",
    "http://creativecommons.org/ns#", "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://www.w3.org/XML/1998/namespace",
}
_SVG_TAGS = frozenset({
    "svg", "g", "defs", "symbol", "use", "path", "rect", "circle", "ellipse", "line", "polyline",
    "polygon", "text", "tspan", "title", "desc", "clipPath", "mask", "pattern", "marker",
    "linearGradient", "radialGradient", "stop", "metadata",
})
_SVG_ATTRIBUTES = frozenset({
    "id", "class", "style", "transform", "d", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx",
    "ry", "fx", "fy", "dx", "dy", "rotate", "width", "height", "viewBox", "preserveAspectRatio",
    "points", "pathLength", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width",
    "stroke-opacity", "stroke-linecap", "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset",
    "stroke-miterlimit", "opacity", "clip-path", "clip-rule", "clipPathUnits", "mask", "maskUnits",
    "maskContentUnits", "font-family", "font-size", "font-weight", "font-style", "font-stretch",
    "font-variant", "text-anchor", "dominant-baseline", "alignment-baseline", "baseline-shift",
    "letter-spacing", "word-spacing", "text-decoration", "textLength", "lengthAdjust", "offset",
    "stop-color", "stop-opacity", "gradientUnits", "gradientTransform", "spreadMethod",
    "patternUnits", "patternContentUnits", "patternTransform", "markerWidth", "markerHeight", "refX",
    "refY", "orient", "markerUnits", "version", "visibility", "display", "overflow", "color",
    "vector-effect", "shape-rendering", "text-rendering", "image-rendering", "paint-order",
    "xml:space", "xmlns", "xlink:href", "href",
})
_SVG_PROLOG = re.compile(r"\A\s*(?:<\?xml[^<>]*\?>)?\s*(?:<!DOCTYPE\s+svg[^<>\[\]]*>)?\s*", re.I)
_SVG_STYLE = re.compile(r"<style\b[^<>]*>[^<]*</style\s*>", re.I)
_CSS_BAD = re.compile(r"@|\\|expression|behavior|-moz-binding|javascript:|vbscript:", re.I)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*([^)'\"\s]*)", re.I)


class _Reject(Exception):
    pass


def _check_svg_attribute(name, value, in_metadata):
    if name == "xmlns" or name.startswith("xmlns:"):
        if value not in _SVG_NS:
            raise _Reject(f"namespace {value!r}")
        return
    if in_metadata and ":" in name:
        return
    if name not in _SVG_ATTRIBUTES:
        raise _Reject(f"attribute {name!r}")
    squeezed = _URL_JUNK.sub("", value).lower()
    if "javascript:" in squeezed or "vbscript:" in squeezed or "data:" in squeezed:
        raise _Reject(f"URL in {name!r}")
    if name in ("href", "xlink:href") and not value.startswith("#"):
        raise _Reject(f"{name}={value!r} (only #fragment links)")
    if name == "style" and _CSS_BAD.search(value):
        raise _Reject("style")
    for target in _CSS_URL.findall(value):
        if not target.startswith("#"):
            raise _Reject(f"url({target}) in {name!r}")


def sanitize_svg(text):
    """SVG ``text`` without its XML prolog and ``<style>`` elements if the rest is inert, else ``None``.

    Inert: well-formed XML made only of SVG drawing elements (:data:`_SVG_TAGS`; any prefixed
    element inside ``<metadata>``), presentation and geometry attributes, ``#fragment``
    references and comments; no ``script``, ``foreignObject``, ``image``, ``a``, ``animate``/``set``,
    event handler, external URL, ``<!DOCTYPE>`` internal subset, CDATA section, processing
    instruction or entity. The check reads the markup both as XML would (it parses it) and as
    an HTML page would when it inlines it (no construct on which the two parsers disagree is
    accepted), so what is kept is the student's figure byte for byte.
    """
    text = _text(text)
    body = text[_SVG_PROLOG.match(text).end():]
    body = _SVG_STYLE.sub("", body)
    if "<?" in body or re.search(r"<!(?!--)", body) or not body.lstrip().startswith("<svg"):
        return None
    depth = {"n": 0, "metadata": 0}

    def start(name, attrs):
        in_metadata = depth["metadata"] > 0
        if depth["n"] == 0 and name != "svg":
            raise _Reject("root is not <svg>")
        if not (name in _SVG_TAGS or (in_metadata and ":" in name)):
            raise _Reject(f"element <{name}>")
        for key, value in attrs.items():
            _check_svg_attribute(key, value, in_metadata)
        depth["n"] += 1
        if name == "metadata" or depth["metadata"]:
            depth["metadata"] += 1

    def end(name):
        depth["n"] -= 1
        if depth["metadata"]:
            depth["metadata"] -= 1

    def reject(*_args):
        raise _Reject("declaration")

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartCdataSectionHandler = reject
    parser.ProcessingInstructionHandler = reject
    parser.StartDoctypeDeclHandler = reject
    parser.EntityDeclHandler = reject
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(body, True)
    except (_Reject, xml.parsers.expat.ExpatError):
        return None
    return body


# --------------------------------------------------------------------------- notebooks

#: Output MIME types kept (after the per-type cleaning in :func:`sanitize_output_data`).
KEPT_MIME_TYPES = (
    "text/plain", "text/html", "text/markdown", "text/latex", "image/svg+xml",
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/json",
)
_RASTER = ("image/png", "image/jpeg", "image/gif", "image/webp")
_BASE64 = re.compile(r"\A[A-Za-z0-9+/=\s]*\Z")
_GRADE_ID_BAD = re.compile(r"[<>\"'&`\x00-\x1f]")


def _text(value):
    return "".join(value) if isinstance(value, list) else str(value)


def sanitize_output_data(data):
    """``(kept, removed)``: a display data bundle cleaned by MIME type, and the MIME types dropped."""
    kept, removed = {}, []
    for mime, value in data.items():
        if mime not in KEPT_MIME_TYPES:
            removed.append(mime)
        elif mime == "text/html":
            kept[mime] = sanitize_html(_text(value))
        elif mime == "text/markdown":
            kept[mime] = sanitize_markdown(value)
        elif mime == "image/svg+xml":
            svg = sanitize_svg(value)
            if svg is None:
                removed.append(mime)
            else:
                kept[mime] = svg
        elif mime in _RASTER:
            if isinstance(value, str) and _BASE64.match(value):
                kept[mime] = value
            else:
                removed.append(mime)
        elif mime == "application/json":
            kept[mime] = value
        else:
            kept[mime] = _text(value)
    return kept, removed


def _safe_output_metadata(metadata, kept):
    out = {}
    for mime in kept:
        meta = metadata.get(mime) if isinstance(metadata, dict) else None
        if not isinstance(meta, dict):
            continue
        clean = {}
        for key in ("width", "height"):
            value = meta.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                clean[key] = value
            elif isinstance(value, str) and re.fullmatch(r"\d{1,5}(\.\d+)?", value):
                clean[key] = value
        if isinstance(meta.get("unconfined"), bool):
            clean["unconfined"] = meta["unconfined"]
        if isinstance(meta.get("alt"), str):
            clean["alt"] = meta["alt"]
        if clean:
            out[mime] = clean
    return out


def sanitize_output(output):
    """One code-cell output made inert (in place; returns it), or ``None`` for an unknown output type."""
    kind = output.get("output_type")
    if kind in ("stream", "error"):
        return output
    if kind not in ("display_data", "execute_result"):
        return None
    kept, removed = sanitize_output_data(output.get("data", {}) or {})
    if removed and not kept:
        kept["text/plain"] = f"[output removed for safety: {', '.join(sorted(removed))} is not shown]"
    output["data"] = kept
    output["metadata"] = _safe_output_metadata(output.get("metadata", {}) or {}, kept)
    output.pop("transient", None)
    return output


def _safe_attachments(attachments):
    out = {}
    for name, bundle in (attachments or {}).items():
        if not isinstance(bundle, dict):
            continue
        images = {m: v for m, v in bundle.items() if m in _RASTER and isinstance(v, str) and _BASE64.match(v)}
        if images:
            out[name] = images
    return out


def sanitize_cell(cell):
    """One cell made inert, in place (see the module docstring); returns it."""
    nbg = cell.get("metadata", {}).get("nbgrader")
    if isinstance(nbg, dict) and isinstance(nbg.get("grade_id"), str) and _GRADE_ID_BAD.search(nbg["grade_id"]):
        nbg["grade_id"] = _GRADE_ID_BAD.sub("_", nbg["grade_id"])
    kind = cell.get("cell_type")
    if "attachments" in cell:
        cell["attachments"] = _safe_attachments(cell.get("attachments"))
    if kind == "markdown":
        cell["source"] = sanitize_markdown(cell.get("source", ""), cell.get("attachments"))
    elif kind == "raw":
        meta = cell.get("metadata", {})
        fmt = str(meta.get("raw_mimetype", meta.get("format", "")) or "").lower()
        if fmt in ("", "text/html", "html"):
            cell["source"] = sanitize_html(_text(cell.get("source", "")))
    elif kind == "code":
        cell["outputs"] = [o for o in (sanitize_output(o) for o in cell.get("outputs", [])) if o is not None]
    return cell


def sanitize_notebook(nb, copy_first=False):
    """Make an executed notebook safe to render anywhere; see the module docstring for what changes.

    Works **in place** and returns ``nb`` (with ``copy_first=True``: on a deep copy, which is
    returned, ``nb`` untouched). Idempotent, so running it on an already sanitized notebook
    (as the feedback step does) changes nothing.
    """
    if copy_first:
        nb = copy.deepcopy(nb)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        sanitize_cell(cell)
    return nb


class SanitizePreprocessor(Preprocessor):
    """nbconvert/nbgrader preprocessor: :func:`sanitize_notebook` on the notebook, nothing else.

    For the end of nbgrader's autograde preprocessor list (after grades are saved), so that
    ``autograded/`` holds only inert notebooks for the formgrader.
    """

    enabled = Bool(True).tag(config=True)   # nbconvert preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        sanitize_notebook(nb)
        return nb, resources


# --------------------------------------------------------------------------- pages

#: Content-Security-Policy of every page the grader writes: no script at all, nothing fetched
#: from elsewhere (images and fonts: the page's own folder or inline data), no plugins, no
#: ``<base>``, no form submission, no frames.
PAGE_CSP = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-src 'none'; connect-src 'none'")

CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(PAGE_CSP, quote=False)}">'


def with_csp(page):
    """HTML ``page`` with :data:`CSP_META` as the first element of its ``<head>`` (ValueError if none)."""
    match = re.search(r"<head(\s[^>]*)?>", page, re.I)
    if not match:
        raise ValueError("the page has no <head>: cannot add its Content-Security-Policy")
    return page[:match.end()] + "\n" + CSP_META + page[match.end():]
