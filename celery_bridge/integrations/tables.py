"""Rendering a table of report rows as CSV, XLSX or PDF (pure: no database, no files).

Not to be confused with ``reports.py``, which checks the status reports workers send to Odoo.

``render_table(title, columns, rows, fmt)`` takes column labels and rows of plain values (str,
int, float, Decimal, date, datetime, bool, None) and returns ``(content bytes, mimetype, extension)``.
"""
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from celery_bridge.core import errors

FORMATS = {
    "csv": ("text/csv", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": ("application/pdf", "pdf"),
}
ALIASES = {"excel": "xlsx"}  # the word B-009 §3.2 uses
# A spreadsheet runs a cell starting with one of these as a formula: text from users must not.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBERS = (int, float, Decimal)


def render_table(title, columns, rows, fmt, subtitle=None):
    """The table as a file: ``(bytes, mimetype, extension)``; ``InvalidInput`` for an unknown format."""
    key = ALIASES.get(fmt, fmt)
    if key not in FORMATS:
        raise errors.InvalidInput(f"unknown report format {fmt!r} (known: {', '.join(sorted(FORMATS))}, excel)")
    columns = [str(column) for column in columns]
    if not columns:
        raise errors.InvalidInput("a report needs at least one column")
    rows = [list(row) for row in rows]
    for number, row in enumerate(rows, 1):
        if len(row) != len(columns):
            raise errors.InvalidInput(f"row {number} has {len(row)} values for {len(columns)} columns")
    mimetype, extension = FORMATS[key]
    return RENDERERS[key](str(title), columns, rows, subtitle), mimetype, extension


def _is_number(value):
    return isinstance(value, NUMBERS) and not isinstance(value, bool)


def _text(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# -- CSV


def _csv_value(value):
    text = _text(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _render_csv(title, columns, rows, subtitle):
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([_csv_value(value) for value in row] for row in rows)
    return out.getvalue().encode("utf-8")


# -- XLSX


def _column_widths(columns, rows, sample=1000):
    widths = [len(column) for column in columns]
    for row in rows[:sample]:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(_text(value)))
    return [min(60, max(8, width + 2)) for width in widths]


def _xlsx_cell(sheet, value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # Excel has no time zones: keep the wall-clock time given
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text, not a formula
    return cell


def _render_xlsx(title, columns, rows, subtitle):
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_name(title))
    for index, width in enumerate(_column_widths(columns, rows), 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header_row = 4 if subtitle else 3
    # A write-only sheet writes its view with the first row: panes and filter go before any row.
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(len(columns))}{header_row + len(rows)}"
    heading = WriteOnlyCell(sheet, value=title)
    heading.font = Font(bold=True, size=14)
    sheet.append([heading])
    if subtitle:
        sheet.append([WriteOnlyCell(sheet, value=str(subtitle))])
    sheet.append([])
    header = []
    for label in columns:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(vertical="center")
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title):
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title).strip()
    return cleaned[:31] or "Report"


# -- PDF

LONG_CELL = 40  # characters beyond which a cell wraps (a Paragraph), shorter ones are plain and fast


def _pdf_text(value):
    if _is_number(value):
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
    return _text(value)


def _render_pdf(title, columns, rows, subtitle):
    out = io.BytesIO()
    pagesize = landscape(A4) if len(columns) > 6 else A4
    margin = 12 * mm
    doc = SimpleDocTemplate(out, pagesize=pagesize, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=16 * mm, title=title, author="Smart Dairy")
    styles = getSampleStyleSheet()
    cell_style = styles["BodyText"].clone("cell", fontSize=8, leading=10)
    header_style = cell_style.clone("header", fontName="Helvetica-Bold")
    story = [Paragraph(escape(title), styles["Title"])]
    if subtitle:
        story.append(Paragraph(escape(str(subtitle)), styles["Normal"]))
    story.append(Spacer(1, 5 * mm))

    numeric = [bool(rows) and all(_is_number(row[i]) or row[i] is None for row in rows) for i in range(len(columns))]
    body = [[Paragraph(escape(text), cell_style) if len(text) > LONG_CELL else text
             for text in map(_pdf_text, row)] for row in rows]
    data = [[Paragraph(escape(label), header_style) for label in columns]] + body
    table = LongTable(data, colWidths=_pdf_widths(columns, rows, doc.width), repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F5F5F5")]),
    ]
    style += [("ALIGN", (i, 1), (i, -1), "RIGHT") for i, is_number in enumerate(numeric) if is_number]
    table.setStyle(TableStyle(style))
    story.append(table)

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(margin, 8 * mm, title[:100])
        canvas.drawRightString(pagesize[0] - margin, 8 * mm, f"Page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _pdf_widths(columns, rows, total):
    """Column widths in points, in proportion to their content (capped so one column cannot take all)."""
    sample = [[_pdf_text(value) for value in row] for row in rows[:1000]]
    lengths = [min(LONG_CELL, width) for width in _column_widths(columns, sample)]
    scale = total / sum(lengths)
    return [length * scale for length in lengths]


RENDERERS = {"csv": _render_csv, "xlsx": _render_xlsx, "pdf": _render_pdf}
