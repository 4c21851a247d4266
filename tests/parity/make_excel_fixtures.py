#!/usr/bin/env python3
"""Writes the Excel fixtures in tests/fixtures/excel/ with openpyxl (openpyxl==3.1.5 from
benches/requirements.txt), and expected.json: what segsql must read from them.

    bash tests/parity/make_fixtures.sh            # makes a venv, runs this too
    python tests/parity/make_excel_fixtures.py    # alone (needs openpyxl)

Every value is fixed or drawn from random.Random with a fixed seed, and the files are
byte-identical on every run: the workbook's created/modified times are fixed (openpyxl's
save() stamps "modified" with the clock, so docProps/core.xml is rewritten afterwards) and
the zip is rewritten with a fixed timestamp on every member. No formulas anywhere.

  crm_export.xlsx  "Customers"    customer_id, name, country, signup_date (date cells,
                                  format DD.MM.YYYY), lifetime_value (2 decimals, two empty
                                  cells), vip (TRUE/FALSE cells); 30 rows.
                   "Orders 2024"  order_id, customer_id, ordered_at (date-time cells with
                                  times, whole minutes), amount, status; 50 rows.
  finance.xlsx     "Budget"       month (date cells, first of month, format "mmm yyyy"),
                                  channel, spend (header cell written " spend ", so the name
                                  is trimmed), note (text, empty in most rows); 36 rows.
  no_header.xlsx   "Sheet1"       no header: int, float, text; 10 rows.
  mixed.xlsx       "Data"         id; code (numbers and text cells: VARCHAR, numbers are
                                  integral and read as their decimal text, "1001");
                                  when (text cells dd.mm.yyyy, some day > 12: DATE by the
                                  CSV rules); shipped (text cells yyyy-mm-dd: DATE);
                                  ratio (numbers and one #DIV/0! error cell, a t="e" cell
                                  with no formula: DOUBLE, the error is NULL); 12 rows.

expected.json is a list sorted by table name, one object per sheet:

  {"table": "<file>_<sheet>" (lower case, non-alphanumerics -> "_"),
   "file": "crm_export.xlsx", "sheet": "Orders 2024",
   "has_header": bool, "columns": [[name, TYPE], ...], "rows": N,
   "checks": [[sql_expression, expected_text], ...]}

Names are the header text trimmed, or column_1, column_2, ... without a header. Checks are
aggregates over the table computed here from the values written: dates ISO (YYYY-MM-DD),
timestamps YYYY-MM-DDTHH:MM:SS, integers in decimal, rounded floats as Python's repr of the
rounded value (sums are exact decimal sums, then rounded). CI never runs this.
"""

import datetime as dt
import io
import json
import os
import random
import re
import zipfile
from decimal import ROUND_HALF_EVEN, Decimal

import openpyxl
from openpyxl.xml.functions import tostring

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "excel")
FIXED_TIME = dt.datetime(2024, 1, 1, 0, 0, 0)
ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def table_name(file_stem, sheet):
    return re.sub(r"[^a-z0-9]", "_", f"{file_stem}_{sheet}".lower())


def exact_sum(values):
    return sum((Decimal(repr(v)) for v in values if v is not None), Decimal(0))


def rounded(total, places=2):
    """Python repr of the rounded float, e.g. '12345.67'."""
    q = total.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return repr(float(q))


def save_deterministic(wb, path):
    """Saves wb with fixed document times and fixed zip member timestamps."""
    wb.properties.creator = "segsql tests/parity/make_excel_fixtures.py"
    wb.properties.lastModifiedBy = None
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buffer = io.BytesIO()
    wb.save(buffer)  # stamps properties.modified with the clock ...
    wb.properties.modified = FIXED_TIME  # ... so core.xml is written again below
    core = tostring(wb.properties.to_tree())
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = core if info.filename == "docProps/core.xml" else src.read(info.filename)
            member = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            member.create_system = 0
            dst.writestr(member, data)


def write_rows(ws, header, rows, formats=None):
    if header is not None:
        ws.append(header)
    for row in rows:
        ws.append(list(row))
    first = 2 if header is not None else 1
    for col, fmt in (formats or {}).items():
        for r in range(first, first + len(rows)):
            cell = ws.cell(row=r, column=col)
            if cell.value is not None:
                cell.number_format = fmt


# ---------------------------------------------------------------- crm_export.xlsx

NAMES = [
    "Anna Schmidt", "Lukas Müller", "Sophie Dubois", "Jan de Vries", "Marta Rossi",
    "Felix Wagner", "Chloé Martin", "Pieter Jansen", "Giulia Bianchi", "Tobias Huber",
    "Emma Laurent", "Noah Keller", "Lea Fischer", "Daan Bakker", "Luca Romano",
    "Clara Weber", "Hugo Bernard", "Mila Visser", "Elias Baumann", "Sara Conti",
    "Paul Richter", "Léa Petit", "Finn Smit", "Alice Moretti", "Jonas Wolf",
    "Zoé Garnier", "Bram Mulder", "Nina Ricci", "Max Brunner", "Ines Costa",
]
COUNTRIES = ["Germany", "France", "Netherlands", "Italy", "Austria", "Switzerland"]


def crm_export():
    rng = random.Random(20240101)
    customers = []
    for i in range(30):
        cid = i + 1
        signup = dt.date(2021, 3, 4) + dt.timedelta(days=37 * i + rng.randrange(0, 20))
        ltv = None if cid in (7, 19) else round(rng.uniform(40.0, 4800.0), 2)
        vip = ltv is not None and ltv >= 2500.0
        customers.append((cid, NAMES[i], COUNTRIES[i % len(COUNTRIES)], signup, ltv, vip))
    # The first signup is the earliest (offset >= 0 on day 0 and later rows start later).
    statuses = ["shipped", "pending", "cancelled", "returned"]
    orders = []
    start = dt.datetime(2024, 1, 3, 9, 15)
    for i in range(50):
        when = start + dt.timedelta(days=7 * i, minutes=37 * rng.randrange(0, 20))
        amount = round(rng.uniform(5.0, 480.0), 2)
        orders.append((1001 + i, rng.randrange(1, 31), when, amount, statuses[rng.randrange(4)]))
    # A fixed last order, so max(ordered_at) is a readable constant.
    orders[-1] = (1050, 12, dt.datetime(2024, 12, 30, 18, 45), 129.9, "shipped")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    write_rows(ws, ["customer_id", "name", "country", "signup_date", "lifetime_value", "vip"],
               customers, {4: "DD.MM.YYYY", 5: "0.00"})
    ws2 = wb.create_sheet("Orders 2024")
    write_rows(ws2, ["order_id", "customer_id", "ordered_at", "amount", "status"], orders,
               {3: "YYYY-MM-DD HH:MM", 4: "#,##0.00"})
    save_deterministic(wb, os.path.join(OUT, "crm_export.xlsx"))

    ltvs = [c[4] for c in customers]
    expected = [
        {
            "table": table_name("crm_export", "Customers"), "file": "crm_export.xlsx",
            "sheet": "Customers", "has_header": True,
            "columns": [["customer_id", "BIGINT"], ["name", "VARCHAR"], ["country", "VARCHAR"],
                        ["signup_date", "DATE"], ["lifetime_value", "DOUBLE"], ["vip", "BOOLEAN"]],
            "rows": len(customers),
            "checks": [
                ["sum(customer_id)", str(sum(c[0] for c in customers))],
                ["round(sum(lifetime_value), 2)", rounded(exact_sum(ltvs))],
                ["min(signup_date)", min(c[3] for c in customers).isoformat()],
                ["count(lifetime_value)", str(sum(v is not None for v in ltvs))],
            ],
        },
        {
            "table": table_name("crm_export", "Orders 2024"), "file": "crm_export.xlsx",
            "sheet": "Orders 2024", "has_header": True,
            "columns": [["order_id", "BIGINT"], ["customer_id", "BIGINT"],
                        ["ordered_at", "TIMESTAMP"], ["amount", "DOUBLE"], ["status", "VARCHAR"]],
            "rows": len(orders),
            "checks": [
                ["sum(order_id)", str(sum(o[0] for o in orders))],
                ["round(sum(amount), 2)", rounded(exact_sum(o[3] for o in orders))],
                ["min(ordered_at)", min(o[2] for o in orders).isoformat()],
                ["max(ordered_at)", max(o[2] for o in orders).isoformat()],
            ],
        },
    ]
    return expected


# ---------------------------------------------------------------- finance.xlsx

def finance():
    rng = random.Random(7)
    channels = ["Search", "Social", "Email"]
    notes = {(3, "Social"): "campaign launch", (7, "Search"): "price test", (11, "Email"): "Black Friday"}
    rows = []
    for month in range(1, 13):
        for channel in channels:
            spend = round(rng.uniform(500.0, 12000.0), 2)
            rows.append((dt.date(2024, month, 1), channel, spend, notes.get((month, channel))))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Budget"
    write_rows(ws, ["month", "channel", " spend ", "note"], rows, {1: "mmm yyyy", 3: "#,##0.00"})
    save_deterministic(wb, os.path.join(OUT, "finance.xlsx"))
    return [{
        "table": table_name("finance", "Budget"), "file": "finance.xlsx", "sheet": "Budget",
        "has_header": True,
        "columns": [["month", "DATE"], ["channel", "VARCHAR"], ["spend", "DOUBLE"], ["note", "VARCHAR"]],
        "rows": len(rows),
        "checks": [
            ["min(month)", min(r[0] for r in rows).isoformat()],
            ["max(month)", max(r[0] for r in rows).isoformat()],
            ["round(sum(spend), 2)", rounded(exact_sum(r[2] for r in rows))],
            ["count(note)", str(sum(r[3] is not None for r in rows))],
        ],
    }]


# ---------------------------------------------------------------- no_header.xlsx

def no_header():
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"]
    rows = [(101 + i, round(1.25 + 0.75 * i + 0.01 * (i % 3), 2), words[i]) for i in range(10)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    write_rows(ws, None, rows)
    save_deterministic(wb, os.path.join(OUT, "no_header.xlsx"))
    return [{
        "table": table_name("no_header", "Sheet1"), "file": "no_header.xlsx", "sheet": "Sheet1",
        "has_header": False,
        "columns": [["column_1", "BIGINT"], ["column_2", "DOUBLE"], ["column_3", "VARCHAR"]],
        "rows": len(rows),
        "checks": [
            ["sum(column_1)", str(sum(r[0] for r in rows))],
            ["round(sum(column_2), 2)", rounded(exact_sum(r[1] for r in rows))],
            ["max(column_3)", max(r[2] for r in rows)],
        ],
    }]


# ---------------------------------------------------------------- mixed.xlsx

def mixed():
    codes = [1001, "A-17", 1003, "B-2", 1005, 1006, "C-404", 1008, "X", 1010, 1011, "Z-9"]
    whens = [dt.date(2024, 1, 3) + dt.timedelta(days=9 * i) for i in range(12)]  # days > 12 occur
    shipped = [dt.date(2024, 1, 5) + dt.timedelta(days=9 * i + 2) for i in range(12)]
    ratios = [round(0.05 * (i + 1) + 0.003 * i, 3) for i in range(12)]
    ratios[4] = "#DIV/0!"  # openpyxl writes a string from ERROR_CODES as an error cell (t="e")
    rows = [(i + 1, codes[i], whens[i].strftime("%d.%m.%Y"), shipped[i].isoformat(), ratios[i])
            for i in range(12)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    write_rows(ws, ["id", "code", "when", "shipped", "ratio"], rows)
    assert ws.cell(row=6, column=5).data_type == "e"
    for r in range(2, 14):  # the text dates really are text cells
        assert ws.cell(row=r, column=3).data_type == "s" and ws.cell(row=r, column=4).data_type == "s"
    save_deterministic(wb, os.path.join(OUT, "mixed.xlsx"))
    numbers = [v for v in ratios if not isinstance(v, str)]
    return [{
        "table": table_name("mixed", "Data"), "file": "mixed.xlsx", "sheet": "Data",
        "has_header": True,
        "columns": [["id", "BIGINT"], ["code", "VARCHAR"], ["when", "DATE"], ["shipped", "DATE"],
                    ["ratio", "DOUBLE"]],
        "rows": len(rows),
        "checks": [
            ["min(code)", min(str(c) for c in codes)],
            ['min("when")', min(whens).isoformat()],
            ["max(shipped)", max(shipped).isoformat()],
            ["count(ratio)", str(len(numbers))],
        ],
    }]


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = []
    for make in (crm_export, finance, no_header, mixed):
        expected.extend(make())
    expected.sort(key=lambda t: t["table"])
    path = os.path.join(OUT, "expected.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {OUT}: 4 workbooks, {len(expected)} tables (openpyxl {openpyxl.__version__})")


if __name__ == "__main__":
    main()
