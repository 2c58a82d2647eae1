"""The error catalogue: every error the relay names, what it means and what to do about it.

One entry per stable code. The README's "Error catalogue" section is generated from this list
(``python -m lambdas.ops.errors_doc``), so the two never drift; classification lives in
:mod:`lambdas.model.errors`. Facts: research/qbwc-anchors-and-protocol.md (QBWC codes, HRESULTs,
qbXML status codes), zoho-crm-api.md, quickbooks-online-api.md, commercial-qbd-integrations.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """One catalogue entry: a stable code, what it means, and what a person should do."""

    code: str
    title: str
    meaning: str
    user_message: str
    retryable: bool
    # Where the error is seen: "Web Connector", "QuickBooks", "ZOHO", "QuickBooks Online".
    seen_in: str

    @property
    def anchor(self) -> str:
        """The README anchor of the entry, e.g. ``err-qbwc1012``."""
        return "err-" + self.code.lower().replace("_", "-")

    @property
    def docs(self) -> str:
        """The documentation link of the entry (relative to the repository root)."""
        return f"README.md#{self.anchor}"


_RESYNC = "qbrelay resync --tenant NAME --entity ENTITY"
_REDRIVE = "qbrelay failures redrive --tenant NAME"

CATALOGUE: tuple[ErrorKind, ...] = (
    # --- the Web Connector (shown on the QuickBooks computer, never reported to the relay) ---
    ErrorKind(
        "QBWC1012",
        "Authentication failed",
        "The Web Connector could not call the relay's authenticate operation: the address in "
        "the .qwc file is unreachable, its TLS certificate is not trusted, or the answer was "
        "not a valid SOAP reply.",
        "On the QuickBooks computer, open the .qwc file's AppSupport address in a browser. If "
        "it does not load, check the deployment and the certificate; if it loads, generate the "
        "tenant's .qwc again (qbrelay qwc) and add it to the Web Connector again.",
        False,
        "Web Connector",
    ),
    ErrorKind(
        "QBWC1039",
        "Unique OwnerID/FileID pair value required",
        "The Web Connector already holds an application with this .qwc file's OwnerID and "
        "FileID (the application was added before, perhaps for another tenant).",
        "Remove the old entry for this application from the Web Connector, then add the .qwc "
        "again. If the company file belongs to another tenant, give it its own tenant and .qwc "
        "(qbrelay tenant add).",
        False,
        "Web Connector",
    ),
    ErrorKind(
        "QBWC1085",
        "The Web Connector's log file could not be written",
        "The Web Connector could not use its log file (QWCLog.txt); it carries on without a "
        "log, so later problems leave no trace on the QuickBooks computer.",
        "Close the Web Connector, rename or delete QWCLog.txt in the Web Connector's log folder "
        r"(usually C:\ProgramData\Intuit\QBWebConnector\log), then start the Web Connector again.",
        False,
        "Web Connector",
    ),
    # --- QuickBooks could not be reached (HRESULTs in connectionError / receiveResponseXML) ---
    ErrorKind(
        "HRESULT_0x80040400",
        "QuickBooks could not parse the request",
        "QuickBooks found an error when parsing the qbXML the relay sent (element order, an "
        "element this edition lacks, or characters it cannot take).",
        "Nothing is lost: the next run asks again. If it repeats, set the Web Connector's log "
        "level to verbose, run once more and report the error with QWCLog.txt and the output "
        "of qbrelay status --tenant NAME.",
        False,
        "QuickBooks",
    ),
    ErrorKind(
        "HRESULT_0x80040408",
        "Could not start QuickBooks",
        "The Web Connector could not start QuickBooks on the computer it runs on.",
        "On the QuickBooks computer, start QuickBooks once by hand and open the company file. "
        "For unattended runs, allow the application access even when QuickBooks is not "
        "running, and keep the Windows user signed in (not logged out or asleep).",
        True,
        "QuickBooks",
    ),
    ErrorKind(
        "HRESULT_0x80040410",
        "The company file is open in another mode",
        "The company file is open in a mode other than the one requested (single-user versus "
        "multi-user), usually by someone on another workstation.",
        "Switch the company file to multi-user mode (File > Switch to Multi-user Mode) or "
        "close it on the other workstation; the next run then goes through.",
        True,
        "QuickBooks",
    ),
    ErrorKind(
        "HRESULT_0x80040420",
        "The QuickBooks user has denied access",
        "QuickBooks refused this application: it was never allowed access to the company file, "
        "or the permission was withdrawn.",
        "Sign in to QuickBooks as the Admin, open Edit > Preferences > Integrated Applications "
        "> Company Preferences, allow this application (with unattended access and the login "
        "user it should use), then run the Web Connector again.",
        False,
        "QuickBooks",
    ),
    ErrorKind(
        "QB_MODAL_DIALOG",
        "A dialog is blocking QuickBooks",
        "A modal dialog is open in QuickBooks (an update offer, a backup reminder, a login or "
        "a message box), so QuickBooks cannot answer until someone closes it (HRESULT "
        "0x80040414).",
        "Close the dialog on the QuickBooks computer. For unattended runs, turn off what pops "
        "up: automatic update prompts, backup reminders, and the login prompt (allow "
        "unattended access for this application).",
        True,
        "QuickBooks",
    ),
    ErrorKind(
        "QB_WRONG_COMPANY_FILE",
        "The wrong company file is open",
        "QuickBooks has a different company file open than the one this tenant needs (HRESULT "
        "0x8004040A), or the open file carries another tenant's FileID. Nothing was synced, "
        "so these books cannot reach the wrong CRM.",
        "Close the other company file and open the tenant's own, or set the file the Web "
        "Connector should open (qbrelay tenant set NAME --company-file PATH). A second company "
        "needs its own tenant and .qwc.",
        False,
        "QuickBooks",
    ),
    ErrorKind(
        "QB_CONNECTION",
        "QuickBooks could not be reached",
        "The Web Connector reported another HRESULT while opening QuickBooks or sending it a "
        "request.",
        "Check that QuickBooks is installed and starts, that the company file exists, and that "
        "this application is allowed to access it; the next run tries again.",
        True,
        "QuickBooks",
    ),
    ErrorKind(
        "QB_VERSION_UNSUPPORTED",
        "QuickBooks is too old",
        "QuickBooks offers no qbXML version the relay speaks (it needs qbXML 5.0, QuickBooks "
        "2006, or newer).",
        "Update QuickBooks on the computer the Web Connector runs on.",
        False,
        "QuickBooks",
    ),
    # --- qbXML status codes (QuickBooks answered, but refused part of the request) ---
    ErrorKind(
        "QBXML_3100",
        "The name is already in use",
        "QuickBooks refused to add a list element whose name another element has. The relay "
        "only adds its own identity stamp, where this answer means the stamp exists already.",
        "Nothing to do for the relay's stamp. For any other record, rename the duplicate in "
        "QuickBooks.",
        False,
        "QuickBooks",
    ),
    ErrorKind(
        "QBXML_3120",
        "The record cannot be found",
        "A record the request names does not exist in QuickBooks (deleted or merged since it "
        "was read). A re-read of a deleted record counts as empty; its deletion is synced.",
        f"Usually nothing: the deletion reaches ZOHO by itself. If it repeats, re-read the "
        f"entity whole: {_RESYNC}.",
        False,
        "QuickBooks",
    ),
    ErrorKind(
        "QBXML_3140",
        "Invalid reference",
        "The request refers to a list element QuickBooks does not know (an account, class or "
        "customer removed or renamed).",
        f"Check that the referenced record still exists in QuickBooks, then re-read the entity: "
        f"{_RESYNC}.",
        False,
        "QuickBooks",
    ),
    ErrorKind(
        "QBXML_3170",
        "The record is in use or locked (3170-3180)",
        "QuickBooks could not save or read the record because another user is modifying it or "
        "it is locked (codes 3170, 3175, 3176 and 3180).",
        "Nothing to do: the relay retries. If it keeps happening, schedule the Web Connector "
        "for hours when nobody edits the books.",
        True,
        "QuickBooks",
    ),
    ErrorKind(
        "QBXML_3200",
        "The record changed meanwhile (stale EditSequence)",
        "The record changed in QuickBooks after it was read, so a change sent with the old "
        "EditSequence was refused.",
        "Nothing to do: the relay reads the record again and goes on.",
        True,
        "QuickBooks",
    ),
    ErrorKind(
        "QBXML_3250",
        "Feature not enabled in this company file",
        "The feature is not enabled, or not available in this edition of QuickBooks (for "
        "example sales orders in QuickBooks Pro, or estimates switched off). The relay skips "
        "the entity.",
        "Enable the feature in QuickBooks (Edit > Preferences) if you need it synced, or stop "
        "asking for the entity (qbrelay tenant set NAME --entities ...).",
        False,
        "QuickBooks",
    ),
    ErrorKind(
        "QBXML_3391",
        "The query's iterator expired",
        "QuickBooks no longer knows the iterator of a paged query (too long between pages, or "
        "QuickBooks restarted).",
        "Nothing to do: the relay restarts the query from its watermark.",
        True,
        "QuickBooks",
    ),
    ErrorKind(
        "QBXML_ERROR",
        "QuickBooks refused the request",
        "QuickBooks answered with another error status code.",
        f"Read QuickBooks' message in qbrelay status --tenant NAME; once the cause is fixed, "
        f"re-read the entity: {_RESYNC}.",
        False,
        "QuickBooks",
    ),
    # --- ZOHO CRM ---
    ErrorKind(
        "ZOHO_INVALID_TOKEN",
        "ZOHO rejected the access token",
        "ZOHO answered INVALID_TOKEN even to a freshly refreshed token: the credentials were "
        "revoked or belong to another ZOHO data centre.",
        "Check the tenant's data centre and store new credentials: qbrelay zoho "
        "set-credentials --tenant NAME --data-centre DC --client-id ID (secret and refresh "
        "token on standard input); qbrelay zoho check verifies them.",
        False,
        "ZOHO",
    ),
    ErrorKind(
        "ZOHO_OAUTH_SCOPE_MISMATCH",
        "The ZOHO token lacks a scope",
        "The refresh token was created without a scope the relay needs.",
        "Create a new refresh token in the ZOHO API console with ZohoCRM.modules.ALL, "
        "ZohoCRM.settings.modules.READ and ZohoCRM.settings.fields.READ (and "
        "ZohoCRM.coql.READ for audits), store it with qbrelay zoho set-credentials, then "
        f"{_REDRIVE}.",
        False,
        "ZOHO",
    ),
    ErrorKind(
        "ZOHO_CREDITS_EXHAUSTED",
        "ZOHO API credits used up",
        "ZOHO refused calls with 429 TOO_MANY_REQUESTS because the organisation spent its API "
        "credits for the rolling 24 hours. Forwarding pauses for the tenant.",
        "Nothing is lost: forwarding resumes by itself once credits return. To avoid it, sync "
        "less often, run audits less often, or buy add-on credits in ZOHO.",
        True,
        "ZOHO",
    ),
    ErrorKind(
        "ZOHO_MANDATORY_NOT_FOUND",
        "A field ZOHO requires is empty",
        "ZOHO refused the record because a mandatory field (named in the message) has no value.",
        "Fill the field in QuickBooks, give it a value in the tenant's mapping, or make it "
        f"optional in ZOHO; then {_REDRIVE}.",
        False,
        "ZOHO",
    ),
    ErrorKind(
        "ZOHO_INVALID_DATA",
        "ZOHO refused a value",
        "ZOHO refused a field's value (too long, wrong type, or a lookup to a record ZOHO does "
        "not hold). A lookup to a parent still on its way is retried first.",
        "Correct the value in QuickBooks or the field's type or length in ZOHO (the message "
        f"names the field), or sync the missing parent; then {_REDRIVE}.",
        False,
        "ZOHO",
    ),
    ErrorKind(
        "ZOHO_UNAVAILABLE",
        "ZOHO did not answer",
        "ZOHO timed out or answered with a server error, or its accounts server throttled "
        "token refreshes.",
        "Nothing to do: records wait on the queue and are delivered once ZOHO answers.",
        True,
        "ZOHO",
    ),
    ErrorKind(
        "ZOHO_ERROR",
        "ZOHO refused the record",
        "ZOHO refused the record or the request with another code (named in the message).",
        f"Read ZOHO's message (qbrelay failures list --tenant NAME), fix the cause in "
        f"QuickBooks, the mapping or ZOHO's setup (qbrelay zoho check), then {_REDRIVE}.",
        False,
        "ZOHO",
    ),
    # --- QuickBooks Online ---
    ErrorKind(
        "QBO_INVALID_GRANT",
        "The QuickBooks Online connection has lapsed",
        "Intuit answered invalid_grant to the refresh token: it expired, was revoked (the app "
        "was disconnected) or was superseded by a newer one that was not saved.",
        "Reconnect QuickBooks Online for the tenant (the console's Connect button); records "
        "wait until then.",
        False,
        "QuickBooks Online",
    ),
    ErrorKind(
        "QBO_THROTTLED",
        "QuickBooks Online throttled the relay",
        "QuickBooks Online answered HTTP 429 (ThrottleExceeded, fault 3001): too many calls "
        "for the company in a minute, or too many at once.",
        "Nothing to do: the relay waits a minute and tries again.",
        True,
        "QuickBooks Online",
    ),
    ErrorKind(
        "QBO_ERROR",
        "QuickBooks Online refused the request",
        "QuickBooks Online answered with a fault (validation, authorization or a stale "
        "SyncToken; the code is in the message).",
        "Read the message in qbrelay status --tenant NAME, fix the record or the connection, "
        "then sync again.",
        False,
        "QuickBooks Online",
    ),
    # --- the relay itself ---
    ErrorKind(
        "RELAY_STORE_UNAVAILABLE",
        "The relay could not store records",
        "The relay's store or queue refused a write, so records read from QuickBooks could "
        "not be handed on.",
        "Nothing is lost: the next run reads the same records again. If it repeats, check the "
        "relay's logs and its store (disk space locally; the tables and queues on AWS).",
        True,
        "the relay",
    ),
    # --- the status API and console (answers to a request, not sync errors) ---
    ErrorKind(
        "API_BAD_REQUEST",
        "The request is not valid",
        "A status-API request carried a parameter or JSON body the route does not accept "
        "(the message names it).",
        "Correct the request as the message says; /openapi.json describes every route.",
        False,
        "the status API",
    ),
    ErrorKind(
        "API_NOT_FOUND",
        "No such tenant",
        "A status-API request named a tenant the relay does not have.",
        "Check the name against GET /api/v1/tenants (or qbrelay tenant list).",
        False,
        "the status API",
    ),
    ErrorKind(
        "API_ACTION_REFUSED",
        "The action cannot be done now",
        "A status-API action was refused as asked: a Web Connector session is running, the "
        "tenant has no entity enabled, or the audit could not read ZOHO.",
        "Do what the message says, then send the action again.",
        True,
        "the status API",
    ),
    ErrorKind(
        "RELAY_ERROR",
        "Another error",
        "An error the catalogue has no entry for.",
        "Read the message; if the cause is not clear, report it with the output of qbrelay "
        "status --tenant NAME --json.",
        False,
        "the relay",
    ),
)

BY_CODE: dict[str, ErrorKind] = {k.code: k for k in CATALOGUE}
