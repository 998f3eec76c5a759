"""PAdES signing (pyHanko), appearance profiles, CMS for portals, verification reports.

:mod:`agent.pdf.commands` is the signing service's way in (one coroutine per PDF step);
:mod:`agent.pdf.verify` is the verification report (model / check / render).

Only this package imports ``pyhanko``.
"""
