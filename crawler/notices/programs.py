"""The notice programs marketplaces run for rights owners, and what each one requires.

One explicit table from a profile's ``notice_program`` to its rules (see PRODUCT.md,
Notices): the per-notice item limit, the rights-owner fields a notice cannot go without,
which trademark field it cites, and the Lumen notice type it archives as.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Program:
    name: str
    title: str
    limit: int  # listings per notice; drafts are split at this
    required: tuple[str, ...]  # fields of brand.rights_owner the notice must carry
    trademark_field: str | None  # field of a brand.trademarks entry it must cite
    ip_type: str  # one IP type per notice
    lumen_type: str
    reason_codes: bool = False  # one reason code per item (eBay VeRO)
    default_reason_code: str = ""


PROGRAMS: dict[str, Program] = {p.name: p for p in (
    Program("dmca", "DMCA notice (17 U.S.C. 512(c)(3))", 100,
            ("name", "address", "phone", "email", "signature"), None, "copyright", "DMCA"),
    Program("ebay_vero", "eBay VeRO Notice of Claimed Infringement (NOCI)", 200,
            ("name", "title", "company", "address", "email", "phone", "signature"),
            "number", "trademark", "Counterfeit", reason_codes=True,
            default_reason_code="1.1"),
    Program("amazon", "Amazon Report Infringement", 50,
            ("name", "company", "address", "email", "phone", "secondary_email",
             "signature"), "number", "trademark", "Counterfeit"),
    Program("alibaba_ipp", "Alibaba IPP complaint", 300, ("name", "company", "email"),
            "ip_record", "trademark", "Counterfeit"),
    Program("eu_dsa", "EU Digital Services Act Art. 16 notice", 100, ("name", "email"),
            None, "trademark", "Counterfeit"),
    Program("email", "Notice of infringement (email)", 100, ("name", "email"), None,
            "trademark", "Counterfeit"),
)}

# programs that take a complaint about a whole storefront (a seller account), citing its
# listings, besides notices about single listings
STOREFRONT_PROGRAMS = frozenset({"alibaba_ipp", "amazon"})

# eBay VeRO reason codes a rule's ``notice_reason`` may give
VERO_REASONS = {
    "1.1": "Trademark - item(s) infringes the trademark owner's rights (counterfeit)",
    "2.1": "Trademark - listing(s) contains unlawful use of the trademark owner's logo or "
           "trademark",
    "3.2": "Copyright - item is an unlawful copy (counterfeit) of copyrighted work",
    "4.1": "Copyright - listing uses the copyright owner's text",
    "4.2": "Copyright - listing uses the copyright owner's image",
}
