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
        Lang.VI: (
            "Dữ liệu phải là JSON (Content-Type: application/json); "
            "/v1/pdf/sign nhận thêm multipart/form-data."
        ),
        Lang.EN: (
            "The body must be JSON (Content-Type: application/json); "
            "/v1/pdf/sign also takes multipart/form-data."
        ),
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
    # The verification report (kyso-agent verify, POST /v1/pdf/verify).
    "verify_none": {
        Lang.VI: "Tài liệu không có chữ ký số nào.",
        Lang.EN: "The document has no signatures.",
    },
    "verify_count": {
        Lang.VI: "Tài liệu có {count} chữ ký số.",
        Lang.EN: "The document has {count} signature(s).",
    },
    "verify_all_valid": {
        Lang.VI: "✓ Kết luận: tất cả chữ ký số đều hợp lệ.",
        Lang.EN: "✓ Conclusion: every signature is valid.",
    },
    "verify_not_all_valid": {
        Lang.VI: "✗ Kết luận: tài liệu có chữ ký số KHÔNG hợp lệ hoặc chưa xác minh được.",
        Lang.EN: "✗ Conclusion: some signatures are NOT valid or could not be verified.",
    },
    "verify_no_signature_verdict": {
        Lang.VI: "✗ Kết luận: không có chữ ký số để xác minh.",
        Lang.EN: "✗ Conclusion: there is no signature to verify.",
    },
    "verify_heading": {
        Lang.VI: "Chữ ký số {index}: {signer}",
        Lang.EN: "Signature {index}: {signer}",
    },
    "verify_heading_timestamp": {
        Lang.VI: "Dấu thời gian tài liệu {index}: {signer}",
        Lang.EN: "Document timestamp {index}: {signer}",
    },
    "verify_unknown_signer": {Lang.VI: "(không đọc được)", Lang.EN: "(unreadable)"},
    "verify_ok": {
        Lang.VI: "✓ Hợp lệ",
        Lang.EN: "✓ Valid",
    },
    "verify_not_ok": {
        Lang.VI: "✗ KHÔNG hợp lệ",
        Lang.EN: "✗ NOT valid",
    },
    "verify_field": {Lang.VI: "Trường chữ ký: {name}", Lang.EN: "Signature field: {name}"},
    "verify_intact": {
        Lang.VI: "Toàn vẹn: còn nguyên vẹn",
        Lang.EN: "Integrity: intact",
    },
    "verify_not_intact": {
        Lang.VI: "Toàn vẹn: nội dung đã bị thay đổi sau khi ký",
        Lang.EN: "Integrity: the signed content was changed",
    },
    "verify_valid": {
        Lang.VI: "Chữ ký: đúng (khớp với khóa công khai của người ký)",
        Lang.EN: "Signature value: correct (matches the signer's public key)",
    },
    "verify_not_valid": {
        Lang.VI: "Chữ ký: sai (không khớp với khóa công khai của người ký)",
        Lang.EN: "Signature value: wrong (does not match the signer's public key)",
    },
    "verify_trusted": {
        Lang.VI: "Chứng thư: tin cậy ({root})",
        Lang.EN: "Certificate: trusted ({root})",
    },
    "verify_untrusted": {
        Lang.VI: "Chứng thư: không tin cậy",
        Lang.EN: "Certificate: not trusted",
    },
    "verify_revocation_good": {
        Lang.VI: "Thu hồi: chứng thư chưa bị thu hồi",
        Lang.EN: "Revocation: the certificate is not revoked",
    },
    "verify_revocation_revoked": {
        Lang.VI: "Thu hồi: chứng thư ĐÃ BỊ THU HỒI",
        Lang.EN: "Revocation: the certificate is REVOKED",
    },
    "verify_revocation_unknown": {
        Lang.VI: "Thu hồi: không xác định được tình trạng thu hồi",
        Lang.EN: "Revocation: the status could not be determined",
    },
    "verify_revocation_not_checked": {
        Lang.VI: "Thu hồi: không kiểm tra",
        Lang.EN: "Revocation: not checked",
    },
    "verify_signing_time": {
        Lang.VI: "Thời điểm ký (theo người ký): {time}",
        Lang.EN: "Signing time (as claimed by the signer): {time}",
    },
    "verify_no_signing_time": {
        Lang.VI: "Thời điểm ký: không có",
        Lang.EN: "Signing time: none",
    },
    "verify_timestamp_valid": {
        Lang.VI: "Dấu thời gian: {time} (hợp lệ)",
        Lang.EN: "Timestamp: {time} (valid)",
    },
    "verify_timestamp_invalid": {
        Lang.VI: "Dấu thời gian: {time} (KHÔNG hợp lệ)",
        Lang.EN: "Timestamp: {time} (NOT valid)",
    },
    "verify_no_timestamp": {
        Lang.VI: "Dấu thời gian: không có",
        Lang.EN: "Timestamp: none",
    },
    "verify_coverage_entire": {
        Lang.VI: "Phạm vi: toàn bộ tài liệu",
        Lang.EN: "Coverage: the entire document",
    },
    "verify_coverage_revision": {
        Lang.VI: "Phạm vi: phiên bản đã ký; sau đó chỉ có thêm {what}",
        Lang.EN: "Coverage: the signed revision; later only {what} were added",
    },
    "verify_coverage_modified": {
        Lang.VI: "Phạm vi: có thay đổi sau khi ký: {what}",
        Lang.EN: "Coverage: changed after signing: {what}",
    },
    "verify_coverage_partial": {
        Lang.VI: "Phạm vi: chữ ký chỉ bao phủ một phần tài liệu",
        Lang.EN: "Coverage: the signature covers only part of the document",
    },
    "verify_modified_lta": {
        Lang.VI: "dữ liệu phục vụ kiểm tra lâu dài",
        Lang.EN: "long-term validation data",
    },
    "verify_modified_form": {
        Lang.VI: "chữ ký số khác hoặc nội dung điền biểu mẫu",
        Lang.EN: "further signatures or form field values",
    },
    "verify_modified_annotations": {
        Lang.VI: "chú thích (annotation)",
        Lang.EN: "annotations",
    },
    "verify_modified_other": {
        Lang.VI: "nội dung tài liệu đã bị sửa",
        Lang.EN: "the document's content was altered",
    },
    "verify_modified_unknown": {
        Lang.VI: "không phân tích được các thay đổi",
        Lang.EN: "the changes could not be analysed",
    },
    "verify_level": {Lang.VI: "Định dạng: PAdES {level}", Lang.EN: "Format: PAdES {level}"},
    "verify_problems": {Lang.VI: "Vấn đề: {problems}", Lang.EN: "Problems: {problems}"},
    "verify_time": {
        Lang.VI: "{moment:%H:%M:%S} ngày {moment:%d/%m/%Y} (UTC{offset})",
        Lang.EN: "{moment:%Y-%m-%d %H:%M:%S} (UTC{offset})",
    },
    # One per Problem: "verify_problem_" + the code with "-" as "_".
    "verify_problem_malformed_signature": {
        Lang.VI: "dữ liệu chữ ký bị hỏng",
        Lang.EN: "the signature data is damaged",
    },
    "verify_problem_unsupported_format": {
        Lang.VI: "định dạng chữ ký không được hỗ trợ",
        Lang.EN: "unsupported signature format",
    },
    "verify_problem_validation_error": {
        Lang.VI: "lỗi khi kiểm tra chữ ký",
        Lang.EN: "the signature could not be checked",
    },
    "verify_problem_digest_mismatch": {
        Lang.VI: "giá trị băm không khớp",
        Lang.EN: "digest mismatch",
    },
    "verify_problem_bad_signature": {
        Lang.VI: "chữ ký sai",
        Lang.EN: "wrong signature value",
    },
    "verify_problem_untrusted": {
        Lang.VI: "chứng thư không thuộc tổ chức chứng thực được tin cậy",
        Lang.EN: "the certificate does not chain to a trusted root",
    },
    "verify_problem_certificate_expired": {
        Lang.VI: "chứng thư đã hết hạn",
        Lang.EN: "the certificate has expired",
    },
    "verify_problem_certificate_not_yet_valid": {
        Lang.VI: "chứng thư chưa có hiệu lực",
        Lang.EN: "the certificate is not valid yet",
    },
    "verify_problem_key_usage": {
        Lang.VI: "chứng thư không dùng để ký hoặc chuỗi chứng thư không hợp lệ",
        Lang.EN: "the certificate is not for signing or its chain is invalid",
    },
    "verify_problem_weak_algorithm": {
        Lang.VI: "thuật toán không còn an toàn",
        Lang.EN: "an algorithm that is no longer accepted",
    },
    "verify_problem_revoked": {
        Lang.VI: "chứng thư đã bị thu hồi",
        Lang.EN: "the certificate is revoked",
    },
    "verify_problem_revocation_unknown": {
        Lang.VI: "không xác định được tình trạng thu hồi",
        Lang.EN: "revocation status unknown",
    },
    "verify_problem_expired_at_signing": {
        Lang.VI: "chứng thư đã hết hạn vào thời điểm ký",
        Lang.EN: "the certificate had expired at the signing time",
    },
    "verify_problem_not_yet_valid_at_signing": {
        Lang.VI: "chứng thư chưa có hiệu lực vào thời điểm ký",
        Lang.EN: "the certificate was not yet valid at the signing time",
    },
    "verify_problem_timestamp_invalid": {
        Lang.VI: "dấu thời gian không hợp lệ",
        Lang.EN: "the timestamp is not valid",
    },
    "verify_problem_modified_after": {
        Lang.VI: "tài liệu bị sửa sau khi ký",
        Lang.EN: "the document was altered after signing",
    },
    "verify_problem_partial_coverage": {
        Lang.VI: "chữ ký không bao phủ toàn bộ phiên bản đã ký",
        Lang.EN: "the signature does not cover its whole revision",
    },
    "verify_problem_modifications_unchecked": {
        Lang.VI: "không phân tích được các thay đổi sau khi ký",
        Lang.EN: "later changes could not be analysed",
    },
    "verify_problem_seed_value_violation": {
        Lang.VI: "chữ ký không tuân theo ràng buộc của trường chữ ký",
        Lang.EN: "the signature ignores its field's constraints",
    },
    "verify_problem_lenient_syntax": {
        Lang.VI: "tệp PDF có lỗi cú pháp",
        Lang.EN: "the PDF file has syntax errors",
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
