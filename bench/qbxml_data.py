"""Generated qbXML responses shaped like QuickBooks Desktop's, for the parsing and SOAP benchmarks.

Fields and their order follow real CustomerRet/InvoiceRet answers (see the captured samples);
values vary per record and include escaped text, so nothing is cached by accident.
"""

from __future__ import annotations

import io

_RS = (
    '<{tag} requestID="{rid}" statusCode="0" statusSeverity="Info" statusMessage="Status OK" '
    'retCount="{count}" iteratorRemainingCount="0" '
    'iteratorID="{{2F6B1A2C-5E4D-4C3B-9A8F-{n:012d}}}">'
)


def _document(tag: str, count: int, body: io.StringIO) -> bytes:
    head = '<?xml version="1.0" ?>\n<QBXML>\n<QBXMLMsgsRs>\n'
    rs = _RS.format(tag=tag, rid="bench", count=count, n=count)
    return (head + rs + "\n" + body.getvalue() + f"</{tag}>\n</QBXMLMsgsRs>\n</QBXML>\n").encode()


def customers_response(count: int) -> bytes:
    """A CustomerQueryRs with ``count`` customers (about 1 KB each)."""
    out = io.StringIO()
    for n in range(count):
        out.write(
            "<CustomerRet>\n"
            f"<ListID>{0x80000000 + n:X}-1700000{n % 1000:03d}</ListID>\n"
            f"<TimeCreated>2023-0{1 + n % 9}-1{n % 10}T09:{n % 60:02d}:15-05:00</TimeCreated>\n"
            f"<TimeModified>2024-0{1 + n % 9}-2{n % 10}T16:{n % 60:02d}:45-05:00</TimeModified>\n"
            f"<EditSequence>17{n:08d}</EditSequence>\n"
            f"<Name>Customer {n} &amp; Sons</Name>\n"
            f"<FullName>Customer {n} &amp; Sons</FullName>\n"
            "<IsActive>true</IsActive>\n"
            "<Sublevel>0</Sublevel>\n"
            f"<CompanyName>Customer {n} &amp; Sons Ltd</CompanyName>\n"
            f"<FirstName>Zoë{n}</FirstName>\n"
            f"<LastName>Smith-{n}</LastName>\n"
            "<BillAddress>\n"
            f"<Addr1>{n} Main Street</Addr1>\n<City>Austin</City>\n<State>TX</State>\n"
            f"<PostalCode>787{n % 100:02d}</PostalCode>\n<Country>US</Country>\n"
            "</BillAddress>\n"
            "<BillAddressBlock>\n"
            f"<Addr1>{n} Main Street</Addr1>\n<Addr2>Austin, TX 787{n % 100:02d}</Addr2>\n"
            "</BillAddressBlock>\n"
            f"<Phone>512-555-{n % 10000:04d}</Phone>\n"
            f"<Email>customer{n}@example.com</Email>\n"
            f"<Contact>Zoë{n} Smith-{n}</Contact>\n"
            "<TermsRef>\n<ListID>80000002-1699999001</ListID>\n<FullName>Net 30</FullName>\n"
            "</TermsRef>\n"
            f"<Balance>{n % 5000}.{n % 100:02d}</Balance>\n"
            f"<TotalBalance>{n % 5000}.{n % 100:02d}</TotalBalance>\n"
            "<SalesTaxCodeRef>\n<ListID>80000001-1699999000</ListID>\n<FullName>Tax</FullName>\n"
            "</SalesTaxCodeRef>\n"
            "<JobStatus>None</JobStatus>\n"
            "<PreferredDeliveryMethod>Email</PreferredDeliveryMethod>\n"
            "<DataExtRet>\n<OwnerID>0</OwnerID>\n<DataExtName>Region</DataExtName>\n"
            f"<DataExtType>STR255TYPE</DataExtType>\n<DataExtValue>Region {n % 7}</DataExtValue>\n"
            "</DataExtRet>\n"
            "</CustomerRet>\n"
        )
    return _document("CustomerQueryRs", count, out)


def _invoice_line(n: int, k: int) -> str:
    qty = 1 + (n + k) % 9
    return (
        "<InvoiceLineRet>\n"
        f"<TxnLineID>{n:X}-{k}-1700000000</TxnLineID>\n"
        f"<ItemRef>\n<ListID>8000{k:04X}-1699999100</ListID>\n<FullName>Item {k} &lt;std&gt;"
        "</FullName>\n</ItemRef>\n"
        f"<Desc>Line {k} of invoice {n}: parts &amp; labour</Desc>\n"
        f"<Quantity>{qty}</Quantity>\n"
        f"<Rate>{10 + k}.50</Rate>\n"
        f"<Amount>{qty * (10 + k)}.{qty * 5 % 10}0</Amount>\n"
        "<SalesTaxCodeRef>\n<ListID>80000001-1699999000</ListID>\n<FullName>Tax</FullName>\n"
        "</SalesTaxCodeRef>\n"
        "</InvoiceLineRet>\n"
    )


def invoices_response(count: int, lines: int = 5) -> bytes:
    """An InvoiceQueryRs with ``count`` invoices of ``lines`` lines each."""
    out = io.StringIO()
    for n in range(count):
        out.write(
            "<InvoiceRet>\n"
            f"<TxnID>{n + 0x100:X}-1700000{n % 1000:03d}</TxnID>\n"
            f"<TimeCreated>2024-0{1 + n % 9}-1{n % 10}T09:{n % 60:02d}:15-05:00</TimeCreated>\n"
            f"<TimeModified>2024-0{1 + n % 9}-2{n % 10}T16:{n % 60:02d}:45-05:00</TimeModified>\n"
            f"<EditSequence>17{n:08d}</EditSequence>\n"
            f"<TxnNumber>{n + 1}</TxnNumber>\n"
            f"<CustomerRef>\n<ListID>{0x80000000 + n % 997:X}-1700000000</ListID>\n"
            f"<FullName>Customer {n % 997} &amp; Sons</FullName>\n</CustomerRef>\n"
            "<ARAccountRef>\n<ListID>8000001D-1699999002</ListID>\n"
            "<FullName>Accounts Receivable</FullName>\n</ARAccountRef>\n"
            "<TemplateRef>\n<ListID>80000003-1699999003</ListID>\n"
            "<FullName>Intuit Product Invoice</FullName>\n</TemplateRef>\n"
            f"<TxnDate>2024-0{1 + n % 9}-1{n % 10}</TxnDate>\n"
            f"<RefNumber>INV-{n}</RefNumber>\n"
            "<BillAddress>\n"
            f"<Addr1>{n} Main Street</Addr1>\n<City>Austin</City>\n<State>TX</State>\n"
            "<PostalCode>78701</PostalCode>\n</BillAddress>\n"
            "<IsPending>false</IsPending>\n<IsFinanceCharge>false</IsFinanceCharge>\n"
            "<TermsRef>\n<ListID>80000002-1699999001</ListID>\n<FullName>Net 30</FullName>\n"
            "</TermsRef>\n"
            f"<DueDate>2024-1{n % 3}-0{1 + n % 9}</DueDate>\n"
            f"<Subtotal>{100 + n % 900}.00</Subtotal>\n"
            "<SalesTaxPercentage>8.25</SalesTaxPercentage>\n"
            f"<SalesTaxTotal>{(100 + n % 900) * 825 // 10000}.00</SalesTaxTotal>\n"
            "<AppliedAmount>0.00</AppliedAmount>\n"
            f"<BalanceRemaining>{100 + n % 900}.00</BalanceRemaining>\n"
            f"<Memo>Order {n} &amp; delivery</Memo>\n"
            f"<IsPaid>{'true' if n % 3 == 0 else 'false'}</IsPaid>\n"
            "<IsToBePrinted>false</IsToBePrinted>\n<IsToBeEmailed>true</IsToBeEmailed>\n"
            + "".join(_invoice_line(n, k) for k in range(lines))
            + "</InvoiceRet>\n"
        )
    return _document("InvoiceQueryRs", count, out)
