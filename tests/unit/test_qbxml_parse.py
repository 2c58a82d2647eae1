"""parse_response on real captured responses, on malformed input, and as a stream."""

from __future__ import annotations

import gc
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from qbxml import (
    Customer,
    GenericRecord,
    Invoice,
    Item,
    ListDeleted,
    QbxmlError,
    ReceivePayment,
    Response,
    SalesOrder,
    StatusClass,
    Terms,
    TxnDeleted,
    classify,
    is_success,
    iter_responses,
    parse_response,
    stream_response,
    to_dict,
)
from qbxml.parser import CHUNK_SIZE
from tests.unit.qbxml_support import samples_or_skip, soap_response_text

MINUS_2 = timezone(timedelta(hours=-2))

# --- real captured responses (see ../shared/reference/samples/README.md) -------------------------


def test_real_customer_add_batch_with_mixed_statuses() -> None:
    samples = samples_or_skip()
    rs = parse_response((samples / "hotglue/customer-batch-mixed.response.xml").read_bytes())
    summary = [(r.request_type, r.request_id, r.status_code, r.status_class) for r in rs.responses]
    assert summary == [
        ("CustomerAdd", "ext-mix-1", 0, StatusClass.OK),
        ("CustomerAdd", "ext-mix-2", 3100, StatusClass.NAME_IN_USE),
        ("CustomerAdd", "ext-mix-3", 3250, StatusClass.ERROR),
        ("CustomerAdd", "ext-mix-4", 3130, StatusClass.INVALID_REFERENCE),
        ("CustomerAdd", "ext-mix-5", 0, StatusClass.OK),
    ]
    assert 'name "HG-BATCH-MIX-1785964184-1"' in rs.responses[1].status_message
    first = rs.responses[0].records[0]
    assert isinstance(first, Customer)
    assert first.list_id == first.source_id == "8000274C-1785964190"
    assert first.edit_sequence == "1785964190"
    # QuickBooks sent CompanyName after Sublevel here, out of schema order: still read.
    assert (first.name, first.company_name, first.sublevel) == (
        "HG-BATCH-MIX-1785964184-1",
        "Valid first",
        0,
    )
    assert first.time_created == datetime(
        2026, 8, 5, 16, 43, 30, tzinfo=timezone(-timedelta(hours=4))
    )
    assert first.balance == Decimal("0.00") and first.is_active is True
    assert [len(r.records) for r in rs.responses] == [1, 0, 0, 0, 1]
    as_json = to_dict(first)
    assert as_json["entity"] == "Customer" and as_json["balance"] == "0.00"
    assert as_json["time_created"] == "2026-08-05T16:43:30-04:00"
    assert "class" in as_json and "class_" not in as_json  # ClassRef -> "class"


def test_real_customer_add_batch_all_valid() -> None:
    samples = samples_or_skip()
    rs = parse_response((samples / "hotglue/customer-batch-valid.response.xml").read_bytes())
    assert [r.request_id for r in rs.responses] == [f"ext-ok-{n}" for n in range(1, 6)]
    records = [r.records[0] for r in rs.responses]
    assert all(isinstance(c, Customer) for c in records)
    assert records[0].time_modified.utcoffset() == timedelta(hours=-4)
    # The fixture trims the later records to a few fields; absent ones stay None.
    assert records[1].time_modified is None and records[1].company_name.endswith(" 2")
    assert len({c.list_id for c in records}) == 5


def test_real_account_add_is_kept_as_a_generic_record() -> None:
    samples = samples_or_skip()
    (rs,) = parse_response((samples / "hotglue/account-add.response.xml").read_bytes()).responses
    assert rs.request_id is None  # QuickBooks echoes an empty requestID when none was sent
    (account,) = rs.records
    assert isinstance(account, GenericRecord)
    assert (account.entity, account.source_id) == ("Account", "80000035-1785958998")
    assert account.fields["CurrencyRef"] == {
        "ListID": "80000096-1709842673",
        "FullName": "US Dollar",
    }
    assert to_dict(account)["entity"] == "Account"


def test_real_invoice_add_response() -> None:
    samples = samples_or_skip()
    text = soap_response_text(samples / "flowlink/invoice_add_rs.xml")
    (rs,) = parse_response(text).responses
    (invoice,) = rs.records
    assert isinstance(invoice, Invoice) and invoice.entity == "Invoice"
    assert invoice.source_id == invoice.txn_id == "C5-1417118624"
    assert invoice.txn_number == 64
    assert invoice.customer.list_id == "80000013-1416570432"
    assert invoice.customer.full_name == "spree@example.com"
    assert invoice.ar_account.full_name == "Accounts Receivable"
    assert invoice.template.full_name == "Intuit Service Invoice"
    assert invoice.txn_date == date(2014, 2, 3) and invoice.ref_number == "R1TT46883"
    assert invoice.time_created == datetime(2014, 11, 27, 18, 3, 44, tzinfo=MINUS_2)
    assert invoice.bill_address.city == "Hollywood" and invoice.bill_address.country == "USA"
    assert invoice.subtotal == Decimal("206.00")
    assert invoice.is_to_be_printed is True and invoice.is_to_be_emailed is False
    (line,) = invoice.lines
    assert line.txn_line_id == "C7-1417118624"
    assert line.item.full_name == "SPREE-T-SHIRT"
    assert (line.quantity, line.rate, line.amount) == (
        Decimal(2),
        Decimal("103.00"),
        Decimal("206.00"),
    )
    assert line.sales_tax_code.full_name == "Non"
    assert line.group_line_id is None and invoice.line_groups == []


def test_real_receive_payment_add_response() -> None:
    samples = samples_or_skip()
    text = soap_response_text(samples / "flowlink/receive_payment_add_rs.xml")
    (rs,) = parse_response(text).responses
    assert rs.request_id == "0bb737ee-2862-4ab7-8d35-f551f84793c9"
    (payment,) = rs.records
    assert isinstance(payment, ReceivePayment) and payment.entity == "ReceivePayment"
    assert payment.customer.full_name == "spree@example.com"
    assert payment.txn_date == date(2014, 3, 2)
    assert payment.total_amount == Decimal("210.00") == payment.unused_payment
    assert payment.payment_method.full_name == "Check"
    assert payment.deposit_to_account.full_name == "Undeposited Funds"
    assert payment.applied_to_txns == []


def test_real_sales_order_add_batch_with_empty_queries_and_an_error() -> None:
    samples = samples_or_skip()
    text = soap_response_text(samples / "flowlink/sales_order_add_rs_raw.xml")
    responses = parse_response(text).responses
    assert [(r.request_type, r.status_code) for r in responses] == [
        ("ItemInventoryQuery", 1),
        ("ItemInventoryQuery", 1),
        ("SalesOrderAdd", 0),
        ("SalesOrderAdd", 3140),
    ]
    assert responses[0].status_class is StatusClass.EMPTY and is_success(1)
    assert responses[3].status_class is StatusClass.INVALID_REFERENCE
    (order,) = responses[2].records
    assert isinstance(order, SalesOrder) and order.entity == "SalesOrder"
    assert order.po_number == "R15408534641" and order.subtotal == Decimal("200.00")
    assert (order.lines[0].desc, order.lines[0].quantity, order.lines[0].rate) == (
        "SPREE-T-SHIRT",
        Decimal(2),
        Decimal("100.00"),
    )


def test_real_item_inventory_query_response() -> None:
    samples = samples_or_skip()
    text = soap_response_text(samples / "flowlink/item_inventory_query_rs_raw.xml")
    (rs,) = parse_response(text).responses
    assert rs.status_code == 0 and len(rs.records) == 16
    items = rs.records
    assert all(isinstance(i, Item) and i.item_type == "Inventory" for i in items)
    shirt = next(i for i in items if i.name == "Haskell T-Shirt")
    assert shirt.sales_desc == "WOW" and shirt.sales_price == Decimal("55.00")
    assert shirt.purchase_cost == Decimal("4.00") and shirt.quantity_on_hand == Decimal(300)
    assert shirt.asset_account.full_name == "Inventory Asset"
    assert to_dict(shirt)["item_type"] == "Inventory"


BAD_SAMPLES = [
    "flowlink/item_query_rs.xml",
    "flowlink/item_inventory_query_rs.xml",
    "flowlink/item_inventory_query_rs_empty.xml",
    "flowlink/item_inventory_query_rs_multiple.xml",
    "flowlink/sales_order_add_rs.xml",
    "flowlink/item_inventory_add_rs.xml",
    "flowlink/sales_order_add_rs_invalid_record_ref.xml",
    "flowlink/sales_order_query_rs.xml",
    "flowlink/invoice_add_rq.xml",
]


@pytest.mark.parametrize("name", BAD_SAMPLES)
def test_hand_edited_and_non_response_samples_raise_the_library_error(name: str) -> None:
    samples = samples_or_skip()
    with pytest.raises(QbxmlError):
        parse_response((samples / name).read_bytes())


# --- malformed input -------------------------------------------------------------------------

RS = '<CustomerQueryRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="OK">'


def wrap(body: str) -> str:
    return f'<?xml version="1.0" ?><QBXML><QBXMLMsgsRs>{body}</QBXMLMsgsRs></QBXML>'


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("<QBXML>", "not well-formed"),
        ("<NotQB/>", "root is <NotQB>"),
        ("<QBXML><Other/></QBXML>", "holds no <QBXMLMsgsRs>"),
        ("<QBXML><X><QBXMLMsgsRs/></X></QBXML>", "directly under <QBXML>"),
        ("<QBXML><QBXMLMsgsRs/><QBXMLMsgsRs/></QBXML>", "must appear once"),
        (wrap("<CustomerQueryRs/>"), "has no statusCode"),
        (wrap('<Customer statusCode="0"/>'), "not a response element"),
        (wrap('<CustomerQueryRs statusCode="x"/>'), "non-integer statusCode"),
        (wrap('<CustomerQueryRs statusCode="0" retCount="many"/>'), "non-integer retCount"),
        (wrap(f"{RS}<CustomerRet><Name>n</Name></CustomerRet></CustomerQueryRs>"), "no ListID"),
        (
            wrap(
                f"{RS}<CustomerRet><ListID>1</ListID><Balance>1,5</Balance></CustomerRet>"
                "</CustomerQueryRs>"
            ),
            r"<Balance> is not a qbXML number: '1,5'",
        ),
        (
            wrap(
                f"{RS}<CustomerRet><ListID>1</ListID><IsActive>yes</IsActive></CustomerRet>"
                "</CustomerQueryRs>"
            ),
            "<IsActive> is not a qbXML boolean",
        ),
        (
            wrap(
                f"{RS}<CustomerRet><ListID>1</ListID><TimeModified>noon</TimeModified>"
                "</CustomerRet></CustomerQueryRs>"
            ),
            "<TimeModified> is not a qbXML datetime",
        ),
        ('<!DOCTYPE x [<!ENTITY a "b">]><QBXML/>', "DOCTYPE"),
        ("<?xml version='1.0'?><!DOCTYPE QBXML SYSTEM 'http://x/'><QBXML/>", "DOCTYPE"),
        # A prolog scan stopped at the "<a" in the comment and never saw the DOCTYPE.
        ('<!-- <a> --><!DOCTYPE QBXML [<!ENTITY a "b">]><QBXML><QBXMLMsgsRs/></QBXML>', "DOCTYPE"),
        ("<?pi <b>?><!DOCTYPE QBXML><QBXML><QBXMLMsgsRs/></QBXML>", "DOCTYPE"),
        ("<!DOCTYPE other><other/>", "DOCTYPE"),
        (wrap(RS), "not well-formed"),
    ],
)
def test_malformed_qbxml_raises_one_clear_error(bad: str, message: str) -> None:
    with pytest.raises(QbxmlError, match=message):
        parse_response(bad)


def test_a_doctype_inside_a_comment_is_no_dtd() -> None:
    doc = wrap(
        f"{RS}<!-- <!DOCTYPE x> --><CustomerRet><ListID>1</ListID></CustomerRet></CustomerQueryRs>"
    )
    assert parse_response(doc).responses[0].records[0].source_id == "1"


def test_str_input_with_a_foreign_encoding_declaration() -> None:
    text = wrap(
        f"{RS}<CustomerRet><ListID>1</ListID><Name>Café</Name></CustomerRet></CustomerQueryRs>"
    )
    text = text.replace('version="1.0" ?', 'version="1.0" encoding="ISO-8859-1" ?')
    assert parse_response(text).responses[0].records[0].name == "Café"
    assert parse_response(text.encode("latin-1")).responses[0].records[0].name == "Café"


# --- streaming --------------------------------------------------------------------------------


def customer_xml(n: int) -> str:
    return (
        f"<CustomerRet><ListID>{n}-1</ListID><EditSequence>{n}</EditSequence>"
        f"<Name>Customer {n} &amp; Sons</Name><Notes>{'x' * (n % 300)}</Notes></CustomerRet>"
    )


def test_records_split_across_chunks_all_arrive_in_order() -> None:
    count = 3000
    body = "".join(customer_xml(n) for n in range(count))
    doc = wrap(f"{RS}{body}</CustomerQueryRs>").encode()
    assert len(doc) > 8 * CHUNK_SIZE
    (rs,) = parse_response(doc).responses
    assert [c.list_id for c in rs.records] == [f"{n}-1" for n in range(count)]
    assert rs.records[1234].notes == "x" * (1234 % 300)


def test_stream_yields_headers_then_records_and_keeps_nothing() -> None:
    doc = wrap(
        '<InvoiceQueryRs requestID="a" statusCode="1" statusSeverity="Info" statusMessage="none"/>'
        f"{RS}{customer_xml(1)}{customer_xml(2)}</CustomerQueryRs>"
        '<AccountQueryRs requestID="b" statusCode="0" statusSeverity="Info" statusMessage="OK">'
        "<AccountRet><ListID>A1</ListID><Name>Bank</Name></AccountRet></AccountQueryRs>"
        '<ListDeletedQueryRs requestID="c" statusCode="0" statusSeverity="Info" statusMessage="OK">'
        "<ListDeletedRet><ListDelType>Customer</ListDelType><ListID>9-1</ListID>"
        "<TimeCreated>2024-01-01T00:00:00-05:00</TimeCreated>"
        "<TimeDeleted>2024-02-01T00:00:00-05:00</TimeDeleted><FullName>Gone</FullName>"
        "</ListDeletedRet></ListDeletedQueryRs>"
    )
    items = list(stream_response(doc))
    kinds = [type(i).__name__ if not isinstance(i, Response) else i.request_type for i in items]
    assert kinds == [
        *("InvoiceQuery", "CustomerQuery", "Customer", "Customer", "AccountQuery"),
        *("GenericRecord", "ListDeletedQuery", "ListDeleted"),
    ]
    assert all(i.records == [] for i in items if isinstance(i, Response))
    deleted = items[-1]
    assert isinstance(deleted, ListDeleted)
    assert (deleted.entity, deleted.source_id, deleted.list_del_type) == (
        "ListDeleted",
        "9-1",
        "Customer",
    )
    assert deleted.time_deleted.utcoffset() == timedelta(hours=-5)
    grouped = list(iter_responses(doc))
    assert [len(r.records) for r in grouped] == [0, 2, 1, 1]
    assert gc.isenabled()
    parse_response(doc)
    assert gc.isenabled()  # parse_response pauses the cyclic collector only while it runs


def test_unknown_and_known_records_in_one_response_keep_their_order() -> None:
    doc = wrap(
        '<ItemQueryRs requestID="i" statusCode="0" statusSeverity="Info" statusMessage="OK">'
        "<ItemServiceRet><ListID>S1</ListID><Name>Labor</Name><SalesOrPurchase><Desc>Hourly"
        "</Desc><Price>95.50</Price><AccountRef><FullName>Income</FullName></AccountRef>"
        "</SalesOrPurchase></ItemServiceRet>"
        "<ItemFancyNewRet><ListID>F1</ListID></ItemFancyNewRet>"
        "<ItemGroupRet><ListID>G1</ListID><Name>Kit</Name><ItemDesc>Kit of parts</ItemDesc>"
        "<IsActive>false</IsActive></ItemGroupRet></ItemQueryRs>"
    )
    (rs,) = parse_response(doc).responses
    service, fancy, group = rs.records
    assert (service.item_type, service.desc, service.price) == (
        "Service",
        "Hourly",
        Decimal("95.50"),
    )
    assert service.account.full_name == "Income" and service.sales_price is None
    assert isinstance(fancy, GenericRecord) and fancy.source_id == "F1"
    assert (group.item_type, group.item_desc, group.is_active) == ("Group", "Kit of parts", False)


def test_terms_and_txn_deleted_records() -> None:
    doc = wrap(
        '<TermsQueryRs requestID="t" statusCode="0" statusSeverity="Info" statusMessage="OK">'
        "<StandardTermsRet><ListID>T1</ListID><Name>Net 30</Name><IsActive>true</IsActive>"
        "<StdDueDays>30</StdDueDays><StdDiscountDays>10</StdDiscountDays>"
        "<DiscountPct>2.0</DiscountPct></StandardTermsRet>"
        "<DateDrivenTermsRet><ListID>T2</ListID><Name>15th</Name><DayOfMonthDue>15</DayOfMonthDue>"
        "</DateDrivenTermsRet></TermsQueryRs>"
        '<TxnDeletedQueryRs requestID="d" statusCode="0" statusSeverity="Info" statusMessage="OK">'
        "<TxnDeletedRet><TxnDelType>Invoice</TxnDelType><TxnID>7-7</TxnID>"
        "<TimeCreated>2024-01-01T00:00:00+01:00</TimeCreated>"
        "<TimeDeleted>2024-01-02T00:00:00+01:00</TimeDeleted><RefNumber>INV 7</RefNumber>"
        "</TxnDeletedRet></TxnDeletedQueryRs>"
    )
    terms, deleted = parse_response(doc).responses
    standard, dated = terms.records
    assert isinstance(standard, Terms) and standard.terms_type == "Standard"
    assert (standard.std_due_days, standard.discount_pct) == (30, Decimal("2.0"))
    assert (dated.terms_type, dated.day_of_month_due) == ("DateDriven", 15)
    (txn,) = deleted.records
    assert isinstance(txn, TxnDeleted)
    assert (txn.entity, txn.source_id, txn.txn_del_type, txn.ref_number) == (
        "TxnDeleted",
        "7-7",
        "Invoice",
        "INV 7",
    )
    assert to_dict(txn) == {
        "entity": "TxnDeleted",
        "txn_del_type": "Invoice",
        "txn_id": "7-7",
        "time_created": "2024-01-01T00:00:00+01:00",
        "time_deleted": "2024-01-02T00:00:00+01:00",
        "ref_number": "INV 7",
    }


def test_status_classes_cover_the_documented_codes() -> None:
    expected = {
        0: StatusClass.OK,
        1: StatusClass.EMPTY,
        20: StatusClass.INFO,
        500: StatusClass.WARNING,
        530: StatusClass.WARNING,
        999: StatusClass.WARNING,
        1000: StatusClass.ERROR,
        3100: StatusClass.NAME_IN_USE,
        3120: StatusClass.INVALID_REFERENCE,
        3130: StatusClass.INVALID_REFERENCE,
        3140: StatusClass.INVALID_REFERENCE,
        3170: StatusClass.RETRYABLE,
        3175: StatusClass.RETRYABLE,
        3176: StatusClass.RETRYABLE,
        3180: StatusClass.RETRYABLE,
        3200: StatusClass.STALE_EDIT_SEQUENCE,
        3231: StatusClass.ERROR,
        3391: StatusClass.STALE_ITERATOR,
    }
    assert {code: classify(code) for code in expected} == expected
    assert [c for c in expected if is_success(c)] == [0, 1, 20, 500, 530, 999]


def _rs(tag: str, body: str) -> str:
    head = f'<{tag} requestID="x" statusCode="0" statusSeverity="Info" statusMessage="OK">'
    return f"{head}{body}</{tag}>"


def test_every_sales_form_reads_its_own_lines_and_groups() -> None:
    line = (
        "<{p}LineRet><TxnLineID>{n}</TxnLineID><ItemRef><FullName>Part</FullName></ItemRef>"
        "<Quantity>2</Quantity><Rate>5.25</Rate><Amount>10.50</Amount></{p}LineRet>"
    )
    group = (
        "<{p}LineGroupRet><TxnLineID>G</TxnLineID><ItemGroupRef><FullName>Kit</FullName>"
        "</ItemGroupRef><IsPrintItemsInGroup>true</IsPrintItemsInGroup>"
        "<TotalAmount>10.50</TotalAmount>" + line.format(p="{p}", n="G1") + "</{p}LineGroupRet>"
    )
    docs = []
    for prefix, extra in [
        ("Estimate", "<TotalAmount>21.00</TotalAmount>"),
        ("SalesReceipt", "<CheckNumber>1001</CheckNumber><TotalAmount>21.00</TotalAmount>"),
        ("CreditMemo", "<TotalAmount>21.00</TotalAmount><CreditRemaining>21.00</CreditRemaining>"),
        ("SalesOrder", "<TotalAmount>21.00</TotalAmount><IsFullyInvoiced>false</IsFullyInvoiced>"),
    ]:
        body = (
            f"<{prefix}Ret><TxnID>{prefix}-1</TxnID><CustomerRef><ListID>C1</ListID></CustomerRef>"
            f"<TxnDate>2024-05-06</TxnDate>{extra}"
            + line.format(p=prefix, n="L1")
            + group.format(p=prefix)
            + f"</{prefix}Ret>"
        )
        docs.append(_rs(f"{prefix}QueryRs", body))
    responses = parse_response(wrap("".join(docs))).responses
    for rs in responses:
        (txn,) = rs.records
        assert txn.entity == rs.request_type.removesuffix("Query")
        assert txn.total_amount == Decimal("21.00") and txn.txn_date == date(2024, 5, 6)
        assert [(ln.txn_line_id, ln.group_line_id) for ln in txn.lines] == [
            ("L1", None),
            ("G1", "G"),
        ]
        assert sum(ln.amount for ln in txn.lines) == txn.total_amount
        (grp,) = txn.line_groups
        assert (grp.item_group.full_name, grp.total_amount) == ("Kit", Decimal("10.50"))
    assert responses[1].records[0].check_number == "1001"
    assert responses[2].records[0].credit_remaining == Decimal("21.00")
    assert responses[3].records[0].is_fully_invoiced is False


def test_vendor_sales_rep_and_class_records() -> None:
    doc = wrap(
        _rs(
            "VendorQueryRs",
            "<VendorRet><ListID>V1</ListID><Name>Acme</Name><IsActive>true</IsActive>"
            "<VendorAddress><Addr1>1 Road</Addr1><City>Reno</City></VendorAddress>"
            "<IsVendorEligibleFor1099>true</IsVendorEligibleFor1099><Balance>-3.00</Balance>"
            "<DataExtRet><OwnerID>0</OwnerID><DataExtName>Tier</DataExtName>"
            "<DataExtType>STR255TYPE</DataExtType><DataExtValue>Gold</DataExtValue></DataExtRet>"
            "</VendorRet>",
        )
        + _rs(
            "SalesRepQueryRs",
            "<SalesRepRet><ListID>R1</ListID><Initial>JS</Initial><IsActive>true</IsActive>"
            "<SalesRepEntityRef><ListID>E1</ListID><FullName>Jo Smith</FullName>"
            "</SalesRepEntityRef></SalesRepRet>",
        )
        + _rs(
            "ClassQueryRs",
            "<ClassRet><ListID>K2</ListID><Name>East</Name><FullName>Region:East</FullName>"
            "<IsActive>true</IsActive><ParentRef><ListID>K1</ListID><FullName>Region</FullName>"
            "</ParentRef><Sublevel>1</Sublevel></ClassRet>",
        )
    )
    vendor_rs, rep_rs, class_rs = parse_response(doc).responses
    (vendor,) = vendor_rs.records
    assert (vendor.entity, vendor.source_id, vendor.vendor_address.city) == ("Vendor", "V1", "Reno")
    assert vendor.is_vendor_eligible_for1099 is True and vendor.balance == Decimal("-3.00")
    assert vendor.custom_fields[0].value == "Gold"
    (rep,) = rep_rs.records
    assert (rep.entity, rep.initial, rep.sales_rep_entity.full_name) == (
        "SalesRep",
        "JS",
        "Jo Smith",
    )
    (klass,) = class_rs.records
    assert (klass.entity, klass.full_name, klass.parent.list_id, klass.sublevel) == (
        "Class",
        "Region:East",
        "K1",
        1,
    )


def test_absent_fields_are_none_and_empty_ones_are_empty_strings() -> None:
    doc = wrap(
        f"{RS}<CustomerRet><ListID>1</ListID><Name/><Notes></Notes><TermsRef><ListID>2</ListID>"
        "<FullName/></TermsRef></CustomerRet></CustomerQueryRs>"
    )
    (customer,) = parse_response(doc).responses[0].records
    assert (customer.name, customer.notes, customer.phone) == ("", "", None)
    assert (customer.terms.list_id, customer.terms.full_name) == ("2", "")
