"""Verification of every XMLDSig signature in a document: e-invoices, tax filings.

A Vietnamese e-invoice may carry several enveloped signatures (the seller's, the buyer's,
the tax authority's); :func:`~.check.verify_xml` reports on each. One job per module, as in
:mod:`agent.pdf.verify`:

* :mod:`.model`: what is found, as plain values (:class:`~.model.XmlVerificationReport`,
  :class:`~.model.XmlSignatureReport`, :class:`~.model.XmlProblem`);
* :mod:`.check`: :func:`~.check.verify_xml`, digests and signature values recomputed over the
  canonical forms of :mod:`agent.xml.c14n` (the same code that signs), certificates
  chained to the given roots;
* :mod:`.render`: the wire form (:func:`~.render.report_to_json`) and the text for people
  (:func:`~.render.report_to_text`).

Only :mod:`.check` imports lxml and cryptography: the model and the rendering load without
them (the server's start-up does not pay for them).
"""
