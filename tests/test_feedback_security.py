"""Feedback is inert: student HTML, SVG, markdown and JavaScript never run in a page a TA opens.

Unit tests of :mod:`autograder.sanitize`, the CSV export's formula guard, and one graded
student whose notebook displays hostile outputs: its feedback page holds no script, no
event handler, no ``javascript:`` URL, and headless Chromium (when installed) shows that
none of the student's code ran.
"""

from __future__ import annotations

import base64
import copy
import csv
import io
import re
import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from autograder.sanitize import (CSP_META, sanitize_html, sanitize_markdown, sanitize_notebook, sanitize_svg,
                                 with_csp)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
MARKER = "PWNED"  # what student script would write; built at run time ('PW' + 'NED') so no source shows it
ACTIVE = re.compile(r"<script|onerror|onload|javascript:", re.I)


# --------------------------------------------------------------------------- sanitize_html

@pytest.mark.parametrize("dirty, gone", [
    ("<script>alert(1)</script><b>ok</b>", "<script"),
    ('<img src=x onerror="alert(1)">', "onerror"),
    ('<a href="javascript:alert(1)">x</a>', "javascript:"),
    ('<a href="java&#x09;script:alert(1)">x</a>', "script:"),
    ('<a href="data:text/html,<script>alert(1)</script>">x</a>', "data:"),
    ('<svg onload="alert(1)"><circle r="5"/></svg>', "onload"),
    ('<iframe src="https://evil.example"></iframe>', "iframe"),
    ('<object data="x.swf"></object><embed src="x.swf">', "x.swf"),
    ('<form action="https://evil.example"><input name="pw"></form>', "form"),
    ('<meta http-equiv="refresh" content="0;url=https://evil.example">', "meta"),
    ('<base href="https://evil.example/">', "base"),
    ("<style>body{background:url(https://evil.example/leak)}</style>", "evil"),
    ('<p style="background:url(https://evil.example/leak)">p</p>', "evil"),
    ('<img src="https://evil.example/pixel.png">', "evil"),
    ('<a href="//evil.example/x">x</a>', "evil"),
    ('<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>', "onerror"),
    ('<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>', "onerror"),
])
def test_sanitize_html_removes_active_content(dirty, gone):
    clean = sanitize_html(dirty)
    assert gone not in clean.lower()
    assert sanitize_html(clean) == clean  # idempotent


def test_sanitize_html_keeps_tables_images_links_and_formatting():
    table = ('<table class="dataframe" border="1"><thead><tr><th>a</th></tr></thead>'
             "<tbody><tr><td>1</td></tr></tbody></table>")
    assert sanitize_html(table) == table
    img = f'<img src="data:image/png;base64,{PNG}" width="10" alt="plot">'
    assert sanitize_html(img) == img
    svg_img = '<img src="data:image/svg+xml;base64,PHN2Zy8+">'  # an SVG shown as an image runs nothing
    assert sanitize_html(svg_img) == svg_img
    for href in ("https://example.org/a?b=1", "http://example.org", "mailto:ta@example.org", "#part-2", "other.html"):
        assert f'href="{href}"' in sanitize_html(f'<a href="{href}">x</a>'), href
    assert sanitize_html("<b>b</b> <i>i</i> <code>c</code> <pre>p</pre> a &lt; b") == \
        "<b>b</b> <i>i</i> <code>c</code> <pre>p</pre> a &lt; b"


# --------------------------------------------------------------------------- markdown

@pytest.mark.parametrize("text", [
    "a < b and b > c, x<y",
    "Use `<script>` tags? Never: `a<b>c`.",
    "```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```",
    "    <indented>code</indented>",
    "Math: $x < y$ and $$\\sum_i a_i > 0$$",
    "**bold**, _em_, [link](https://example.org), <https://example.org>, ![img](attachment:fig.png)",
    "> quoted\n\n1. one\n2. two\n\n| a | b |\n|---|---|\n| 1 | 2 |",
])
def test_sanitize_markdown_leaves_ordinary_markdown_alone(text):
    assert sanitize_markdown(text) == text


@pytest.mark.parametrize("text, gone", [
    ("Hi <script>alert(1)</script> there", "<script"),
    ('<img src=x onerror="alert(1)">', "onerror"),
    ("[click](javascript:alert(1))", "javascript:"),
    ("![x](javascript:alert(1))", "javascript:"),
    ('<div onmouseover="alert(1)">hover</div>', "onmouseover"),
    ("<style>*{display:none}</style>", "display"),
    ("<javascript:alert(1)>", 'href="javascript'),  # the URL stays as link text, not as a link
    ("[x][ref]\n\n[ref]: javascript:alert(1)", "javascript:"),
    ("$<img src=x onerror=alert(1)>$", "<img"),  # math stays TeX text, escaped
])
def test_sanitize_markdown_rewrites_raw_html_readably(text, gone):
    out = sanitize_markdown(text + "\n\nA `<b>code</b>` span, a < b, and\n\n```\nfenced <i>code</i>\n```\n")
    assert gone not in out.lower()
    assert "\n" not in out and out.startswith('<div class="nnkit-sanitized">')  # one raw-HTML line
    assert "<code>&lt;b&gt;code&lt;/b&gt;</code>" in out and "a &lt; b" in out
    assert "fenced &lt;i&gt;code&lt;/i&gt;" in out
    assert sanitize_markdown(out) == out  # idempotent


def test_rewritten_markdown_renders_as_the_sanitized_html():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    out = sanitize_markdown("x <script>alert(1)</script>\n\n```\nline1\n\nline3 <b>\n```")
    rendered = markdown2html_mistune(out)
    assert "<script" not in rendered and "<pre><code>line1&#10;&#10;line3 &lt;b&gt;" in rendered


# --------------------------------------------------------------------------- SVG

def test_matplotlib_svg_is_kept_unchanged_but_for_its_prolog_and_style():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([1, 2, 3], [1, 4, 9], "o-", label="a < b")
    ax.set_title("loss & accuracy")
    ax.legend()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    kept = sanitize_svg(svg)
    assert kept is not None and kept.startswith("<svg") and "<style" not in kept
    assert re.sub(r"<style[^<]*</style>", "", svg).endswith(kept)
    assert sanitize_svg(kept) == kept


@pytest.mark.parametrize("svg", [
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "<svg><script>alert(1)</script></svg>",
    "<svg><foreignObject><p>x</p></foreignObject></svg>",
    '<svg xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<svg><use href="https://evil.example/x.svg#a"/></svg>',
    '<svg><animate attributeName="href" to="javascript:alert(1)"/></svg>',
    '<svg><image href="https://evil.example/pixel.png"/></svg>',
    '<svg><rect style="fill:url(https://evil.example/leak)"/></svg>',
    '<!DOCTYPE svg [<!NOTATION n SYSTEM "><img src=x onerror=alert(1)>">]><svg/>',
    "<svg><![CDATA[<img src=x onerror=alert(1)>]]></svg>",
    '<svg><img xmlns="http://www.w3.org/1999/xhtml" src="x"/></svg>',
    "<svg><rect></svg>",
])
def test_active_or_odd_svg_is_dropped(svg):
    assert sanitize_svg(svg) is None


# --------------------------------------------------------------------------- notebooks

def _display(data, metadata=None):
    return new_output("display_data", data=data, metadata=metadata or {})


def hostile_notebook():
    """A notebook holding every kind of active content a renderer could run, plus things to keep."""
    code = new_code_cell("print('hi')", outputs=[
        new_output("stream", name="stdout", text="<script>in a stream is escaped text</script>\n"),
        _display({"text/html": "<script>alert(1)</script><b>kept</b>", "text/plain": "<HTML>"}),
        _display({"text/html": '<img src=x onerror="alert(1)"><a href="javascript:alert(1)">a</a>'}),
        _display({"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'}),
        _display({"application/javascript": "alert(1)", "text/plain": "<Javascript object>"}),
        _display({"application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2}}),
        _display({"text/markdown": "md <script>alert(1)</script>"}),
        _display({"image/png": PNG, "text/plain": "<Figure>"},
                 {"image/png": {"width": 200, "height": "1 onerror=alert(1)"}, "filenames": {"image/png": "x"}}),
        _display({"image/png": '"><script>alert(1)</script>'}),
        _display({"text/html": "<p>x</p>"}, {"text/html": {"isolated": True}}),
        _display({"text/latex": "$x^2$"}),
    ])
    md = new_markdown_cell("Notes <script>alert(1)</script> and `a < b`", attachments={
        "fig.png": {"image/png": PNG}, "page.html": {"text/html": "<script>alert(1)</script>"}})
    nb = new_notebook(cells=[
        md, code,
        new_raw_cell('<img src=x onerror="alert(1)">'),
        new_raw_cell("\\section{x} <script>kept as LaTeX</script>", metadata={"raw_mimetype": "text/latex"}),
        new_code_cell("pass", metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": 'x"><b>',
                                                     "points": 1, "schema_version": 3}}),
    ])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_sanitize_notebook_makes_every_output_and_cell_inert():
    nb = hostile_notebook()
    out = sanitize_notebook(nb)
    assert out is nb  # in place
    nbformat.validate(nb)
    md, code, raw_html, raw_latex, graded = nb.cells
    assert ACTIVE.search(md.source) is None and "<code>a &lt; b</code>" in md.source
    assert set(md.attachments) == {"fig.png"}
    assert raw_html.source == "<img>"
    assert raw_latex.source == "\\section{x} <script>kept as LaTeX</script>"  # not rendered as HTML
    assert graded.metadata.nbgrader.grade_id == "x___b_"
    assert "widgets" not in nb.metadata
    outs = code.outputs
    assert outs[0].text.startswith("<script>in a stream")  # escaped by every renderer
    assert outs[1].data == {"text/html": "<b>kept</b>", "text/plain": "<HTML>"}
    assert ACTIVE.search(outs[2].data["text/html"]) is None
    assert outs[3].data == {"text/plain": "[output removed for safety: image/svg+xml is not shown]"}
    assert outs[4].data == {"text/plain": "<Javascript object>"}
    assert "not shown" in outs[5].data["text/plain"] and len(outs[5].data) == 1
    assert ACTIVE.search(outs[6].data["text/markdown"]) is None
    assert outs[7].data["image/png"] == PNG and outs[7].metadata == {"image/png": {"width": 200}}
    assert "image/png" not in outs[8].data
    assert outs[9].metadata == {}
    assert outs[10].data == {"text/latex": "$x^2$"}
    again = copy.deepcopy(nb)
    assert sanitize_notebook(again) == nb  # idempotent


def test_sanitize_notebook_copy_first_leaves_the_original():
    nb = hostile_notebook()
    before = copy.deepcopy(nb)
    clean = sanitize_notebook(nb, copy_first=True)
    assert nb == before and clean != before


@pytest.mark.filterwarnings("ignore:Your element with mimetype")
@pytest.mark.parametrize("template", ["classic", "lab"])
def test_sanitized_notebook_is_inert_in_plain_nbconvert(template):
    """What the formgrader does with autograded/: nbconvert templates that insert outputs as raw HTML."""
    from nbconvert import HTMLExporter

    from autograder.sanitize import SanitizePreprocessor

    raw_page, _ = HTMLExporter(template_name=template).from_notebook_node(hostile_notebook())
    assert "<script>alert(1)</script>" in raw_page  # the check below can fail
    nb, _ = SanitizePreprocessor()(hostile_notebook(), {})  # as nbgrader calls it: enabled by default
    page, _ = HTMLExporter(template_name=template).from_notebook_node(nb)
    cells = page[page.index("<main"):page.rindex("</main>")] if "<main" in page else page.split("<body", 1)[1]
    assert "<b>kept</b>" in cells and "data:image/png;base64," + PNG in cells
    assert "alert(1)" not in cells, cells


def test_with_csp_puts_the_policy_first_in_head():
    page = with_csp("<!DOCTYPE html><html><head><title>t</title></head><body></body></html>")
    assert page.index(CSP_META) < page.index("<title>")
    assert "script-src 'none'" in CSP_META and "object-src 'none'" in CSP_META
    assert "base-uri 'none'" in CSP_META and "form-action 'none'" in CSP_META
    with pytest.raises(ValueError, match="no <head>"):
        with_csp("<p>no head</p>")


# --------------------------------------------------------------------------- index page and CSV

def test_index_page_escapes_names_and_messages(tmp_path):
    from autograder.course import Course
    from autograder.feedback import write_index

    student = '<img src=x onerror="alert(1)">'
    entry = {"score": 1, "max_score": 2, "notes": ["<script>alert(1)</script>"],
             "problems": [{"message": '<a href="javascript:alert(1)">x</a>'}],
             "cells": [{"notebook": "<b>nb</b>.ipynb", "grade_id": "<i>g</i>", "score": 0, "max_score": 1,
                        "message": "<svg onload=alert(1)>"}]}
    page = write_index(Course(tmp_path), "tiny", student, entry).read_text()
    assert CSP_META in page
    body = page.split("</head>", 1)[1]
    assert "<script" not in body and "<img" not in body and "<svg" not in body and "<a href=\"javascript" not in body
    assert "&lt;script&gt;" in body and "&lt;b&gt;nb&lt;/b&gt;.ipynb" in body


def test_csv_text_neutralizes_formula_triggers():
    from autograder.export import csv_text

    for bad in ("=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://evil","x")'):
        assert csv_text(bad) == "'" + bad
    for ok in ("alice", "late by 2.0 h", "0", "3.5", "", "a=b"):
        assert csv_text(ok) == ok


def test_export_csv_guards_student_cells_and_keeps_numbers(tmp_path, monkeypatch):
    import autograder.export as export

    rows = [export.Row('=HYPERLINK("http://evil.example","x")', 3.0, 8.0, True, 7200.0, True,
                       reasons=["-1+2 kernel died", "@import"]),
            export.Row("bob", 8.0, 8.0, True, reasons=[])]
    rows[0].reasons = ["=cmd|' /C calc'!A0"] + rows[0].reasons
    monkeypatch.setattr(export, "class_rows", lambda course, a: rows)
    out = tmp_path / "grades.csv"
    export.export_csv(tmp_path, "tiny", out)
    got = list(csv.DictReader(out.open(newline="")))
    assert got[0]["student"] == '\'=HYPERLINK("http://evil.example","x")'
    assert got[0]["reason"].startswith("'=cmd")
    assert (got[0]["score"], got[0]["max"], got[0]["hours_late"]) == ("3", "8", "2.00")
    assert got[1] == {"student": "bob", "score": "8", "max": "8", "late": "no", "hours_late": "0.00", "reason": ""}


# --------------------------------------------------------------------------- real feedback + Chromium

HOSTILE_CELL = r'''
from IPython.display import HTML, SVG, Javascript, Markdown, display
# every marker and keyword is assembled at run time: the feedback page shows this source as text
S, ON, JS, M = "scr" + "ipt", "on", "java" + "script:", "'PW'+'NED'"
display(HTML(f"<{S}>document.title={M}</{S}><b>bold stays</b>"))
ADD = "var p=document.createElement('p');p.id='pw'+'ned';document.body.appendChild(p)"
display(HTML(f"<img src=x {ON}error=\"{ADD}\">"))
display(HTML(f"<a href=\"{JS}document.title={M}\">click me</a>"))
display(SVG(f'<svg xmlns="http://www.w3.org/2000/svg" {ON}load="document.title={M}"><circle r="5"/></svg>'))
display(Javascript(f"document.title={M}"))
display(Markdown(f"markdown <{S}>document.title={M}</{S}>"))
print("hostile cell ran")
'''


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _dump_dom(browser, page, tmp_path):
    """The DOM of ``page`` after load, as headless Chromium serializes it."""
    profile = tmp_path / f"profile-{page.stem}"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=2000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    return proc


@pytest.fixture(scope="module")
def hostile_feedback(tmp_path_factory):
    """The tiny course with one graded student whose notebook displays hostile outputs; feedback written.

    After grading, more hostile content is put into the autograded notebook (markdown and raw
    cells, a widget view, widget state, a PNG whose data breaks out of its attribute) to stand
    for anything a grader could leave in it.
    """
    from fixtures.autograder_support import A, NB1, NB2, new_course, put, run_cli, solution

    from autograder.feedback import generate_feedback

    course = new_course(tmp_path_factory.mktemp("hostile") / "course")
    s1 = solution(NB1, course)
    s1.cells.append(new_markdown_cell("Student notes <script>document.title='PW'+'NED'</script> and `a < b`"))
    s1.cells.append(new_code_cell(HOSTILE_CELL))
    put(course, "mallory", {NB1: s1, NB2: solution(NB2, course)})
    run_cli("grade", A, "--student", "mallory", "--workers", "1", course=course)
    graded = course / "autograded" / "mallory" / A / NB1
    nb = nbformat.read(graded, as_version=4)
    assert any("hostile cell ran" in o.get("text", "") for c in nb.cells for o in c.get("outputs", [])), \
        "the hostile cell did not run while grading"
    nb.cells.append(new_markdown_cell('<img src=x onerror="document.title=\'PWNED\'">'))
    nb.cells.append(new_raw_cell("<script>document.title='PWNED'</script>"))
    nb.cells.append(new_code_cell("1", outputs=[
        _display({"application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2}}),
        _display({"image/png": '"><script>document.title="PWNED"</script>'}),
    ]))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    nbformat.write(nb, graded)
    summary = generate_feedback(course, A, students=["mallory"])
    assert summary.written == ["mallory"] and not summary.failed, summary.line()
    return course / "feedback" / "mallory" / A


@pytest.mark.slow
def test_feedback_pages_hold_no_active_content(hostile_feedback):
    page = (hostile_feedback / "01_basics.html").read_text()
    assert "hostile cell ran" in page and "bold stays" in page and "Student notes" in page  # content kept
    assert "<code>a &lt; b</code>" in page
    for html_page in sorted(hostile_feedback.glob("*.html")):
        text = html_page.read_text()
        head, body = text.split("</head>", 1)
        assert CSP_META in head, html_page.name
        # (the head's Bootstrap CSS names javascript: in a selector)
        assert not re.search(r"<script|onerror|onload", head, re.I), html_page.name
        found = ACTIVE.findall(body)
        assert not found, f"{html_page.name}: {found}"
        assert "MathJax.Hub" not in text and "cdnjs" not in text  # no third-party script: math stays TeX source


@pytest.mark.slow
def test_chromium_runs_no_student_script(hostile_feedback, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium, chromium-browser or google-chrome on PATH: the browser check needs one "
                    "(Debian/Ubuntu: apt-get install chromium)")
    # the harness must see script that does run: a page without sanitizing and without CSP
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><html><head><title>t</title></head><body>"
                       "<script>document.title='PW'+'NED'</script>"
                       "<img src=x onerror=\"var p=document.createElement('p');p.id='pw'+'ned';"
                       "document.body.appendChild(p)\"></body></html>")
    proc = _dump_dom(browser, control, tmp_path)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        pytest.skip(f"{browser} did not run headless (exit {proc.returncode}): {proc.stderr[-500:]}")
    assert MARKER in proc.stdout and 'id="pwned"' in proc.stdout, "control page: script did not run"
    # the CSP alone stops the same page's script
    guarded = tmp_path / "guarded.html"
    guarded.write_text(with_csp(control.read_text()))
    dom = _dump_dom(browser, guarded, tmp_path).stdout
    assert "<html" in dom and MARKER not in dom and 'id="pwned"' not in dom, "CSP meta did not stop script"
    for page in sorted(hostile_feedback.glob("*.html")):
        proc = _dump_dom(browser, page, tmp_path)
        assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-500:]
        assert MARKER not in proc.stdout and 'id="pwned"' not in proc.stdout, f"student script ran in {page.name}"
    assert "bold stays" in _dump_dom(browser, hostile_feedback / "01_basics.html", tmp_path).stdout
