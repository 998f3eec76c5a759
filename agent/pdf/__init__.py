"""PAdES signing (pyHanko), appearance profiles, CMS for portals, verification reports.

Only this package imports ``pyhanko``.
"""
