"""Fonts for signature appearances: find one that has every glyph, give pyHanko a 1000-upm copy.

pyHanko 0.38 writes a TrueType font's glyph advances into the PDF ``/W`` array in font
units, while PDF reads them as thousandths of an em. With Liberation or DejaVu
(2048 units per em) every glyph then takes about twice its room and the text falls
apart. :func:`prepare_font` therefore embeds a copy rescaled to 1000 units per em
(``fontTools.ttLib.scaleUpem``), written once to a cache directory and reused while
the source file keeps its size and modification time. Hinting does not survive the
rescaling (its control values stay in the old units), so the copy drops it.

Vietnamese needs the precomposed letters of Latin Extended Additional (ế, ờ, ự …).
Debian's ``fonts-liberation`` (1.07) lacks them; ``fonts-liberation2`` and Windows'
Times New Roman and Arial have them. :func:`find_font` walks a list of known paths
and takes the first font that covers the whole text, so a missing glyph never
renders as an empty box on a signed document.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Final

from fontTools.ttLib import TTFont, TTLibError  # type: ignore[import-untyped]
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.writer import BasePdfFileWriter

TARGET_UPEM: Final = 1000
"""What pyHanko's ``/W`` arrays silently assume."""

_CACHE_VERSION: Final = "2"
"""Bump when the way copies are made changes, so old cache files are not reused."""

_DROPPED_TABLES: Final = ("fpgm", "prep", "cvt ", "cvar", "hdmx", "LTSH", "VDMX", "FFTM")
"""TrueType hinting and per-size device metrics, meaningless once the em is rescaled, and
FontForge's timestamps (which the subsetter would complain about on every signature)."""


class FontError(RuntimeError):
    """No usable font: none of the known files exists or covers the text, or one is broken."""


class MissingGlyphs(FontError):
    """Fonts are installed but none has a glyph for every character of the text."""


class FontStyle(StrEnum):
    """Which kind of typeface an appearance asks for."""

    SERIF = "serif"
    """Times New Roman or a font with its metrics (Nghị định 30/2020/NĐ-CP, Phụ lục I)."""
    SANS = "sans"
    """Arial or a font with its metrics."""


_WINDOWS_FONTS: Final = Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts"
_LIBERATION2: Final = Path("/usr/share/fonts/truetype/liberation2")
_LIBERATION: Final = Path("/usr/share/fonts/truetype/liberation")
_DEJAVU: Final = Path("/usr/share/fonts/truetype/dejavu")

FONT_CANDIDATES: Final[Mapping[FontStyle, tuple[Path, ...]]] = {
    FontStyle.SERIF: (
        _LIBERATION2 / "LiberationSerif-Regular.ttf",
        _LIBERATION / "LiberationSerif-Regular.ttf",
        _WINDOWS_FONTS / "times.ttf",
        _DEJAVU / "DejaVuSerif.ttf",
        _DEJAVU / "DejaVuSans.ttf",
        _WINDOWS_FONTS / "arial.ttf",
    ),
    FontStyle.SANS: (
        _LIBERATION2 / "LiberationSans-Regular.ttf",
        _LIBERATION / "LiberationSans-Regular.ttf",
        _WINDOWS_FONTS / "arial.ttf",
        _DEJAVU / "DejaVuSans.ttf",
        _WINDOWS_FONTS / "times.ttf",
    ),
}
"""Known font files, best first: Debian (``fonts-liberation2``, ``fonts-liberation``,
``fonts-dejavu-core``), then Windows."""


@dataclass(frozen=True)
class _Metrics:
    """What the text layout needs from a font file."""

    cmap: Mapping[int, str]
    advances: Mapping[str, int]
    units_per_em: int


@lru_cache(maxsize=32)
def _metrics(path: Path, mtime_ns: int, size: int) -> _Metrics:
    # The key includes mtime and size so a font replaced on disk is read again.
    del mtime_ns, size
    try:
        with TTFont(path, lazy=True) as font:
            cmap = dict(font.getBestCmap() or {})
            advances = {name: metric[0] for name, metric in font["hmtx"].metrics.items()}
            return _Metrics(cmap, advances, int(font["head"].unitsPerEm))
    except (OSError, TTLibError, KeyError, AssertionError) as exc:
        raise FontError(f"cannot read font {path}: {exc}") from exc


def _stat_key(path: Path) -> tuple[Path, int, int]:
    stat = path.stat()
    return path, stat.st_mtime_ns, stat.st_size


def _metrics_of(path: Path) -> _Metrics:
    try:
        return _metrics(*_stat_key(path))
    except OSError as exc:
        raise FontError(f"cannot read font {path}: {exc}") from exc


def _needed(text: str) -> set[int]:
    """Code points that need a glyph (spaces, controls and format characters need none)."""
    return {
        ord(c)
        for c in unicodedata.normalize("NFC", text)
        if not c.isspace() and unicodedata.category(c) not in {"Cc", "Cf"}
    }


def find_font(
    text: str,
    style: FontStyle = FontStyle.SERIF,
    candidates: Sequence[Path] | None = None,
) -> Path:
    """The first existing font of ``candidates`` (default :data:`FONT_CANDIDATES`) with a
    glyph for every character of ``text``.

    :raises FontError: if no candidate exists.
    :raises MissingGlyphs: if none covers the text.
    """
    paths = FONT_CANDIDATES[style] if candidates is None else tuple(candidates)
    needed = _needed(text)
    found: list[Path] = []
    for path in paths:
        if not path.is_file():
            continue
        found.append(path)
        if needed <= _metrics_of(path).cmap.keys():
            return path
    if not found:
        tried = ", ".join(str(p) for p in paths)
        raise FontError(
            f"no {style.value} font found for signature appearances (looked for {tried}); "
            "install fonts-liberation2 or fonts-dejavu-core"
        )
    missing = "".join(sorted(chr(c) for c in needed - _metrics_of(found[0]).cmap.keys()))
    raise MissingGlyphs(
        f"no installed {style.value} font has glyphs for {missing!r} "
        f"(tried {', '.join(str(p) for p in found)})"
    )


_default_cache_lock = threading.Lock()
_default_cache: Path | None = None


def _default_cache_dir() -> Path:
    """A private directory for this process, removed at exit (a shared, predictable
    temporary path could be pre-filled by another user)."""
    global _default_cache  # noqa: PLW0603 - one lazily created directory per process
    with _default_cache_lock:
        if _default_cache is None:
            _default_cache = Path(tempfile.mkdtemp(prefix="kyso-agent-fonts-"))
            atexit.register(shutil.rmtree, _default_cache, ignore_errors=True)
        return _default_cache


def _scaled_copy(source: Path, target: Path) -> None:
    try:
        with TTFont(source) as font:
            # fontTools' variable-font machinery comes with it: only for a font that needs it.
            from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]

            scale_upem(font, TARGET_UPEM)
            for tag in _DROPPED_TABLES:
                if tag in font:
                    del font[tag]
            if "glyf" in font:
                glyf = font["glyf"]
                for name in font.getGlyphOrder():
                    glyf[name].removeHinting()
            out = BytesIO()
            font.save(out)
    except (OSError, TTLibError, KeyError, AssertionError, ValueError) as exc:
        raise FontError(f"cannot rescale font {source}: {exc}") from exc
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Write next to the target and rename: a concurrent reader never sees half a font.
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(out.getvalue())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_prepare_lock = threading.Lock()


@dataclass(frozen=True)
class PreparedFont:
    """A font ready for pyHanko: ``path`` has 1000 units per em."""

    path: Path
    """The file pyHanko embeds (a subset of it)."""
    source: Path
    """The installed font it was made from."""

    def covers(self, text: str) -> bool:
        """Whether every character of ``text`` has a glyph."""
        return _needed(text) <= _metrics_of(self.path).cmap.keys()

    def width(self, text: str, size: float) -> float:
        """Advance width of one line of ``text`` in points (no kerning), for line breaking."""
        metrics = _metrics_of(self.path)
        total = 0
        for char in unicodedata.normalize("NFC", text):
            glyph = metrics.cmap.get(ord(char))
            total += metrics.advances.get(glyph, 0) if glyph else 0
        return total * size / metrics.units_per_em

    def engine_factory(self, size: int) -> GlyphAccumulatorFactory:
        """A pyHanko font engine factory that embeds the used glyphs only (a subset)."""
        return _InMemoryGlyphAccumulatorFactory(
            str(self.path), font_size=size, bcp47_lang_code="vi"
        )


def prepare_font(source: Path, cache_dir: Path | None = None) -> PreparedFont:
    """``source`` itself if it has 1000 units per em, else its rescaled copy in ``cache_dir``
    (made on first use; keyed by the source's path, size and modification time).

    :raises FontError: if the font cannot be read or rescaled.
    """
    metrics = _metrics_of(source)
    if metrics.units_per_em == TARGET_UPEM:
        return PreparedFont(source, source)
    path, mtime_ns, size = _stat_key(source)
    key = f"{_CACHE_VERSION}|{path.resolve()}|{mtime_ns}|{size}".encode()
    name = f"{source.stem}-{TARGET_UPEM}upm-{hashlib.sha256(key).hexdigest()[:16]}.ttf"
    target = (cache_dir or _default_cache_dir()) / name
    with _prepare_lock:
        if not target.is_file():
            _scaled_copy(source, target)
    return PreparedFont(target, source)


def font_for(
    text: str, style: FontStyle = FontStyle.SERIF, cache_dir: Path | None = None
) -> PreparedFont:
    """The prepared font of :func:`find_font` for ``text``."""
    return prepare_font(find_font(text, style), cache_dir)


@lru_cache(maxsize=8)
def _font_bytes(path: str, mtime_ns: int) -> bytes:
    del mtime_ns
    return Path(path).read_bytes()


@dataclass(frozen=True)
class _InMemoryGlyphAccumulatorFactory(GlyphAccumulatorFactory):
    """pyHanko's factory opens the font file and never closes it; this one hands the
    engine the bytes (read once per file version)."""

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: Any = None
    ) -> GlyphAccumulator:
        path = Path(self.font_file)
        data = _font_bytes(self.font_file, path.stat().st_mtime_ns)
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(data),
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )
