"""The HTML report: one self-contained page (no external resource, no script), its sections, the matrix per key,
the diff's highlighted rows, escaping, byte-identical output. ``parse`` is shared with the browser test."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

from kmsflow.review.render import render
from tests.review.fixtures import DATA, review_with_diff, review_without_diff

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})


@dataclasses.dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    content: list[Element | str] = dataclasses.field(default_factory=list)  # in document order

    @property
    def children(self) -> list[Element]:
        return [item for item in self.content if isinstance(item, Element)]

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        """All the text inside, in document order."""
        return "".join(item if isinstance(item, str) else item.text() for item in self.content)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str, predicate: Callable[[Element], bool] = lambda _: True) -> list[Element]:
        return [element for element in self.iter() if element.tag == tag and predicate(element)]

    def find(self, tag: str, predicate: Callable[[Element], bool] = lambda _: True) -> Element:
        found = self.find_all(tag, predicate)
        assert found, f"no <{tag}> found"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element(tag="#document", attrs={})
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag=tag, attrs={name: value or "" for name, value in attrs})
        self._stack[-1].content.append(element)
        if tag not in _VOID:
            self._stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].content.append(data)


def parse(page: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def matrix_cells(section: Element) -> dict[tuple[str, str], Element]:
    """(principal id, column) -> the cell, for the matrix of a key section."""
    table = section.find("table", lambda e: "matrix" in e.classes)
    columns = [th.text() for th in table.find("thead").find_all("th")][1:]
    cells = {}
    for row in table.find("tbody").find_all("tr"):
        principal = row.find("span", lambda e: "principal" in e.classes).text()
        for column, cell in zip(columns, row.find_all("td"), strict=True):
            cells[(principal, column)] = cell
    return cells


def key_section(document: Element, anchor: str) -> Element:
    return document.find("section", lambda e: e.attrs.get("id") == anchor)


def test_self_contained() -> None:
    page = render(review_with_diff(), "html")
    document = parse(page)
    assert page.startswith("<!DOCTYPE html>\n")
    assert "<link" not in page
    assert document.find_all("script") == []
    for element in document.iter():
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = element.attrs.get(name, "")
            assert not value.lower().startswith(("http://", "https://", "//")), (element.tag, name, value)
    assert "url(" not in page
    assert "@import" not in page
    assert document.find("meta").attrs == {"charset": "utf-8"}
    assert document.find("title").text() == "kmsflow review: cdk.out"


def test_summary_and_key_links() -> None:
    document = parse(render(review_with_diff(), "html"))
    assert document.find("p", lambda e: "summary" in e.classes).text() == (
        "3 keys · 17 access facts · 1 grant creator · findings: 2 high, 2 medium, 1 low, 1 info · 3 unknowns"
    )
    links = [(a.attrs["href"], a.text()) for a in document.find("nav").find_all("a")]
    assert links == [
        ("#key-AppReplicaStack-DataReplicaE5F6A7B8", "AppReplicaStack/DataReplicaE5F6A7B8"),
        ("#key-AppStack-DataKey1A2B3C4D", "AppStack/DataKey1A2B3C4D"),
        ("#key-SigningStack-SigningKey9A8B7C6D", "SigningStack/SigningKey9A8B7C6D"),
    ]


def test_findings_highlighted_by_severity() -> None:
    document = parse(render(review_without_diff(), "html"))
    table = document.find("section", lambda e: e.attrs.get("id") == "findings").find("table")
    rows = table.find("tbody").find_all("tr")
    assert [sorted(row.classes) for row in rows] == [
        ["sev-high"],
        ["sev-high"],
        ["sev-medium"],
        ["sev-medium"],
        ["sev-low"],
        ["sev-info"],
    ]
    assert [td.text() for td in rows[0].find_all("td")] == [
        "high",
        "KR01",
        "AppStack/DataKey1A2B3C4D",
        "statement NetworkDescribe allows Principal '*' (kms:DescribeKey) without a condition that names who may "
        "call, i.e. any AWS account",
        "AppStack/DataKey1A2B3C4D KeyPolicy (NetworkDescribe)",
    ]


def test_diff_rows_highlighted() -> None:
    document = parse(render(review_with_diff(), "html"))
    diff = document.find("section", lambda e: e.attrs.get("id") == "diff")
    assert diff.find("h2").text() == "Changes against baseline/cdk.out"
    gained = diff.find_all("tr", lambda e: "gained" in e.classes)
    assert [[td.text() for td in row.find_all("td")] for row in gained] == [
        [
            "arn:aws:iam::444444444444:root",
            "Decrypt",
            "AppStack/DataKey1A2B3C4D",
            "kms:CallerAccount = 444444444444 (if present)",
            "key policy (CrossAccountDecrypt), unless key policy (DenyOutsideOrganization) applies",
        ],
        [
            "arn:aws:iam::111111111111:role/ReportWriter",
            "Decrypt",
            "AppStack/DataKey1A2B3C4D",
            "kms:EncryptionContext:app like reports-*",
            "IAM policy: AppStack/ReportWriterRoleDefaultPolicy0F1E2D3C PolicyDocument (ReadReports), delegated by "
            "key policy (EnableIamPolicies)",
        ],
    ]
    lost = diff.find_all("tr", lambda e: "lost" in e.classes)
    assert [td.text() for td in lost[0].find_all("td")][:2] == [
        "arn:aws:iam::111111111111:role/KeyAdministrator key administrator",
        "CancelKeyDeletion",
    ]
    assert len(lost) == 1
    narrowed = diff.find_all("tr", lambda e: "narrowed" in e.classes)
    assert [[td.text() for td in row.find_all("td")][2:] for row in narrowed] == [
        ["Decrypt", "AppStack/DataKey1A2B3C4D", "none", "kms:ViaService = rds.eu-west-1.amazonaws.com"],
        [
            "GenerateDataKey",
            "AppStack/DataKey1A2B3C4D",
            "(aws:SourceIp in 10.0.0.0/8 unless key policy (DenyOutsideOrganization)) or "
            "(kms:ViaService = rds.eu-west-1.amazonaws.com)",
            "kms:ViaService = rds.eu-west-1.amazonaws.com",
        ],
    ]
    assert len(diff.find_all("tr", lambda e: "widened" in e.classes)) == 1
    assert [td.text() for td in diff.find("tr", lambda e: "setting" in e.classes).find_all("td")] == [
        "AppStack/DataKey1A2B3C4D",
        "rotation",
        "False",
        "True",
    ]
    assert sorted(diff.find("tr", lambda e: "finding-new" in e.classes).classes) == ["finding-new", "sev-high"]
    assert sorted(diff.find("tr", lambda e: "finding-resolved" in e.classes).classes) == [
        "finding-resolved",
        "sev-medium",
    ]
    assert [li.text() for li in diff.find_all("li")] == [
        "SigningStack/SigningKey9A8B7C6D",
        "arn:aws:kms:eu-west-1:111111111111:key/OldStack-LegacyKeyFFFF0000",
    ]
    assert parse(render(review_without_diff(), "html")).find_all("section", lambda e: e.attrs.get("id") == "diff") == []


def test_key_sections_and_matrix() -> None:
    document = parse(render(review_with_diff(), "html"))
    sections = document.find_all("section", lambda e: "key" in e.classes)
    assert [section.attrs["id"] for section in sections] == [
        "key-AppReplicaStack-DataReplicaE5F6A7B8",
        "key-AppStack-DataKey1A2B3C4D",
        "key-SigningStack-SigningKey9A8B7C6D",
    ]
    data = key_section(document, "key-AppStack-DataKey1A2B3C4D")
    header = [th.text() for th in data.find("table", lambda e: "matrix" in e.classes).find("thead").find_all("th")]
    assert header == [
        "Principal",
        "Encrypt",
        "Decrypt",
        "GenerateDataKey*",
        "DescribeKey",
        "CreateGrant",
        "PutKeyPolicy",
        "Administration",
    ]
    cells = matrix_cells(data)
    admin = "arn:aws:iam::111111111111:role/KeyAdministrator"
    processor = "arn:aws:iam::111111111111:role/DataProcessor"
    assert cells[(admin, "PutKeyPolicy")].classes == {"allowed"}
    assert cells[(admin, "PutKeyPolicy")].text() == "✓"
    assert cells[(admin, "Administration")].attrs["title"] == "kms:ScheduleKeyDeletion"
    assert cells[(admin, "Decrypt")].classes == {"none"}
    assert cells[(admin, "Decrypt")].text() == ""
    decrypt = cells[(processor, "Decrypt")]
    assert decrypt.classes == {"conditional"}
    assert decrypt.text() == "✓"
    assert decrypt.attrs["title"] == "kms:Decrypt when kms:ViaService = rds.eu-west-1.amazonaws.com"
    assert cells[(processor, "CreateGrant")].attrs["title"] == (
        "kms:CreateGrant when kms:GrantIsForAWSResource is true and every kms:GrantOperations ∈ {Decrypt, Encrypt}"
    )
    partner = cells[("arn:aws:iam::444444444444:root", "Decrypt")]
    assert partner.classes == {"conditional"}
    assert partner.attrs["title"] == (
        "kms:Decrypt when kms:CallerAccount = 444444444444 (if present) unless AppStack/DataKey1A2B3C4D KeyPolicy "
        "(DenyOutsideOrganization) applies"
    )
    labels = [span.text() for span in data.find("table").find_all("span", lambda e: "label" in e.classes)]
    assert labels == ["key user", "key administrator"]


def test_signing_key_matrix_columns() -> None:
    document = parse(render(review_without_diff(), "html"))
    signing = key_section(document, "key-SigningStack-SigningKey9A8B7C6D")
    cells = matrix_cells(signing)
    assert sorted({column for _, column in cells}) == ["GetPublicKey", "PutKeyPolicy", "Sign", "Verify"]
    assert cells[("arn:aws:iam::111111111111:role/ReleaseSigner", "Sign")].attrs["title"] == (
        "kms:Sign when aws:MultiFactorAuthAge is present and aws:MultiFactorAuthAge < 3600"
    )
    assert cells[("cloudtrail.amazonaws.com", "GetPublicKey")].classes == {"conditional"}


def test_key_section_lists_facts_creators_findings_and_cost() -> None:
    document = parse(render(review_without_diff(), "html"))
    data = key_section(document, "key-AppStack-DataKey1A2B3C4D")
    facts = data.find("table", lambda e: "facts" in e.classes).find("tbody").find_all("tr")
    assert [td.text() for td in facts[1].find_all("td")] == [
        "arn:aws:iam::111111111111:role/DataProcessor key user",
        "Encrypt, Decrypt, GenerateDataKey",
        "kms:ViaService = rds.eu-west-1.amazonaws.com",
        "key policy (KeyUsers)",
    ]
    assert facts[1].classes == {"conditional"}
    creators = data.find("table", lambda e: "grant-creators" in e.classes).find("tbody").find_all("tr")
    assert [td.text() for td in creators[0].find_all("td")][1:4] == ["any", "Decrypt, Encrypt", "yes"]
    findings = data.find("table", lambda e: "findings" in e.classes).find("tbody").find_all("tr")
    assert [sorted(row.classes) for row in findings] == [["sev-high"], ["sev-medium"]]
    assert data.find("p", lambda e: "cost" in e.classes).text() == (
        "Cost: ≈ $1.00/month now, $3.00/month once rotation reaches its price cap (estimate)"
    )
    settings = [li.text() for li in data.find("ul", lambda e: "settings" in e.classes).find_all("li")]
    assert settings[:4] == ["SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "origin AWS_KMS", "rotation every 365 days"]


def test_key_without_facts_says_so() -> None:
    lonely = dataclasses.replace(DATA, facts=(), grant_creators=(), findings=())
    page = render(dataclasses.replace(review_without_diff(), keys=(lonely,), unknowns=()), "html")
    section = key_section(parse(page), "key-AppStack-DataKey1A2B3C4D")
    assert section.find_all("table") == []
    assert [p.text() for p in section.find_all("p", lambda e: "empty" in e.classes)] == [
        "No access facts: no principal can use or manage this key.",
        "No findings.",
    ]


def test_everything_is_escaped() -> None:
    page = render(review_without_diff(), "html")
    assert "Signs release artifacts &lt;v2&gt; | pipeline" in page
    assert "<v2>" not in page
    assert "&lt;AppStack/DataKey1A2B3C4D&gt;" in page
    document = parse(page)
    description = key_section(document, "key-SigningStack-SigningKey9A8B7C6D").find(
        "p", lambda e: "description" in e.classes
    )
    assert description.text() == "Signs release artifacts <v2> | pipeline"


def test_unknowns() -> None:
    document = parse(render(review_without_diff(), "html"))
    rows = document.find("section", lambda e: e.attrs.get("id") == "unknowns").find("tbody").find_all("tr")
    assert [[td.text() for td in row.find_all("td")] for row in rows] == [
        ["organization policies", "*", "service and resource control policies are not in the assembly"],
        [
            "parameter",
            "AppStack/KeyAdminArn",
            "parameter KeyAdminArn has no default | read as a placeholder\nits value decides the administrators",
        ],
    ]
    data = key_section(document, "key-AppStack-DataKey1A2B3C4D")
    key_rows = data.find("table", lambda e: "unknowns" in e.classes).find("tbody").find_all("tr")
    assert [[td.text() for td in row.find_all("td")] for row in key_rows] == [
        [
            "outside principal",
            "AppStack/DataKey1A2B3C4D KeyPolicy",
            "arn:aws:iam::444444444444:root is outside the assembly: its IAM policies are unknown",
        ]
    ]
    signing = key_section(document, "key-SigningStack-SigningKey9A8B7C6D")
    assert signing.find_all("table", lambda e: "unknowns" in e.classes) == []


def test_byte_identical() -> None:
    assert render(review_with_diff(), "html").encode() == render(review_with_diff(), "html").encode()
