"""Verification of every XMLDSig signature in a document: e-invoices, tax filings.

A Vietnamese e-invoice may carry several enveloped signatures (the seller's, the buyer's,
the tax authority's); :func:`verify_xml` reports on each. One job per module, as in
:mod:`agent.pdf.verify`:

* :mod:`.model`: what is found, as plain values (:class:`XmlVerificationReport`,
  :class:`XmlSignatureReport`, :class:`XmlProblem`);
* :mod:`.check`: :func:`verify_xml`, digests and signature values recomputed over the
  canonical forms of :mod:`agent.xml.c14n` (the same code that signs), certificates
  chained to the given roots;
* :mod:`.render`: the wire form (:func:`report_to_json`) and the text for people
  (:func:`report_to_text`).
"""

from agent.xml.verify.check import verify_xml
from agent.xml.verify.model import (
    ReferenceCheck,
    XmlProblem,
    XmlSignatureReport,
    XmlVerificationReport,
)
from agent.xml.verify.render import report_to_json, report_to_text

__all__ = [
    "ReferenceCheck",
    "XmlProblem",
    "XmlSignatureReport",
    "XmlVerificationReport",
    "report_to_json",
    "report_to_text",
    "verify_xml",
]
