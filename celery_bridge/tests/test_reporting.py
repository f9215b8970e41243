import csv
import io
from datetime import date, datetime, timezone
from decimal import Decimal

import openpyxl
import pytest
from pypdf import PdfReader

from celery_bridge.core import errors
from celery_bridge.integrations.tables import render_table

COLUMNS = ["Farm", "Cows", "Litres", "Collected on", "Checked at", "Note"]
ROWS = [
    ["Green Valley", 42, Decimal("1234.50"), date(2026, 1, 31), datetime(2026, 1, 31, 6, 30), None],
    ["স্মার্ট ডেইরি", 7, 88.25, date(2026, 2, 1), datetime(2026, 2, 1, 6, 45, tzinfo=timezone.utc), "=HYPERLINK(1)"],
]


def test_csv_has_a_header_row_and_reads_back():
    content, mimetype, extension = render_table("Milk production", COLUMNS, ROWS, "csv")
    assert (mimetype, extension) == ("text/csv", "csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    assert rows[0] == COLUMNS
    assert rows[1] == ["Green Valley", "42", "1234.50", "2026-01-31", "2026-01-31 06:30:00", ""]
    assert rows[2][0] == "স্মার্ট ডেইরি"
    assert rows[2][5] == "'=HYPERLINK(1)", "a formula typed by a user stays text in a spreadsheet"


def test_xlsx_keeps_numbers_and_dates_typed_with_a_bold_header():
    content, mimetype, extension = render_table("Milk production", COLUMNS, ROWS, "excel", subtitle="January 2026")
    assert extension == "xlsx" and mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet["A1"].value == "Milk production" and sheet["A2"].value == "January 2026"
    header = [cell.value for cell in sheet[4]]
    assert header == COLUMNS
    assert all(cell.font.bold for cell in sheet[4])
    assert sheet.freeze_panes == "A5" and sheet.auto_filter.ref == "A4:F6"
    first = [cell.value for cell in sheet[5]]
    assert first[:4] == ["Green Valley", 42, 1234.5, datetime(2026, 1, 31)]
    assert sheet["B5"].data_type == "n" and sheet["D5"].is_date and sheet["E5"].is_date
    assert sheet["E6"].value == datetime(2026, 2, 1, 6, 45)
    assert sheet["F6"].value == "=HYPERLINK(1)" and sheet["F6"].data_type == "s"
    assert sheet.column_dimensions["A"].width >= len("Green Valley")


def test_pdf_has_the_title_a_repeated_header_and_page_numbers_over_thousands_of_rows():
    rows = [[f"Farm {n}", n, Decimal(n) / 4, date(2026, 1, 1), datetime(2026, 1, 1, 5), "ok"] for n in range(3000)]
    content, mimetype, extension = render_table("Milk production", COLUMNS, rows, "pdf", subtitle="All farms")
    assert (mimetype, extension) == ("application/pdf", "pdf")
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) > 10
    first, last = reader.pages[0].extract_text(), reader.pages[-1].extract_text()
    assert "Milk production" in first and "All farms" in first and "Farm 0" in first
    assert "Collected on" in last, "the header row repeats on every page"
    assert "Farm 2999" in last and f"Page {len(reader.pages)}" in last


def test_pdf_escapes_markup_in_titles_and_cells():
    content, _, _ = render_table("Sales <b>& returns", ["Note"], [["x" * 30 + " <i>long & wrapped</i> " + "y" * 30]], "pdf")
    text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert "Sales <b>& returns" in text and "<i>long & wrapped</i>" in text


def test_unknown_format_and_ragged_rows_are_invalid_input():
    with pytest.raises(errors.InvalidInput, match="unknown report format"):
        render_table("x", ["a"], [[1]], "docx")
    with pytest.raises(errors.InvalidInput, match="row 2"):
        render_table("x", ["a", "b"], [[1, 2], [3]], "csv")
    with pytest.raises(errors.InvalidInput):
        render_table("x", [], [], "csv")


def test_every_format_renders_mixed_values_and_empty_reports():
    for fmt in ("csv", "xlsx", "pdf"):
        assert render_table("Mixed", COLUMNS, ROWS, fmt)[0]
        assert render_table("Nothing yet", ["Farm"], [], fmt)[0]
