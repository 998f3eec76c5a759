"""The catalogue of every text a person reads: Vietnamese first, then English.

Logic refers to messages by key; only this module holds wording. Keys are stable
so that translations and the browser client can follow them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Lang(StrEnum):
    """Languages the agent speaks to people."""

    VI = "vi"
    EN = "en"


DEFAULT_LANG: Final = Lang.VI

_CATALOGUE: Final[dict[str, dict[Lang, str]]] = {
    # Errors on the wire (keys are the ErrorCode values).
    "BAD_REQUEST": {
        Lang.VI: "Yêu cầu không hợp lệ: {detail}",
        Lang.EN: "Invalid request: {detail}",
    },
    "HOST_NOT_ALLOWED": {
        Lang.VI: "Địa chỉ máy chủ (Host) không được phép.",
        Lang.EN: "This Host header is not allowed.",
    },
    "ORIGIN_NOT_ALLOWED": {
        Lang.VI: "Trang web này không được phép dùng Kyso Agent.",
        Lang.EN: "This web origin is not allowed to use Kyso Agent.",
    },
    "UNSUPPORTED_MEDIA_TYPE": {
        Lang.VI: "Chỉ chấp nhận dữ liệu JSON (Content-Type: application/json).",
        Lang.EN: "Only JSON bodies are accepted (Content-Type: application/json).",
    },
    "PAYLOAD_TOO_LARGE": {
        Lang.VI: "Dữ liệu gửi lên quá lớn (tối đa {limit} byte).",
        Lang.EN: "The request body is too large (at most {limit} bytes).",
    },
    "NOT_FOUND": {
        Lang.VI: "Không có chức năng này.",
        Lang.EN: "No such endpoint.",
    },
    "USER_CANCELLED": {
        Lang.VI: "Người dùng đã hủy thao tác.",
        Lang.EN: "The user cancelled the operation.",
    },
    "CONSENT_TIMEOUT": {
        Lang.VI: "Hết thời gian chờ người dùng xác nhận.",
        Lang.EN: "The user did not answer in time.",
    },
    "TOKEN_NOT_PRESENT": {
        Lang.VI: "Không tìm thấy thiết bị ký số (USB token). Hãy cắm token và thử lại.",
        Lang.EN: "No signing token found. Insert the USB token and try again.",
    },
    "CERTIFICATE_NOT_FOUND": {
        Lang.VI: "Không tìm thấy chứng thư số phù hợp trên token.",
        Lang.EN: "The requested certificate is not on any token.",
    },
    "CERTIFICATE_EXPIRED": {
        Lang.VI: "Chứng thư số đã hết hạn hoặc chưa có hiệu lực.",
        Lang.EN: "The certificate has expired or is not yet valid.",
    },
    "CERTIFICATE_REVOKED": {
        Lang.VI: "Chứng thư số đã bị thu hồi; không thể ký.",
        Lang.EN: "The certificate has been revoked; it cannot sign.",
    },
    "SIGNING_FAILED": {
        Lang.VI: "Không hoàn tất được chữ ký: {detail}",
        Lang.EN: "The signature could not be completed: {detail}",
    },
    "PIN_LOCKED": {
        Lang.VI: "Mã PIN của token đã bị khóa. Liên hệ bộ phận hỗ trợ để mở khóa.",
        Lang.EN: "The token's PIN is locked. Contact your helpdesk to unlock it.",
    },
    "BUSY": {
        Lang.VI: "Kyso Agent đang bận với yêu cầu khác. Hãy thử lại sau.",
        Lang.EN: "Kyso Agent is busy with other requests. Try again shortly.",
    },
    "INTERNAL": {
        Lang.VI: "Lỗi nội bộ của Kyso Agent. Chi tiết có trong nhật ký.",
        Lang.EN: "Internal error in Kyso Agent. Details are in its log.",
    },
    # Why a request was refused without asking anyone.
    "no_prompter": {
        Lang.VI: "Không có cách hỏi người dùng: hãy chạy Kyso Agent trong cửa sổ dòng lệnh "
        "hoặc cấu hình --prompter.",
        Lang.EN: "There is no way to ask the user: run Kyso Agent from a terminal or "
        "configure --prompter.",
    },
    # Console prompter.
    "console_title_sign": {
        Lang.VI: "Yêu cầu KÝ SỐ từ {origin}",
        Lang.EN: "SIGNING request from {origin}",
    },
    "console_title_select": {
        Lang.VI: "Trang {origin} muốn đọc chứng thư số của bạn",
        Lang.EN: "{origin} wants to read your certificate",
    },
    "console_documents": {
        Lang.VI: "Tài liệu ({count}):",
        Lang.EN: "Documents ({count}):",
    },
    "console_unnamed": {Lang.VI: "(không tên)", Lang.EN: "(unnamed)"},
    "console_certificates": {Lang.VI: "Chứng thư số:", Lang.EN: "Certificates:"},
    "console_choose": {
        Lang.VI: "Chọn chứng thư số [1-{count}], Enter = 1, h = hủy: ",
        Lang.EN: "Choose a certificate [1-{count}], Enter = 1, c = cancel: ",
    },
    "console_confirm": {
        Lang.VI: "Đồng ý? [c = có / k = không]: ",
        Lang.EN: "Approve? [y = yes / n = no]: ",
    },
    "console_yes": {Lang.VI: "c", Lang.EN: "y"},
    "console_pin": {
        Lang.VI: "Nhập mã PIN (để trống = hủy): ",
        Lang.EN: "Enter the PIN (empty = cancel): ",
    },
    "console_pinpad": {
        Lang.VI: "Hãy nhập mã PIN trên bàn phím của đầu đọc.",
        Lang.EN: "Enter the PIN on the reader's keypad.",
    },
    "console_pin_low": {
        Lang.VI: "Cảnh báo: còn ít lần nhập PIN.",
        Lang.EN: "Warning: few PIN attempts remain.",
    },
    "console_pin_final": {
        Lang.VI: "CẢNH BÁO: đây là lần nhập PIN cuối cùng; sai nữa token sẽ bị khóa.",
        Lang.EN: "WARNING: this is the final PIN attempt; a wrong PIN locks the token.",
    },
    "console_pin_incorrect": {
        Lang.VI: "Mã PIN không đúng. Hãy nhập lại.",
        Lang.EN: "Incorrect PIN. Please try again.",
    },
    "console_expires": {Lang.VI: "hết hạn", Lang.EN: "expires"},
    "console_first_use": {
        Lang.VI: "Lần đầu tiên {origin} yêu cầu. Đồng ý cũng là cho phép cổng này từ nay về sau.",
        Lang.EN: "First request from {origin}. Approving also allows this portal from now on.",
    },
    "console_final_confirm": {
        Lang.VI: "Gõ KY để vẫn nhập PIN lần cuối (khác = hủy): ",
        Lang.EN: "Type SIGN to make the final attempt anyway (anything else cancels): ",
    },
    "console_final_word": {Lang.VI: "ky", Lang.EN: "sign"},
    "console_pin_cached": {
        Lang.VI: "Mã PIN đã nhớ theo chính sách của đơn vị sẽ được dùng.",
        Lang.EN: "The PIN remembered under your organisation's policy will be used.",
    },
    "CALLER_NOT_ALLOWED": {
        Lang.VI: "Kết nối đến từ một người dùng khác trên máy này và đã bị từ chối.",
        Lang.EN: "The connection comes from another user on this computer and was refused.",
    },
}


def text(key: str, lang: Lang | str = DEFAULT_LANG, **values: object) -> str:
    """Return the message ``key`` in ``lang`` (falling back to Vietnamese)."""
    entry = _CATALOGUE[key]
    try:
        chosen = Lang(lang)
    except ValueError:
        chosen = DEFAULT_LANG
    template = entry.get(chosen) or entry[DEFAULT_LANG]
    return template.format(**values) if values else template


def keys() -> frozenset[str]:
    """Every key in the catalogue (for tests that check completeness)."""
    return frozenset(_CATALOGUE)


def languages_of(key: str) -> frozenset[Lang]:
    """Languages in which ``key`` is translated."""
    return frozenset(_CATALOGUE[key])


def pick_lang(accept_language: str | None, default: Lang = DEFAULT_LANG) -> Lang:
    """Choose vi or en from an HTTP ``Accept-Language`` header."""
    if not accept_language:
        return default
    best: tuple[float, Lang] | None = None
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        try:
            lang = Lang(primary)
        except ValueError:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if best is None or quality > best[0]:
            best = (quality, lang)
    return best[1] if best and best[0] > 0 else default
