"""Verification of the signatures in a PDF (``POST /v1/pdf/verify``, ``kyso-agent verify``).

One job per module:

* :mod:`.model`: what is found, as plain values (:class:`~.model.VerificationReport`,
  :class:`~.model.SignatureReport`, :class:`~.model.Problem`, :class:`~.model.NotAPdf`);
* :mod:`.check`: :func:`~.check.verify_pdf`, pyHanko asked about every signature, with
  :mod:`.read` reading the document, :mod:`.legacy` checking the older SHA-1 formats and
  :mod:`.findings` condensing each verdict into a report;
* :mod:`.render`: the wire form (:func:`~.render.report_to_json`) and the text for people
  (:func:`~.render.report_to_text`).

Only :mod:`.check` and the modules it uses import pyHanko: the model and the rendering load
without it (the server's start-up does not pay for the PDF stack).
"""
