"""The catalogue of every text a person reads: Vietnamese first, then English.

Logic refers to messages by key; only this module holds wording. Keys are stable
so that translations and the browser client can follow them.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from agent.quality import quality_values


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
            "/v1/pdf/sign và /v1/pdf/verify nhận thêm multipart/form-data và application/pdf."
        ),
        Lang.EN: (
            "The body must be JSON (Content-Type: application/json); "
            "/v1/pdf/sign and /v1/pdf/verify also take multipart/form-data and application/pdf."
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
    "TOKEN_MODULE_FAILED": {
        Lang.VI: (
            "Trình điều khiển của USB token bị lỗi và đang được khởi động lại. "
            "Tài liệu chưa được ký; hãy thử lại sau giây lát."
        ),
        Lang.EN: (
            "The USB token's driver failed and is being restarted. "
            "Nothing was signed; try again in a moment."
        ),
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
    "STORAGE_FAILED": {
        Lang.VI: (
            "Kyso Agent không ghi được tài liệu vào ổ đĩa của máy tính (có thể ổ đĩa đã đầy). "
            "Tài liệu chưa được ký hay kiểm tra; hãy giải phóng dung lượng ổ đĩa rồi thử lại."
        ),
        Lang.EN: (
            "Kyso Agent could not write the document to this computer's disk (it may be full). "
            "Nothing was signed or checked; free some disk space and try again."
        ),
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
    # --- waiting for the token, a batch's progress (agent/consent/console.py)
    "console_wait_token": {
        Lang.VI: (
            "Chưa thấy USB token. Hãy cắm USB token để ký cho {origin}: yêu cầu tự tiếp tục "
            "khi token được cắm (chờ tối đa {seconds} giây; Ctrl+C để hủy)."
        ),
        Lang.EN: (
            "No USB token found. Plug in your USB token to sign for {origin}: the request "
            "goes on by itself once it is in (waiting up to {seconds} seconds; Ctrl+C cancels)."
        ),
    },
    "console_wait_certificate": {
        Lang.VI: "Cần token chứa chứng thư số: {subject}",
        Lang.EN: "The token must hold the certificate: {subject}",
    },
    "console_progress": {
        Lang.VI: "Đã ký {done}/{total} tài liệu.",
        Lang.EN: "Signed {done} of {total} {total:document|documents}.",
    },
    "console_pin_cached": {
        Lang.VI: "Mã PIN đã nhớ theo chính sách của đơn vị sẽ được dùng.",
        Lang.EN: "The PIN remembered under your organisation's policy will be used.",
    },
    "CALLER_NOT_ALLOWED": {
        Lang.VI: "Kết nối đến từ một người dùng khác trên máy này và đã bị từ chối.",
        Lang.EN: "The connection comes from another user on this computer and was refused.",
    },
    # The consent and PIN dialog (agent/ui/dialog.py).
    "dialog_title_sign": {
        Lang.VI: "Kyso Agent — Yêu cầu ký số",
        Lang.EN: "Kyso Agent — Signing request",
    },
    "dialog_title_select": {
        Lang.VI: "Kyso Agent — Yêu cầu đọc chứng thư số",
        Lang.EN: "Kyso Agent — Certificate request",
    },
    "dialog_heading_sign": {
        Lang.VI: "Một trang web yêu cầu bạn ký số",
        Lang.EN: "A web portal asks you to sign",
    },
    "dialog_heading_select": {
        Lang.VI: "Một trang web muốn đọc chứng thư số của bạn",
        Lang.EN: "A web portal wants to read your certificate",
    },
    "dialog_heading_sign_local": {
        Lang.VI: "Bạn đang ký số một tệp trên máy tính này",
        Lang.EN: "You are signing a file from this computer",
    },
    "dialog_heading_select_local": {
        Lang.VI: "Kyso Agent trên máy tính này cần chứng thư số của bạn",
        Lang.EN: "Kyso Agent on this computer needs your certificate",
    },
    "dialog_origin": {Lang.VI: "Trang web yêu cầu:", Lang.EN: "Requested by:"},
    "dialog_first_use": {
        Lang.VI: "Đây là lần đầu tiên trang này yêu cầu. "
        "Đồng ý cũng là cho phép trang này dùng Kyso Agent từ nay về sau.",
        Lang.EN: "This is the first request from this portal. "
        "Approving also allows it to use Kyso Agent from now on.",
    },
    "dialog_retry_pin": {
        Lang.VI: "Mã PIN vừa nhập không đúng. Hãy nhập lại.",
        Lang.EN: "The PIN you entered is incorrect. Please try again.",
    },
    "dialog_documents_one": {Lang.VI: "Tài liệu sẽ ký:", Lang.EN: "Document to sign:"},
    "dialog_documents_many": {
        Lang.VI: "{count} tài liệu sẽ được ký:",
        Lang.EN: "{count} documents will be signed:",
    },
    "dialog_documents_scroll": {
        Lang.VI: "Cuộn để xem đủ {count} tài liệu.",
        Lang.EN: "Scroll to see all {count} documents.",
    },
    "dialog_preview_stamp": {
        Lang.VI: "Trang {page}/{pages} — khung đỏ là chỗ đặt chữ ký.",
        Lang.EN: "Page {page} of {pages} — the red box is where the signature goes.",
    },
    "dialog_preview_invisible": {
        Lang.VI: "Trang {page}/{pages} — chữ ký này không hiện trên trang.",
        Lang.EN: "Page {page} of {pages} — this signature is not drawn on the page.",
    },
    "dialog_open_document": {Lang.VI: "Mở tài liệu…", Lang.EN: "Open document…"},
    "dialog_open_failed": {
        Lang.VI: "Không mở được tài liệu: máy chưa có chương trình xem PDF.",
        Lang.EN: "The document could not be opened: no PDF viewer is set up.",
    },
    "dialog_unnamed": {Lang.VI: "(không tên)", Lang.EN: "(unnamed)"},
    "dialog_document_from": {
        Lang.VI: "Lấy từ: {origin} (không phải trang yêu cầu)",
        Lang.EN: "Taken from: {origin} (not the requesting page)",
    },
    "dialog_document_to": {
        Lang.VI: "Bản đã ký gửi tới: {origin} (không phải trang yêu cầu)",
        Lang.EN: "Signed copy sent to: {origin} (not the requesting page)",
    },
    "dialog_fingerprint": {
        Lang.VI: "Mã băm {algorithm}: {fingerprint}",
        Lang.EN: "{algorithm} fingerprint: {fingerprint}",
    },
    "dialog_certificate_one": {Lang.VI: "Chứng thư số:", Lang.EN: "Certificate:"},
    "dialog_certificate_choose": {
        Lang.VI: "Chọn chứng thư số ({count}):",
        Lang.EN: "Choose a certificate ({count}):",
    },
    "dialog_organisation": {Lang.VI: "Đơn vị: {value}", Lang.EN: "Organisation: {value}"},
    "dialog_issuer": {Lang.VI: "Cấp bởi: {value}", Lang.EN: "Issued by: {value}"},
    "dialog_valid_until": {Lang.VI: "Hiệu lực đến: {date}", Lang.EN: "Valid until: {date}"},
    "dialog_token": {Lang.VI: "Token: {label}", Lang.EN: "Token: {label}"},
    "dialog_pin_label": {Lang.VI: "Mã PIN:", Lang.EN: "PIN:"},
    "dialog_pinpad": {
        Lang.VI: "Sau khi bấm Ký, hãy nhập mã PIN trên bàn phím của đầu đọc.",
        Lang.EN: "After pressing Sign, enter the PIN on the reader's keypad.",
    },
    "dialog_pin_cached": {
        Lang.VI: "Mã PIN đã nhớ theo chính sách của đơn vị sẽ được dùng; không cần nhập lại.",
        Lang.EN: "The PIN remembered under your organisation's policy will be used.",
    },
    "dialog_pin_low": {
        Lang.VI: "Cảnh báo: chỉ còn ít lần nhập mã PIN. Hãy nhập cẩn thận.",
        Lang.EN: "Warning: few PIN attempts remain. Type carefully.",
    },
    "dialog_pin_final": {
        Lang.VI: "CẢNH BÁO: đây là lần nhập mã PIN cuối cùng. Nếu sai, token sẽ bị khóa.",
        Lang.EN: "WARNING: this is the final PIN attempt. A wrong PIN locks the token.",
    },
    "dialog_final_tick": {
        Lang.VI: "Tôi hiểu và vẫn muốn thử lần cuối",
        Lang.EN: "I understand and want to make the final attempt",
    },
    "dialog_sign": {Lang.VI: "Ký", Lang.EN: "Sign"},
    "dialog_allow": {Lang.VI: "Đồng ý", Lang.EN: "Allow"},
    "dialog_cancel": {Lang.VI: "Hủy", Lang.EN: "Cancel"},
    "dialog_keys": {
        Lang.VI: "Enter = {approve} · Esc = {cancel}",
        Lang.EN: "Enter = {approve} · Esc = {cancel}",
    },
    "dialog_countdown": {
        Lang.VI: "Tự động hủy sau {time}",
        Lang.EN: "Cancels by itself in {time}",
    },
    "dialog_need_pin": {Lang.VI: "Hãy nhập mã PIN.", Lang.EN: "Enter the PIN."},
    "dialog_need_tick": {
        Lang.VI: "Hãy đánh dấu ô xác nhận để thử lần cuối.",
        Lang.EN: "Tick the box to make the final attempt.",
    },
    "dialog_need_certificate": {
        Lang.VI: "Hãy chọn một chứng thư số.",
        Lang.EN: "Choose a certificate.",
    },
    # --- activity window (agent/ui/activity.py)
    # While the agent waits for the token, or signs a batch after the one consent.
    "activity_wait_title": {
        Lang.VI: "Kyso Agent — Đang chờ USB token",
        Lang.EN: "Kyso Agent — Waiting for the USB token",
    },
    "activity_wait_heading": {
        Lang.VI: "Hãy cắm USB token",
        Lang.EN: "Plug in your USB token",
    },
    "activity_wait_explain": {
        Lang.VI: "Yêu cầu của trang web này sẽ tự tiếp tục khi bạn cắm token.",
        Lang.EN: "The portal's request goes on by itself once the token is in.",
    },
    "activity_wait_explain_local": {
        Lang.VI: "Việc ký sẽ tự tiếp tục khi bạn cắm token.",
        Lang.EN: "Signing goes on by itself once the token is in.",
    },
    "activity_wait_holder": {
        Lang.VI: "Token chứa chứng thư số của: {holder}",
        Lang.EN: "Token with the certificate of: {holder}",
    },
    "activity_progress_title": {
        Lang.VI: "Kyso Agent — Đang ký tài liệu",
        Lang.EN: "Kyso Agent — Signing documents",
    },
    "activity_progress_heading": {
        Lang.VI: "Đang ký tài liệu",
        Lang.EN: "Signing documents",
    },
    "activity_progress_count": {
        Lang.VI: "Đã ký {done}/{total} tài liệu",
        Lang.EN: "Signed {done} of {total} {total:document|documents}",
    },
    "activity_progress_starting": {
        Lang.VI: "Đang chuẩn bị…",
        Lang.EN: "Getting ready…",
    },
    "activity_progress_current": {
        Lang.VI: "Đang ký: {name}",
        Lang.EN: "Now signing: {name}",
    },
    "activity_progress_unnamed": {
        Lang.VI: "Đang ký tài liệu thứ {number}",
        Lang.EN: "Now signing document {number}",
    },
    "activity_progress_finished": {
        Lang.VI: "Đã ký xong.",
        Lang.EN: "All signed.",
    },
    "activity_progress_stopping": {
        Lang.VI: "Đang dừng sau tài liệu đang ký…",
        Lang.EN: "Stopping after the current document…",
    },
    "activity_stop": {Lang.VI: "Dừng", Lang.EN: "Stop"},
    "activity_keys": {Lang.VI: "Esc = {button}", Lang.EN: "Esc = {button}"},
    # The tray (kyso-agent run) and its small windows.
    "tray_state_no_token": {
        Lang.VI: "Chưa cắm USB token",
        Lang.EN: "No token plugged in",
    },
    "tray_state_ready": {
        Lang.VI: "Sẵn sàng ký số",
        Lang.EN: "Ready to sign",
    },
    "tray_state_expiring": {
        Lang.VI: "Chứng thư số sắp hết hạn",
        Lang.EN: "Certificate expiring soon",
    },
    "tray_state_pin_locked": {
        Lang.VI: "Mã PIN đã bị khóa",
        Lang.EN: "PIN locked",
    },
    "tray_state_error": {
        Lang.VI: "Kyso Agent gặp lỗi — xem nhật ký",
        Lang.EN: "Kyso Agent error — see the log",
    },
    "tray_no_module": {
        Lang.VI: "Không tìm thấy trình điều khiển PKCS#11 của token",
        Lang.EN: "No PKCS#11 module found for the token",
    },
    "tray_tooltip_token": {
        Lang.VI: "Token {label}: {count} chứng thư số",
        Lang.EN: "Token {label}: {count} {count:certificate|certificates}",
    },
    "tray_cert_days_left": {
        Lang.VI: "{holder}: còn {days} ngày",
        Lang.EN: "{holder}: {days} days left",
    },
    "tray_cert_expired": {
        Lang.VI: "{holder}: đã hết hạn",
        Lang.EN: "{holder}: expired",
    },
    "tray_menu_status": {
        Lang.VI: "Xem báo cáo trạng thái…",
        Lang.EN: "Show status report…",
    },
    "tray_menu_token": {
        Lang.VI: "Token {label} (số sê-ri {serial})",
        Lang.EN: "Token {label} (serial {serial})",
    },
    "tray_menu_token_locked": {
        Lang.VI: "Token {label}: mã PIN đã bị khóa",
        Lang.EN: "Token {label}: PIN locked",
    },
    "tray_menu_cert": {
        Lang.VI: "{holder} — hết hạn {date}",
        Lang.EN: "{holder} — expires {date}",
    },
    "tray_menu_cert_expired": {
        Lang.VI: "{holder} — đã hết hạn {date}",
        Lang.EN: "{holder} — expired {date}",
    },
    "tray_menu_sign_pdf": {
        Lang.VI: "Ký tệp PDF…",
        Lang.EN: "Sign a PDF file…",
    },
    "tray_menu_verify_pdf": {
        Lang.VI: "Kiểm tra chữ ký PDF…",
        Lang.EN: "Check PDF signatures…",
    },
    "tray_menu_copy_status": {
        Lang.VI: "Sao chép báo cáo trạng thái",
        Lang.EN: "Copy status report",
    },
    "tray_menu_portals": {
        Lang.VI: "Cổng thông tin đã cho phép",
        Lang.EN: "Approved portals",
    },
    "tray_menu_portals_none": {
        Lang.VI: "(chưa có cổng nào)",
        Lang.EN: "(none)",
    },
    "tray_menu_revoke": {
        Lang.VI: "Thu hồi quyền",
        Lang.EN: "Revoke",
    },
    "tray_menu_open_logs": {
        Lang.VI: "Mở thư mục nhật ký",
        Lang.EN: "Open logs folder",
    },
    "tray_menu_autostart": {
        Lang.VI: "Khởi động cùng máy tính",
        Lang.EN: "Start at login",
    },
    "tray_menu_language": {
        Lang.VI: "Ngôn ngữ (Language)",
        Lang.EN: "Language (Ngôn ngữ)",
    },
    "tray_menu_about": {
        Lang.VI: "Giới thiệu",
        Lang.EN: "About",
    },
    "tray_menu_quit": {
        Lang.VI: "Thoát",
        Lang.EN: "Quit",
    },
    "tray_notify_inserted": {
        Lang.VI: "Đã cắm token {label}",
        Lang.EN: "Token {label} plugged in",
    },
    "tray_notify_removed": {
        Lang.VI: "Đã rút token {label}",
        Lang.EN: "Token {label} removed",
    },
    "tray_notify_expiring": {
        Lang.VI: (
            "Chứng thư số của {holder} còn {days} ngày nữa hết hạn ({date}). "
            "Hãy liên hệ nhà cung cấp để gia hạn."
        ),
        Lang.EN: (
            "The certificate of {holder} expires in {days} days ({date}). "
            "Contact your provider to renew it."
        ),
    },
    "tray_notify_expired": {
        Lang.VI: "Chứng thư số của {holder} đã hết hạn ngày {date}.",
        Lang.EN: "The certificate of {holder} expired on {date}.",
    },
    "tray_notify_signed": {
        Lang.VI: "Đã ký và lưu: {path}",
        Lang.EN: "Signed and saved: {path}",
    },
    "tray_notify_sign_failed": {
        Lang.VI: "Không ký được tệp: {reason}",
        Lang.EN: "The file was not signed: {reason}",
    },
    "tray_notify_copied": {
        Lang.VI: "Đã sao chép báo cáo trạng thái",
        Lang.EN: "Status report copied",
    },
    "tray_notify_copy_failed": {
        Lang.VI: "Không sao chép được; báo cáo được hiển thị để bạn tự sao chép",
        Lang.EN: "Could not copy; the report is shown so that you can copy it",
    },
    "tray_notify_revoked": {
        Lang.VI: "Đã thu hồi quyền của {origin}",
        Lang.EN: "Revoked {origin}",
    },
    "tray_notify_agent_error": {
        Lang.VI: "Kyso Agent ngừng hoạt động: {reason}",
        Lang.EN: "Kyso Agent stopped working: {reason}",
    },
    "tray_sign_title": {
        Lang.VI: "Ký tệp PDF",
        Lang.EN: "Sign a PDF file",
    },
    "tray_verify_title": {
        Lang.VI: "Kiểm tra chữ ký PDF",
        Lang.EN: "Check PDF signatures",
    },
    "tray_choose_pdf": {
        Lang.VI: "Chọn tệp PDF…",
        Lang.EN: "Choose a PDF file…",
    },
    "tray_no_file": {
        Lang.VI: "(chưa chọn tệp)",
        Lang.EN: "(no file chosen)",
    },
    "tray_pdf_files": {
        Lang.VI: "Tệp PDF",
        Lang.EN: "PDF files",
    },
    "tray_sign_profile": {
        Lang.VI: "Kiểu hiển thị chữ ký",
        Lang.EN: "Signature appearance",
    },
    "tray_profile_invisible": {
        Lang.VI: "Không hiển thị (chỉ chữ ký số)",
        Lang.EN: "Invisible (digital signature only)",
    },
    "tray_profile_personal": {
        Lang.VI: "Chữ ký cá nhân",
        Lang.EN: "Personal signature",
    },
    "tray_profile_organization": {
        Lang.VI: "Chữ ký của cơ quan, tổ chức",
        Lang.EN: "Organisation signature",
    },
    "tray_profile_attachment": {
        Lang.VI: "Ký văn bản kèm theo",
        Lang.EN: "Attachment signature",
    },
    "tray_sign_note": {
        Lang.VI: "Tệp đã ký được lưu cạnh tệp gốc, tên kết thúc bằng -signed.pdf.",
        Lang.EN: "The signed file is saved next to the original, its name ending in -signed.pdf.",
    },
    "tray_sign_button": {
        Lang.VI: "Ký",
        Lang.EN: "Sign",
    },
    "tray_check_button": {
        Lang.VI: "Kiểm tra",
        Lang.EN: "Check",
    },
    "tray_cancel": {
        Lang.VI: "Hủy",
        Lang.EN: "Cancel",
    },
    "tray_close": {
        Lang.VI: "Đóng",
        Lang.EN: "Close",
    },
    "tray_copy": {
        Lang.VI: "Sao chép",
        Lang.EN: "Copy",
    },
    "tray_status_title": {
        Lang.VI: "Báo cáo trạng thái Kyso Agent",
        Lang.EN: "Kyso Agent status report",
    },
    "tray_about_title": {
        Lang.VI: "Giới thiệu Kyso Agent",
        Lang.EN: "About Kyso Agent",
    },
    "tray_about_text": {
        Lang.VI: (
            "Kyso Agent {version}\n"
            "Ký số từ mọi cổng thông tin, bằng USB token của bạn.\n"
            "Phần mềm mã nguồn mở, giấy phép Apache-2.0.\n\n"
            "Địa chỉ: {url}\nDữ liệu: {data_dir}"
        ),
        Lang.EN: (
            "Kyso Agent {version}\n"
            "Sign documents from any web portal with your USB token.\n"
            "Open source, Apache-2.0 licence.\n\n"
            "Address: {url}\nData: {data_dir}"
        ),
    },
    # The helpdesk status report (kyso-agent status, GET / and /status.json, the tray).
    "status_title": {
        Lang.VI: "BÁO CÁO TRẠNG THÁI KYSO AGENT",
        Lang.EN: "KYSO AGENT STATUS REPORT",
    },
    "status_generated": {Lang.VI: "Lập lúc: {time}", Lang.EN: "Generated: {time}"},
    "status_layer_ports_taken": {
        Lang.VI: (
            "Cổng {ports} của {product} đang bị chương trình khác chiếm: các cổng thông tin dùng"
            " {product} chưa ký được. Kyso Agent thử lại sau mỗi {seconds:.0f} giây."
        ),
        Lang.EN: (
            "The {product} port {ports} is held by another program: portals built for"
            " {product} cannot sign yet. Kyso Agent tries again every {seconds:.0f} seconds."
        ),
    },
    "status_version": {
        Lang.VI: "Phiên bản: {version} ({python})",
        Lang.EN: "Version: {version} ({python})",
    },
    "status_running": {
        Lang.VI: "Trạng thái: đang chạy trên cổng {port}, từ {since} (đã chạy {uptime})",
        Lang.EN: "State: running on port {port} since {since} (up {uptime})",
    },
    "status_not_running": {
        Lang.VI: "Trạng thái: Kyso Agent KHÔNG chạy; báo cáo này do lệnh kyso-agent status "
        "tự đọc token.",
        Lang.EN: "State: Kyso Agent is NOT running; kyso-agent status read the tokens itself.",
    },
    "status_uptime": {
        Lang.VI: "{days} ngày {hours} giờ {minutes} phút",
        Lang.EN: "{days} d {hours} h {minutes} min",
    },
    "status_data_dir": {Lang.VI: "Thư mục dữ liệu: {path}", Lang.EN: "Data directory: {path}"},
    "status_attention_heading": {Lang.VI: "CẦN CHÚ Ý:", Lang.EN: "NEEDS ATTENTION:"},
    "status_attention_no_module": {
        Lang.VI: "Không tìm thấy mô-đun PKCS#11 nào: hãy cài phần mềm của token (CA).",
        Lang.EN: "No PKCS#11 module found: install the token's software (from the CA).",
    },
    "status_attention_module_failed": {
        Lang.VI: "Mô-đun {path} không nạp/đọc được.",
        Lang.EN: "Module {path} failed to load or read.",
    },
    "status_attention_no_token": {
        Lang.VI: "Không thấy token nào: hãy cắm USB token.",
        Lang.EN: "No token seen: insert the USB token.",
    },
    "status_attention_pin_locked": {
        Lang.VI: "PIN của token {label} đã bị khóa: cần mở khóa (liên hệ CA).",
        Lang.EN: "The PIN of token {label} is locked: it must be unlocked (contact the CA).",
    },
    "status_attention_pin_final": {
        Lang.VI: "Token {label} chỉ còn 1 lần nhập PIN.",
        Lang.EN: "Token {label} has one PIN try left.",
    },
    "status_attention_cert_expiring": {
        Lang.VI: "Chứng thư số của {holder} sắp hết hạn (còn {days} ngày): hãy gia hạn.",
        Lang.EN: "The certificate of {holder} expires soon ({days} days left): renew it.",
    },
    "status_attention_cert_expired": {
        Lang.VI: "Chứng thư số của {holder} đã hết hạn.",
        Lang.EN: "The certificate of {holder} has expired.",
    },
    "status_attention_tls": {
        Lang.VI: "Chứng chỉ TLS cục bộ thiếu hoặc hết hạn: hãy khởi động lại Kyso Agent.",
        Lang.EN: "The local TLS certificate is missing or expired: restart Kyso Agent.",
    },
    "status_attention_ca_untrusted": {
        Lang.VI: "Chưa nơi nào tin cậy CA cục bộ {path}: trình duyệt sẽ không kết nối được.",
        Lang.EN: "No store trusts the local CA {path}: browsers cannot connect.",
    },
    "status_tls_heading": {
        Lang.VI: "Chứng chỉ TLS cục bộ (CA: {path}):",
        Lang.EN: "Local TLS certificate (CA: {path}):",
    },
    "status_tls_valid": {
        Lang.VI: "  hiệu lực đến {not_after} (còn {days} ngày)",
        Lang.EN: "  valid until {not_after} ({days} days left)",
    },
    "status_tls_expiring": {
        Lang.VI: "  hết hạn {not_after} (còn {days} ngày); Kyso Agent sẽ tự cấp lại, "
        "sau đó phải tin cậy lại ca.pem",
        Lang.EN: "  expires {not_after} ({days} days left); Kyso Agent renews it, "
        "then ca.pem must be trusted again",
    },
    "status_tls_expired": {
        Lang.VI: "  ĐÃ HẾT HẠN {not_after}: hãy khởi động lại Kyso Agent",
        Lang.EN: "  EXPIRED {not_after}: restart Kyso Agent",
    },
    "status_tls_missing": {
        Lang.VI: "  chưa có (Kyso Agent chưa chạy lần nào với thư mục dữ liệu này)",
        Lang.EN: "  none yet (Kyso Agent never ran with this data directory)",
    },
    "status_tls_fingerprint": {
        Lang.VI: "  Vân tay CA (SHA-256): {fingerprint}",
        Lang.EN: "  CA fingerprint (SHA-256): {fingerprint}",
    },
    "status_trust_line": {Lang.VI: "  {store}: {verdict}", Lang.EN: "  {store}: {verdict}"},
    "status_store_system": {
        Lang.VI: "Kho chứng chỉ hệ điều hành ({location})",
        Lang.EN: "Operating system store ({location})",
    },
    "status_store_nss": {
        Lang.VI: "Chrome/Chromium ({location})",
        Lang.EN: "Chrome/Chromium ({location})",
    },
    "status_store_firefox": {Lang.VI: "Firefox ({location})", Lang.EN: "Firefox ({location})"},
    "status_store_windows": {
        Lang.VI: "Windows, kho Root của người dùng (Chrome, Edge)",
        Lang.EN: "Windows, the user's Root store (Chrome, Edge)",
    },
    "status_store_macos": {Lang.VI: "Keychain của macOS", Lang.EN: "macOS keychain"},
    "status_trust_trusted": {Lang.VI: "tin cậy", Lang.EN: "trusted"},
    "status_trust_not_trusted": {Lang.VI: "CHƯA tin cậy", Lang.EN: "NOT trusted"},
    "status_trust_unknown": {Lang.VI: "không xác định", Lang.EN: "unknown"},
    "status_reason_untrusted_entry": {
        Lang.VI: "có CA nhưng chưa bật tin cậy cho trang web",
        Lang.EN: "the CA is there but not trusted for websites",
    },
    "status_reason_no_tool": {
        Lang.VI: "thiếu công cụ certutil",
        Lang.EN: "the certutil tool is missing",
    },
    "status_reason_no_database": {
        Lang.VI: "không có cơ sở dữ liệu chứng chỉ",
        Lang.EN: "no certificate database",
    },
    "status_reason_tool_failed": {
        Lang.VI: "certutil báo lỗi",
        Lang.EN: "certutil failed",
    },
    "status_reason_api_failed": {
        Lang.VI: "Windows không đọc được kho chứng chỉ",
        Lang.EN: "Windows could not read its certificate store",
    },
    "status_reason_not_checked": {Lang.VI: "chưa kiểm tra được", Lang.EN: "not checked"},
    "status_modules_heading": {Lang.VI: "Mô-đun PKCS#11:", Lang.EN: "PKCS#11 modules:"},
    "status_modules_none": {
        Lang.VI: "  (không tìm thấy mô-đun nào: không token nào dùng được)",
        Lang.EN: "  (none found: no token can be used)",
    },
    "status_module_loaded": {
        Lang.VI: "  {path}: đã nạp ({description})",
        Lang.EN: "  {path}: loaded ({description})",
    },
    "status_module_failed": {
        Lang.VI: "  {path}: LỖI, không nạp được — {error}",
        Lang.EN: "  {path}: FAILED to load — {error}",
    },
    "status_module_read_failed": {
        Lang.VI: "  {path}: đã nạp nhưng đọc LỖI — {error}",
        Lang.EN: "  {path}: loaded but reading FAILED — {error}",
    },
    "tokens_no_module": {
        Lang.VI: "Không có mô-đun PKCS#11 nào được cấu hình hoặc tìm thấy.",
        Lang.EN: "No PKCS#11 module configured or found.",
    },
    "tokens_module": {Lang.VI: "Mô-đun {path} [{state}]", Lang.EN: "Module {path} [{state}]"},
    "tokens_module_loaded": {Lang.VI: "đã nạp", Lang.EN: "loaded"},
    "tokens_module_failed": {Lang.VI: "LỖI", Lang.EN: "FAILED"},
    "tokens_module_error": {Lang.VI: "  lỗi: {error}", Lang.EN: "  error: {error}"},
    "tokens_no_token": {Lang.VI: "  không có token nào", Lang.EN: "  no token present"},
    "tokens_token": {
        Lang.VI: "  Token {label!r} số sê-ri {serial} ({maker}, khe {slot}) PIN {pin}",
        Lang.EN: "  Token {label!r} serial {serial} ({maker}, slot {slot}) PIN {pin}",
    },
    "tokens_pin_tries": {Lang.VI: "lần-thử:{state}", Lang.EN: "tries:{state}"},
    "tokens_pin_pinpad": {Lang.VI: "pinpad", Lang.EN: "pinpad"},
    "tokens_no_certificate": {Lang.VI: "    không có chứng thư số", Lang.EN: "    no certificate"},
    "tokens_certificate": {
        Lang.VI: "    Chứng thư số [{kind}] {subject}",
        Lang.EN: "    Certificate [{kind}] {subject}",
    },
    "tokens_certificate_issuer": {
        Lang.VI: "      bên cấp  {issuer}",
        Lang.EN: "      issuer  {issuer}",
    },
    "tokens_certificate_valid": {
        Lang.VI: "      hiệu lực {not_before} .. {not_after}",
        Lang.EN: "      valid   {not_before} .. {not_after}",
    },
    "status_tokens_heading": {Lang.VI: "Token:", Lang.EN: "Tokens:"},
    "status_tokens_none": {
        Lang.VI: "  (không thấy token nào)",
        Lang.EN: "  (no token seen)",
    },
    "status_token": {
        Lang.VI: "  {label} — số sê-ri {serial} ({maker}); PIN: {pin}",
        Lang.EN: "  {label} — serial {serial} ({maker}); PIN: {pin}",
    },
    "status_pin_ok": {Lang.VI: "bình thường", Lang.EN: "ok"},
    "status_pin_low": {Lang.VI: "đã nhập sai gần đây", Lang.EN: "recent wrong tries"},
    "status_pin_final": {Lang.VI: "CÒN 1 LẦN THỬ", Lang.EN: "ONE TRY LEFT"},
    "status_pin_locked": {Lang.VI: "ĐÃ KHÓA", Lang.EN: "LOCKED"},
    "status_pin_pinpad": {
        Lang.VI: " (nhập PIN trên đầu đọc)",
        Lang.EN: " (PIN entered on the reader)",
    },
    "status_pin_not_initialized": {Lang.VI: "; chưa đặt PIN", Lang.EN: "; no PIN set"},
    "status_pin_to_be_changed": {Lang.VI: "; phải đổi PIN", Lang.EN: "; PIN must be changed"},
    "status_certs_heading": {Lang.VI: "Chứng thư số:", Lang.EN: "Certificates:"},
    "status_certs_none": {
        Lang.VI: "  (không có chứng thư số nào)",
        Lang.EN: "  (no certificate)",
    },
    "status_cert": {
        Lang.VI: "  {holder} — cấp bởi {issuer} — trên token {token}",
        Lang.EN: "  {holder} — issued by {issuer} — on token {token}",
    },
    "status_cert_valid": {
        Lang.VI: "    hiệu lực {not_before} → {not_after}; còn {days} ngày",
        Lang.EN: "    valid {not_before} → {not_after}; {days} days left",
    },
    "status_cert_expiring": {
        Lang.VI: "    hiệu lực {not_before} → {not_after}; còn {days} ngày — SẮP HẾT HẠN",
        Lang.EN: "    valid {not_before} → {not_after}; {days} days left — EXPIRING",
    },
    "status_cert_expired": {
        Lang.VI: "    hiệu lực {not_before} → {not_after} — ĐÃ HẾT HẠN",
        Lang.EN: "    valid {not_before} → {not_after} — EXPIRED",
    },
    "status_cert_not_yet_valid": {
        Lang.VI: "    hiệu lực {not_before} → {not_after} — CHƯA CÓ HIỆU LỰC",
        Lang.EN: "    valid {not_before} → {not_after} — NOT YET VALID",
    },
    "tray_menu_listeners": {
        Lang.VI: "Tương thích plugin khác",
        Lang.EN: "Other plugins' protocols",
    },
    "tray_listener_on": {
        Lang.VI: "{product}: cổng {port}",
        Lang.EN: "{product}: port {port}",
    },
    "tray_listener_held": {
        Lang.VI: "{product}: cổng {port} ({ports} do chương trình khác giữ)",
        Lang.EN: "{product}: port {port} ({ports} held by another program)",
    },
    "tray_listener_waiting": {
        Lang.VI: "{product}: chưa nghe được ({ports} do chương trình khác giữ)",
        Lang.EN: "{product}: not listening ({ports} held by another program)",
    },
    "tray_listener_off": {
        Lang.VI: "{product}: đã tắt theo chính sách",
        Lang.EN: "{product}: off by policy",
    },
    "status_listeners_heading": {
        Lang.VI: "Cổng tương thích với plugin ký số khác:",
        Lang.EN: "Compatibility with other signing plugins:",
    },
    "status_listener_on": {
        Lang.VI: "  {product}: {url}",
        Lang.EN: "  {product}: {url}",
    },
    "status_listener_held": {
        Lang.VI: " (cổng {ports} do chương trình khác giữ)",
        Lang.EN: " (port {ports} held by another program)",
    },
    "status_listener_waiting": {
        Lang.VI: "  {product}: chưa nghe được, cổng {ports} do chương trình khác giữ",
        Lang.EN: "  {product}: not listening, port {ports} held by another program",
    },
    "status_listener_off": {
        Lang.VI: "  {product}: tắt theo chính sách máy",
        Lang.EN: "  {product}: turned off by machine policy",
    },
    "status_allowed": {
        Lang.VI: "Trang web được phép: {origins}",
        Lang.EN: "Allowed origins: {origins}",
    },
    "status_paired": {
        Lang.VI: "Trang web đã ghép đôi (người dùng chấp thuận): {origins}",
        Lang.EN: "Paired origins (approved by the user): {origins}",
    },
    "status_none": {Lang.VI: "(không có)", Lang.EN: "(none)"},
    "status_errors_heading": {
        Lang.VI: "Lỗi gần đây trong nhật ký ({count}):",
        Lang.EN: "Recent errors in the log ({count}):",
    },
    "status_errors_none": {
        Lang.VI: "Lỗi gần đây trong nhật ký: không có",
        Lang.EN: "Recent errors in the log: none",
    },
    "status_audit_heading": {
        Lang.VI: "Nhật ký kiểm toán ({count} mục gần nhất):",
        Lang.EN: "Audit trail (last {count} entries):",
    },
    "status_audit_none": {Lang.VI: "Nhật ký kiểm toán: trống", Lang.EN: "Audit trail: empty"},
    "status_audit_entry": {
        Lang.VI: "  {time} {origin} {action}: {outcome}, {signatures} chữ ký, chứng thư {holder}",
        Lang.EN: "  {time} {origin} {action}: {outcome}, {signatures} "
        "{signatures:signature|signatures}, "
        "certificate {holder}",
    },
    "status_action_sign": {Lang.VI: "ký", Lang.EN: "sign"},
    "status_action_select": {Lang.VI: "đọc chứng thư số", Lang.EN: "read certificate"},
    "status_problems_heading": {
        Lang.VI: "Không đọc được khi lập báo cáo:",
        Lang.EN: "Could not be read for this report:",
    },
    "status_page_title": {
        Lang.VI: "Kyso Agent — báo cáo trạng thái",
        Lang.EN: "Kyso Agent — status report",
    },
    "status_page_trusted": {
        Lang.VI: "Trang này mở được qua HTTPS mà không có cảnh báo: trình duyệt này tin cậy "
        "Kyso Agent.",
        Lang.EN: "This page opened over HTTPS without a warning: this browser trusts Kyso Agent.",
    },
    "status_page_copy": {
        Lang.VI: "Gửi bộ phận hỗ trợ toàn bộ nội dung dưới đây (chọn, sao chép, dán).",
        Lang.EN: "Send the helpdesk everything below (select, copy, paste).",
    },
    # The VGCA Sign Service compatibility (agent/compat/vgca, docs/vgca-compat.md).
    "vgca_unsupported": {
        Lang.VI: "Kyso Agent không hỗ trợ chức năng {endpoint} của VGCA Sign Service.",
        Lang.EN: "Kyso Agent does not support the VGCA Sign Service function {endpoint}.",
    },
    "ui_pick_pdf_title": {
        Lang.VI: "chọn tệp PDF cần ký cho trang web",
        Lang.EN: "choose the PDF to sign for the web page",
    },
    "vgca_local_file": {
        Lang.VI: "Không chọn được tệp trên máy này (không có màn hình): trang cần gửi "
        "địa chỉ tệp cần ký (FileName).",
        Lang.EN: "No local file can be chosen here (no display): the page must give the "
        "URL of the file to sign (FileName).",
    },
    "vgca_url_not_allowed": {
        Lang.VI: "Địa chỉ {origin} không thuộc trang đang yêu cầu và không nằm trong danh "
        "sách được phép; Kyso Agent không truy cập địa chỉ này.",
        Lang.EN: "{origin} is neither the requesting page's origin nor allowed; Kyso Agent "
        "does not contact it.",
    },
    "vgca_download_failed": {
        Lang.VI: "Không tải được tệp cần ký ({detail}).",
        Lang.EN: "The file to sign could not be downloaded ({detail}).",
    },
    "vgca_too_large": {
        Lang.VI: "Tệp quá lớn (tối đa {limit} byte).",
        Lang.EN: "The file is too large (at most {limit} bytes).",
    },
    "vgca_upload_failed": {
        Lang.VI: "Đã ký nhưng không gửi được tệp lên máy chủ ({detail}). Tệp đã ký được giữ "
        "lại trong thư mục dữ liệu của Kyso Agent: {kept}",
        Lang.EN: "Signed, but the file could not be sent to the server ({detail}). The "
        "signed file is kept in Kyso Agent's data directory: {kept}",
    },
    "vgca_not_attempted": {
        Lang.VI: "Chưa ký tệp này vì một tệp trước đó không ký được.",
        Lang.EN: "Not signed: an earlier file of the list failed.",
    },
    "vgca_signature_invalid": {
        Lang.VI: "Tệp có chữ ký số không hợp lệ hoặc không có chữ ký số.",
        Lang.EN: "Not every signature in the file is valid, or it has none.",
    },
    "vgca_msg_document": {
        Lang.VI: "Dữ liệu do trang gửi ({size} byte)",
        Lang.EN: "Data sent by the page ({size} bytes)",
    },
    "vgca_config": {
        Lang.VI: "Kyso Agent {version} phục vụ giao thức VGCA Sign Service trên cổng {port}. "
        "Cấu hình và trạng thái: lệnh kyso-agent status.",
        Lang.EN: "Kyso Agent {version} serves the VGCA Sign Service protocol on port "
        "{port}. Settings and status: kyso-agent status.",
    },
    # VGCA: what a request got wrong (BadRequest details), the new endpoints, and what to use
    # instead of the endpoints Kyso Agent does not offer. Every sentence is whole in one
    # language: the "Yêu cầu không hợp lệ: …" frame around it is translated too.
    "vgca_field_text": {
        Lang.VI: "'{field}' phải là một chuỗi ký tự, dài tối đa {limit} ký tự",
        Lang.EN: "'{field}' must be a string of at most {limit} characters",
    },
    "vgca_field_control": {
        Lang.VI: "'{field}' chứa ký tự điều khiển (xuống dòng, tab …); hãy bỏ các ký tự đó",
        Lang.EN: "'{field}' contains control characters (line breaks, tabs …); remove them",
    },
    "vgca_issued_date": {
        Lang.VI: "'IssuedDate' phải là ngày giờ theo ISO 8601, ví dụ {example}",
        Lang.EN: "'IssuedDate' must be an ISO 8601 date, e.g. {example}",
    },
    "vgca_metadata_list": {
        Lang.VI: "'MetaData' phải là một danh sách tối đa {limit} mục dạng (Key, Value)",
        Lang.EN: "'MetaData' must be a list of at most {limit} (Key, Value) objects",
    },
    "vgca_metadata_item": {
        Lang.VI: "'MetaData.{index}' phải là một đối tượng có 'Key' và 'Value'",
        Lang.EN: "'MetaData.{index}' must be an object with 'Key' and 'Value'",
    },
    "vgca_metadata_key_missing": {
        Lang.VI: "'MetaData.{index}.Key' bị thiếu; hãy đặt tên cho trường này",
        Lang.EN: "'MetaData.{index}.Key' is missing; give this field a name",
    },
    "vgca_metadata_key_reserved": {
        Lang.VI: "'MetaData.{index}.Key' không được là '{name}': tên này đã dành cho tệp đã ký "
        "hoặc SessionId",
        Lang.EN: "'MetaData.{index}.Key' may not be '{name}': that name carries the signed file "
        "or the SessionId",
    },
    "vgca_upload_handler_missing": {
        Lang.VI: "thiếu 'FileUploadHandler': trang cần cho biết địa chỉ nhận tệp đã ký",
        Lang.EN: "'FileUploadHandler' is missing: the page must say where the signed file goes",
    },
    "vgca_files_list": {
        Lang.VI: "'Files' phải là danh sách từ 1 đến {limit} mục (FileID, FileName, URL); hoặc "
        "bỏ 'Files' và gửi 'FileName' là địa chỉ của một tệp",
        Lang.EN: "'Files' must be a list of 1 to {limit} (FileID, FileName, URL) objects; or "
        "leave 'Files' out and send 'FileName', the URL of one file",
    },
    "vgca_files_item": {
        Lang.VI: "'Files.{index}' phải là một đối tượng có FileID, FileName và URL",
        Lang.EN: "'Files.{index}' must be an object with FileID, FileName and URL",
    },
    "vgca_files_url_missing": {
        Lang.VI: "'Files.{index}.URL' bị thiếu: cần địa chỉ để tải tệp này",
        Lang.EN: "'Files.{index}.URL' is missing: the file's URL is needed to fetch it",
    },
    "vgca_files_id": {
        Lang.VI: "'Files.{index}.FileID' phải là một số, hoặc một chuỗi dài tối đa {limit} ký tự",
        Lang.EN: "'Files.{index}.FileID' must be a number or a string of at most {limit} "
        "characters",
    },
    "vgca_base64": {
        Lang.VI: "'{field}' phải là một chuỗi base64 chuẩn, không rỗng",
        Lang.EN: "'{field}' must be a non-empty standard base64 string",
    },
    "vgca_msg_shape": {
        Lang.VI: "SignMsg nhận một trong ba dạng: chuỗi base64 của dữ liệu; đối tượng JSON có "
        "'Data' (base64 của dữ liệu); hoặc đối tượng JSON có 'HashAlg' (SHA256) và 'HashValue' "
        "(base64 của mã băm)",
        Lang.EN: "SignMsg takes one of three forms: the data's base64 string; a JSON object "
        "with 'Data' (the data's base64); or a JSON object with 'HashAlg' (SHA256) and "
        "'HashValue' (the digest's base64)",
    },
    "vgca_hash_alg": {
        Lang.VI: "'HashAlg' phải là một trong {allowed}",
        Lang.EN: "'HashAlg' must be one of {allowed}",
    },
    "vgca_hash_length": {
        Lang.VI: "'HashValue' phải dài {size} byte với {algorithm}, nhưng dài {got} byte",
        Lang.EN: "'HashValue' must be {size} bytes long for {algorithm}, not {got}",
    },
    "vgca_encode": {
        Lang.VI: "'Encode' chỉ nhận giá trị {allowed} (chữ ký thô trên mã băm)",
        Lang.EN: "'Encode' accepts only {allowed} (a raw signature over the digest)",
    },
    "vgca_plain_text": {
        Lang.VI: "{endpoint} nhận một đối tượng JSON, hoặc chuỗi '{word}' như vgcaplugin.js gửi",
        Lang.EN: "{endpoint} takes a JSON object, or the text '{word}' as vgcaplugin.js sends it",
    },
    "vgca_verify_file_missing": {
        Lang.VI: "'FileName' phải là địa chỉ (URL) của tệp PDF cần kiểm tra",
        Lang.EN: "'FileName' must give the URL of the PDF to check",
    },
    "vgca_verify_msg_fields": {
        Lang.VI: "VerifyMsg cần 'Base64Content' (base64 của dữ liệu đã ký) và 'Signature' "
        "(base64 của chữ ký)",
        Lang.EN: "VerifyMsg needs 'Base64Content' (the signed data's base64) and 'Signature' "
        "(the signature's base64)",
    },
    "vgca_auth_code": {
        Lang.VI: "Auth cần mã xác thực do trang cấp: một chuỗi từ 1 đến {limit} ký tự",
        Lang.EN: "Auth needs the authentication code the site issued: 1 to {limit} characters",
    },
    "vgca_binary_message": {
        Lang.VI: "hãy gửi yêu cầu dạng văn bản (JSON), không phải dữ liệu nhị phân",
        Lang.EN: "send the request as text (JSON), not as binary data",
    },
    "vgca_websocket_only": {
        Lang.VI: "cổng này chỉ nhận kết nối WebSocket theo giao thức VGCA Sign Service",
        Lang.EN: "this port speaks the VGCA Sign Service WebSocket protocol only",
    },
    "vgca_hash_document": {
        Lang.VI: "Mã băm {algorithm} do trang gửi",
        Lang.EN: "{algorithm} digest sent by the page",
    },
    "vgca_auth_document": {
        Lang.VI: "Đăng nhập bằng chữ ký số: mã xác thực do trang gửi ({size} ký tự)",
        Lang.EN: "Sign-in with your digital signature: the page's authentication code "
        "({size} characters)",
    },
    "vgca_msg_valid": {
        Lang.VI: "Chữ ký hợp lệ, do {signer} ký; chứng thư số được CA tin cậy cấp.",
        Lang.EN: "The signature is valid, made by {signer}; the certificate comes from a "
        "trusted CA.",
    },
    "vgca_msg_broken": {
        Lang.VI: "Chữ ký không khớp với dữ liệu: dữ liệu đã bị thay đổi, hoặc chữ ký không "
        "phải của dữ liệu này.",
        Lang.EN: "The signature does not match the data: the data was changed, or the "
        "signature is not for this data.",
    },
    "vgca_msg_untrusted": {
        Lang.VI: "Chữ ký khớp với dữ liệu, nhưng chứng thư số của {signer} không do CA mà Kyso "
        "Agent tin cậy cấp, hoặc đã hết hạn.",
        Lang.EN: "The signature matches the data, but {signer}'s certificate was not issued "
        "by a CA Kyso Agent trusts, or has expired.",
    },
    "vgca_msg_no_certificate": {
        Lang.VI: "'Signature' không phải chữ ký CMS/PKCS#7 và không kèm chứng thư số; với chữ "
        "ký thô, hãy gửi thêm 'CertBase64' (chứng thư số của người ký, base64)",
        Lang.EN: "'Signature' is not a CMS/PKCS#7 signature and carries no certificate; for "
        "a raw signature, also send 'CertBase64' (the signer's certificate, base64)",
    },
    "vgca_licensed": {
        Lang.VI: "Kyso Agent không cần giấy phép: trang web được phép dùng hay không là do danh "
        "sách trang được phép của Kyso Agent quyết định.",
        Lang.EN: "Kyso Agent needs no licence: whether a site may use it is decided by Kyso "
        "Agent's list of allowed sites.",
    },
    "vgca_instead_pdfwp": {
        Lang.VI: "Kyso Agent không hỗ trợ SignPDFWP (chọn vị trí chữ ký trên trang). Hãy dùng "
        "SignPDF hoặc SignApproved: chữ ký được đặt ở vị trí mặc định của mẫu.",
        Lang.EN: "Kyso Agent does not support SignPDFWP (placing the signature on the page). "
        "Use SignPDF or SignApproved: the signature goes to the profile's default place.",
    },
    "vgca_instead_office": {
        Lang.VI: "Kyso Agent không ký tài liệu Office (Word, Excel). Hãy chuyển tài liệu sang "
        "PDF rồi ký bằng SignPDF hoặc SignApproved.",
        Lang.EN: "Kyso Agent does not sign Office documents (Word, Excel). Convert the "
        "document to PDF and sign it with SignPDF or SignApproved.",
    },
    "vgca_instead_verify_office": {
        Lang.VI: "Kyso Agent không kiểm tra chữ ký trên tài liệu Office. Hãy kiểm tra bản PDF "
        "bằng VerifyPDF.",
        Lang.EN: "Kyso Agent does not check signatures in Office documents. Check the PDF "
        "with VerifyPDF.",
    },
    "vgca_instead_p12": {
        Lang.VI: "Kyso Agent không ký bằng tệp khóa .p12: khóa bí mật chỉ nằm trong thiết bị "
        "ký số (USB token). Hãy dùng SignXML, SignMsg hoặc các chức năng ký PDF với USB token.",
        Lang.EN: "Kyso Agent does not sign with .p12 key files: the private key stays on the "
        "USB token. Use SignXML, SignMsg or the PDF signing functions with the token.",
    },
    # The VGCA port's SignXML and VerifyXML.
    "vgca_xml_fields": {
        Lang.VI: "SignXML cần 'Base64Content' (base64 của tài liệu XML cần ký)",
        Lang.EN: "SignXML needs 'Base64Content' (the base64 of the XML document to sign)",
    },
    "vgca_flag": {
        Lang.VI: '\'{field}\' phải là "true" hoặc "false"',
        Lang.EN: '\'{field}\' must be "true" or "false"',
    },
    "vgca_verify_xml_fields": {
        Lang.VI: "VerifyXML cần 'Data' (nội dung tài liệu XML đã ký) và, nếu có, 'Format': \"XML\"",
        Lang.EN: "VerifyXML needs 'Data' (the signed XML document's text) and, if given, "
        "'Format': \"XML\"",
    },
    "vgca_xml_unsigned": {
        Lang.VI: "Tài liệu XML không có chữ ký số nào.",
        Lang.EN: "The XML document carries no signature.",
    },
    "vgca_xml_valid": {
        Lang.VI: "Mọi chữ ký trong tài liệu XML ({count}) đều hợp lệ.",
        Lang.EN: "Every signature of the XML document ({count}) is valid.",
    },
    "vgca_xml_invalid": {
        Lang.VI: "Tài liệu XML có chữ ký không hợp lệ hoặc không do CA tin cậy cấp.",
        Lang.EN: "The XML document has a signature that is invalid or not from a trusted CA.",
    },
    "vgca_xml_intact": {
        Lang.VI: "Chữ ký khớp với tài liệu: tài liệu không bị thay đổi sau khi ký.",
        Lang.EN: "The signature matches the document: it was not changed after signing.",
    },
    "vgca_cert_trusted": {
        Lang.VI: "Chứng thư số do CA mà Kyso Agent tin cậy cấp và còn hiệu lực.",
        Lang.EN: "The certificate comes from a CA Kyso Agent trusts and is valid.",
    },
    "vgca_cert_untrusted": {
        Lang.VI: "Chứng thư số không do CA mà Kyso Agent tin cậy cấp, hoặc đã hết hạn.",
        Lang.EN: "The certificate was not issued by a CA Kyso Agent trusts, or has expired.",
    },
    # kyso-agent trust install|uninstall|status (the local CA in the certificate stores).
    "trust_result_line": {Lang.VI: "  {store}: {outcome}", Lang.EN: "  {store}: {outcome}"},
    "trust_outcome_added": {Lang.VI: "đã thêm", Lang.EN: "added"},
    "trust_outcome_already_present": {Lang.VI: "đã có sẵn", Lang.EN: "already present"},
    "trust_outcome_replaced": {
        Lang.VI: "đã thay CA cũ bằng CA mới",
        Lang.EN: "replaced the old CA with the new one",
    },
    "trust_outcome_removed": {Lang.VI: "đã gỡ", Lang.EN: "removed"},
    "trust_outcome_not_present": {Lang.VI: "không có gì để gỡ", Lang.EN: "nothing to remove"},
    "trust_outcome_store_not_found": {
        Lang.VI: "không có kho này (bỏ qua)",
        Lang.EN: "store not found (skipped)",
    },
    "trust_outcome_failed": {Lang.VI: "THẤT BẠI", Lang.EN: "FAILED"},
    "trust_install_head": {
        Lang.VI: "Tin cậy CA cục bộ của Kyso Agent ({path}):",
        Lang.EN: "Trusting Kyso Agent's local CA ({path}):",
    },
    "trust_uninstall_head": {
        Lang.VI: "Gỡ CA cục bộ của Kyso Agent khỏi các kho chứng chỉ:",
        Lang.EN: "Removing Kyso Agent's local CA from the certificate stores:",
    },
    "trust_status_head": {
        Lang.VI: "Nơi tin cậy CA cục bộ của Kyso Agent ({path}):",
        Lang.EN: "Who trusts Kyso Agent's local CA ({path}):",
    },
    "trust_restart_browser": {
        Lang.VI: "Hãy khởi động lại trình duyệt để áp dụng.",
        Lang.EN: "Restart the browser for this to take effect.",
    },
    "trust_some_failed": {
        Lang.VI: "Một số kho không làm được; xem chi tiết ở trên.",
        Lang.EN: "Some stores could not be changed; see above.",
    },
    "trust_no_store": {
        Lang.VI: "Không kho nào tin cậy CA: chạy kyso-agent trust install.",
        Lang.EN: "No store trusts the CA: run kyso-agent trust install.",
    },
    # The verification report (kyso-agent verify, POST /v1/pdf/verify).
    "verify_not_pdf_or_xml": {
        Lang.VI: "tệp không phải PDF hay XML: không có chữ ký nào để kiểm tra",
        Lang.EN: "the file is neither a PDF nor XML: there are no signatures to check",
    },
    "verify_none": {
        Lang.VI: "Tài liệu không có chữ ký số nào.",
        Lang.EN: "The document has no signatures.",
    },
    "verify_count": {
        Lang.VI: "Tài liệu có {count} chữ ký số.",
        Lang.EN: "The document has {count} {count:signature|signatures}.",
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
    "verify_not_a_pdf": {
        Lang.VI: "tệp không phải là PDF; hãy chọn đúng tệp PDF đã ký",
        Lang.EN: "the file is not a PDF; choose the signed PDF file",
    },
    "verify_unreadable": {
        Lang.VI: (
            "không đọc được tệp PDF (tệp đã bị xóa hoặc di chuyển?); hãy chọn hoặc gửi lại tệp"
        ),
        Lang.EN: (
            "the PDF file could not be read (was it deleted or moved?); choose or send it again"
        ),
    },
    "verify_damaged": {
        Lang.VI: "tệp PDF bị hỏng, không đọc được; hãy lấy lại bản gốc từ nơi gửi",
        Lang.EN: "the PDF is damaged and cannot be read; get the original again from its sender",
    },
    "verify_password": {
        Lang.VI: "tệp PDF được bảo vệ bằng mật khẩu nên không kiểm tra được chữ ký; hãy dùng "
        "bản không đặt mật khẩu mở tệp",
        Lang.EN: "the PDF is protected by a password, so its signatures cannot be checked; use "
        "a copy that opens without a password",
    },
    "verify_problem_sha1_format": {
        Lang.VI: "chữ ký theo định dạng cũ dùng SHA-1, thuật toán băm đã yếu (có thể bị làm giả): "
        "chỉ tin tài liệu khi nó đến từ nơi lưu trữ đáng tin cậy",
        Lang.EN: "an older format based on SHA-1, a hash that is no longer safe (it can be "
        "forged): trust the document only if it comes from a trustworthy archive",
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
    # Problems only XML signatures have (agent/xml/verify.py); the others are shared above.
    "verify_problem_reference_not_found": {
        Lang.VI: "không tìm thấy (hoặc có nhiều hơn một) phần tài liệu mà chữ ký trỏ tới",
        Lang.EN: "the signed part of the document is missing (or its Id is not unique)",
    },
    "verify_problem_no_certificate": {
        Lang.VI: "chữ ký không kèm chứng thư số nên không kiểm tra được",
        Lang.EN: "the signature carries no certificate, so it cannot be checked",
    },
    "verify_problem_signing_time_unsigned": {
        Lang.VI: "thời điểm ký không được chữ ký bảo vệ (có thể đã bị sửa)",
        Lang.EN: "the signing time is not covered by the signature (it may have been changed)",
    },
    # The XML verification report (agent/xml/verify.py), beside the verify_* lines above.
    "xml_verify_covers": {
        Lang.VI: "Phần được ký: {elements}",
        Lang.EN: "Signed parts: {elements}",
    },
    "xml_verify_whole_document": {Lang.VI: "toàn bộ tài liệu", Lang.EN: "the whole document"},
    "xml_verify_issuer": {Lang.VI: "Cấp bởi: {issuer}", Lang.EN: "Issued by: {issuer}"},
    "xml_verify_validity": {
        Lang.VI: "Hiệu lực chứng thư: từ {start} đến {end}",
        Lang.EN: "Certificate valid: from {start} to {end}",
    },
    # What the consent dialog shows about an XML document (agent/xml/summary.py).
    "xml_summary_invoice": {Lang.VI: "Hóa đơn điện tử", Lang.EN: "E-invoice"},
    "xml_summary_invoice_symbol": {Lang.VI: "Ký hiệu: {value}", Lang.EN: "Symbol: {value}"},
    "xml_summary_invoice_number": {Lang.VI: "Số: {value}", Lang.EN: "Number: {value}"},
    "xml_summary_invoice_date": {Lang.VI: "Ngày lập: {value}", Lang.EN: "Issued: {value}"},
    "xml_summary_seller": {Lang.VI: "Bên bán: {party}", Lang.EN: "Seller: {party}"},
    "xml_summary_buyer": {Lang.VI: "Bên mua: {party}", Lang.EN: "Buyer: {party}"},
    "xml_summary_total": {
        Lang.VI: "Tổng tiền thanh toán: {value}",
        Lang.EN: "Total to pay: {value}",
    },
    "xml_summary_party": {
        Lang.VI: "{name} (MST {tax_code})",
        Lang.EN: "{name} (tax code {tax_code})",
    },
    "xml_summary_party_tax_code_only": {
        Lang.VI: "MST {tax_code}",
        Lang.EN: "tax code {tax_code}",
    },
    "xml_summary_tax": {Lang.VI: "Tờ khai thuế", Lang.EN: "Tax declaration"},
    "xml_summary_tax_form": {Lang.VI: "Mẫu tờ khai: {value}", Lang.EN: "Form: {value}"},
    "xml_summary_tax_period": {Lang.VI: "Kỳ tính thuế: {value}", Lang.EN: "Period: {value}"},
    "xml_summary_period_day": {Lang.VI: "ngày {value}", Lang.EN: "day {value}"},
    "xml_summary_period_month": {Lang.VI: "tháng {value}", Lang.EN: "month {value}"},
    "xml_summary_period_quarter": {Lang.VI: "quý {value}", Lang.EN: "quarter {value}"},
    "xml_summary_period_year": {Lang.VI: "năm {value}", Lang.EN: "year {value}"},
    "xml_summary_taxpayer": {
        Lang.VI: "Người nộp thuế: {party}",
        Lang.EN: "Taxpayer: {party}",
    },
    "xml_summary_other": {Lang.VI: "Tài liệu XML: <{root}>", Lang.EN: "XML document: <{root}>"},
    "xml_summary_signed_element": {
        Lang.VI: 'Phần sẽ ký: phần tử có Id "{id}"',
        Lang.EN: 'Part to sign: the element with Id "{id}"',
    },
    # Why a request is malformed: the detail of BAD_REQUEST, say what is wrong and what to do.
    "bad_json": {
        Lang.VI: "nội dung gửi lên không phải JSON hợp lệ; hãy gửi một đối tượng JSON",
        Lang.EN: "the body is not valid JSON; send one JSON object",
    },
    "bad_json_depth": {
        Lang.VI: "JSON lồng nhau quá sâu; hãy gửi một đối tượng JSON phẳng hơn",
        Lang.EN: "the JSON is nested too deeply; send a flatter JSON object",
    },
    "bad_json_not_object": {
        Lang.VI: "nội dung phải là một đối tượng JSON ({{...}}), không phải mảng hay giá trị đơn",
        Lang.EN: "the body must be a JSON object ({{...}}), not an array or a single value",
    },
    # Where a visible signature goes (agent/pdf/placement.py): what is wrong, what to do.
    "place_pdf_unreadable": {
        Lang.VI: "không đọc được tệp PDF để đặt dấu chữ ký; hãy kiểm tra tệp là PDF đầy đủ, "
        "không bị hỏng",
        Lang.EN: "the PDF cannot be read to place the stamp; check that the file is a complete, "
        "undamaged PDF",
    },
    "place_page_outside": {
        Lang.VI: "trang {page} nằm ngoài tài liệu (tài liệu có {count} trang); hãy cho 'page' "
        "từ 1 đến {count}, hoặc số âm tính từ cuối (-1 là trang cuối)",
        Lang.EN: "page {page} is outside the document (the document has {count} "
        "{count:page|pages}); give "
        "a 'page' from 1 to {count}, or a negative one counting from the end (-1 = last page)",
    },
    "place_page_unreadable": {
        Lang.VI: "không đọc được kích thước trang {page} của tệp PDF; hãy kiểm tra tệp, hoặc ký "
        "không hiển thị (profile 'invisible')",
        Lang.EN: "the size of page {page} of the PDF cannot be read; check the file, or sign "
        "without a stamp (profile 'invisible')",
    },
    "place_page_too_small": {
        Lang.VI: "trang {page} ({width} x {height} pt) quá nhỏ để đặt dấu chữ ký; hãy cho "
        "'rect' vừa trang, hoặc ký không hiển thị (profile 'invisible')",
        Lang.EN: "page {page} ({width} x {height} pt) is too small for a signature stamp; give "
        "a 'rect' that fits it, or sign without a stamp (profile 'invisible')",
    },
    "place_no_room": {
        Lang.VI: "trang {page} không còn chỗ trống nào ngoài các ô chữ ký đã có; hãy chọn "
        "trang khác ('page') hoặc ký vào ô chữ ký trống ('field')",
        Lang.EN: "page {page} has no room left outside its signature fields; choose another "
        "'page', or sign an empty signature field ('field')",
    },
    "place_rect_not_finite": {
        Lang.VI: "'rect' phải là bốn số hữu hạn [x1, y1, x2, y2]",
        Lang.EN: "'rect' must be four finite numbers [x1, y1, x2, y2]",
    },
    "place_rect_too_small": {
        Lang.VI: "'rect' {rect} quá nhỏ: mỗi cạnh phải ít nhất {minimum} pt (x1 < x2, y1 < y2); "
        "hãy cho 'rect' lớn hơn",
        Lang.EN: "'rect' {rect} is too small: each side must be at least {minimum} pt "
        "(x1 < x2, y1 < y2); give a larger 'rect'",
    },
    "place_rect_outside": {
        Lang.VI: "'rect' {rect} nằm ngoài trang {page}, vùng hiển thị của trang là {area} "
        "(điểm PDF, gốc ở góc dưới bên trái); hãy cho 'rect' nằm trong vùng đó, hoặc bỏ "
        "'rect' để Kyso Agent tự chọn chỗ",
        Lang.EN: "'rect' {rect} is outside page {page}, whose visible area is {area} (PDF "
        "points, origin bottom-left); give a 'rect' inside it, or leave 'rect' out and the "
        "agent chooses a place",
    },
    "place_rect_covers_signature": {
        Lang.VI: "'rect' {rect} che ô chữ ký '{field}' trên trang {page}; hãy cho 'rect' không "
        "đè lên ô đó, ký vào ô trống bằng 'field', hoặc bỏ 'rect' để Kyso Agent tự chọn chỗ",
        Lang.EN: "'rect' {rect} covers the signature field '{field}' on page {page}; give a "
        "'rect' clear of it, sign an empty field with 'field', or leave 'rect' out and the "
        "agent chooses a place",
    },
    "place_anchor_covers_signature": {
        Lang.VI: "dấu chữ ký đặt tại chữ neo {anchor!r} sẽ che ô chữ ký '{field}' trên trang "
        "{page}; hãy dùng chữ neo ở chỗ khác hoặc cho 'rect'",
        Lang.EN: "a stamp on the anchor text {anchor!r} would cover the signature field "
        "'{field}' on page {page}; use an anchor elsewhere or give 'rect'",
    },
    "place_anchor_empty": {
        Lang.VI: "'anchor' phải có chữ; hãy cho đoạn chữ có trên trang, ví dụ [[KY_SO]]",
        Lang.EN: "'anchor' must contain some text; give text that is on the page, e.g. [[KY_SO]]",
    },
    "place_anchor_not_found": {
        Lang.VI: "không thấy chữ neo {anchor!r} trên trang {page}; hãy kiểm tra chữ neo và "
        "'page', hoặc cho 'rect'",
        Lang.EN: "the anchor text {anchor!r} is not on page {page}; check the text and 'page', "
        "or give 'rect' instead",
    },
    "place_anchor_unreadable": {
        Lang.VI: "không đọc được chữ trên trang {page} để tìm chữ neo; hãy cho 'rect'",
        Lang.EN: "the text of page {page} cannot be read to find the anchor; give 'rect' instead",
    },
    "place_anchor_stamp_too_big": {
        Lang.VI: "dấu chữ ký {width} x {height} pt không vừa trang {page} ({size} pt); hãy cho "
        "'rect' nhỏ hơn",
        Lang.EN: "a {width} x {height} pt stamp does not fit on page {page} ({size} pt); give "
        "a smaller 'rect'",
    },
    "place_field_missing": {
        Lang.VI: "tài liệu không có ô chữ ký nào tên {field!r} (và không có ô chữ ký trống "
        "nào); hãy bỏ 'field' để thêm chữ ký mới",
        Lang.EN: "the document has no signature field named {field!r} (and no empty signature "
        "field at all); leave 'field' out to add a new signature",
    },
    "place_field_missing_among": {
        Lang.VI: "tài liệu không có ô chữ ký nào tên {field!r}; các ô chữ ký trống là: "
        "{fields}; hãy cho một trong các tên đó",
        Lang.EN: "the document has no signature field named {field!r}; its empty signature "
        "fields are: {fields}; give one of these names",
    },
    "place_field_many_widgets": {
        Lang.VI: "ô chữ ký '{field}' xuất hiện ở nhiều chỗ trong tài liệu, Kyso Agent không ký "
        "được vào ô như vậy; hãy ký vào một ô khác hoặc không chỉ định 'field'",
        Lang.EN: "the signature field '{field}' appears in several places in the document, "
        "which Kyso Agent cannot sign into; sign into another field or leave out 'field'",
    },
    "place_field_signed": {
        Lang.VI: "ô chữ ký {field!r} đã được ký; hãy cho tên một ô chữ ký trống, hoặc bỏ "
        "'field' để thêm chữ ký mới",
        Lang.EN: "the signature field {field!r} is already signed; give the name of an empty "
        "field, or leave 'field' out to add a new signature",
    },
    "place_field_blank": {
        Lang.VI: "'appearance.field' phải là tên một ô chữ ký trên một dòng, không để trống",
        Lang.EN: "'appearance.field' must be the name of a signature field, on one line, not blank",
    },
    "place_text_unwritable": {
        Lang.VI: "không viết được chữ của dấu chữ ký: không phông chữ nào đã cài có ký tự "
        "{chars}; hãy bỏ các ký tự đó khỏi 'text' hoặc cài phông Liberation Serif / DejaVu Serif",
        Lang.EN: "the stamp text cannot be written: no installed serif font has glyphs for "
        "{chars}; remove them from 'text' or install Liberation Serif or DejaVu Serif",
    },
    "place_attachment_needs_text": {
        Lang.VI: "dấu của văn bản kèm theo (profile 'attachment') cần 'text': số và ký hiệu của "
        "văn bản chính, ví dụ 'Số: 123/QĐ-UBND'",
        Lang.EN: "the attachment profile needs 'text': the number and symbol of the document "
        "it belongs to (số và ký hiệu, e.g. 'Số: 123/QĐ-UBND')",
    },
    "place_image_too_large": {
        Lang.VI: "'image' lớn hơn {limit} byte; hãy gửi ảnh PNG nhỏ hơn",
        Lang.EN: "'image' is larger than {limit} bytes; send a smaller PNG",
    },
    "place_image_not_png": {
        Lang.VI: "'image' phải là ảnh PNG (nền trong suốt)",
        Lang.EN: "'image' must be a PNG (transparent background)",
    },
    "place_image_unreadable": {
        Lang.VI: "'image' không phải ảnh PNG đọc được; hãy lưu lại ảnh dưới dạng PNG rồi gửi lại",
        Lang.EN: "'image' is not a readable PNG; save the image as PNG again and send it",
    },
    "place_image_too_many_pixels": {
        Lang.VI: "'image' có {width} x {height} điểm ảnh; mỗi cạnh tối đa {limit} điểm ảnh: hãy "
        "thu nhỏ ảnh",
        Lang.EN: "'image' is {width} x {height} pixels; at most {limit} pixels a side are "
        "accepted: scale it down",
    },
    # Malformed requests (agent/protocol.py, agent/server/): name the field as sent, say what to do.
    "bad_pin_field": {
        Lang.VI: "không nhận trường '{field}': mã PIN chỉ được gõ vào hộp thoại của Kyso Agent, "
        "không bao giờ do trang web gửi; hãy bỏ trường này",
        Lang.EN: "field '{field}' is not accepted: the PIN is typed only into Kyso Agent's own "
        "dialog, never sent by a web page; leave it out",
    },
    "bad_unknown_fields": {
        Lang.VI: "không nhận trường {fields}; hãy bỏ đi hoặc kiểm tra lại tên trường",
        Lang.EN: "unknown {count:field|fields} {fields}; leave {count:it|them} out or check "
        "{count:its name|their names}",
    },
    "bad_missing_fields": {
        Lang.VI: "thiếu trường {fields}; hãy gửi kèm",
        Lang.EN: "missing {count:field|fields} {fields}; add {count:it|them}",
    },
    "bad_base64_missing": {
        Lang.VI: "'{field}' phải là một chuỗi base64 không rỗng",
        Lang.EN: "'{field}' must be a non-empty base64 string",
    },
    "bad_base64": {
        Lang.VI: "'{field}' không phải base64 hợp lệ; hãy mã hóa bằng base64 chuẩn (RFC 4648, "
        "có dấu = ở cuối, không xuống dòng)",
        Lang.EN: "'{field}' is not valid base64; encode it as standard base64 (RFC 4648, "
        "padded with =, no line breaks)",
    },
    "bad_certificate": {
        Lang.VI: "'{field}' không phải chứng thư số X.509 (DER, mã hóa base64); hãy gửi đúng "
        "chứng thư mà /v1/certificates trả về, hoặc bỏ trường này để người dùng tự chọn",
        Lang.EN: "'{field}' is not an X.509 certificate (DER, base64-encoded); send the "
        "certificate /v1/certificates returned, or leave it out to let the user choose",
    },
    "bad_not_number": {
        Lang.VI: "'{field}' phải là một số",
        Lang.EN: "'{field}' must be a number",
    },
    "bad_not_finite": {
        Lang.VI: "'{field}' phải là một số hữu hạn",
        Lang.EN: "'{field}' must be a finite number",
    },
    "bad_profile": {
        Lang.VI: "'appearance.profile' phải là một trong: {allowed}",
        Lang.EN: "'appearance.profile' must be one of {allowed}",
    },
    "bad_page": {
        Lang.VI: "'appearance.page' phải là số nguyên khác 0 (1 = trang đầu, -1 = trang cuối)",
        Lang.EN: "'appearance.page' must be a non-zero integer (1 = first, -1 = last)",
    },
    "bad_rect_shape": {
        Lang.VI: "'appearance.rect' phải là [x1, y1, x2, y2] tính bằng điểm PDF",
        Lang.EN: "'appearance.rect' must be [x1, y1, x2, y2] in PDF points",
    },
    "bad_rect_order": {
        Lang.VI: "'appearance.rect' phải có x1 < x2 và y1 < y2",
        Lang.EN: "'appearance.rect' must have x1 < x2 and y1 < y2",
    },
    "bad_image_size": {
        Lang.VI: "'appearance.image' lớn hơn {limit} byte; hãy gửi ảnh PNG nhỏ hơn",
        Lang.EN: "'appearance.image' is larger than {limit} bytes; send a smaller PNG",
    },
    "bad_image_png": {
        Lang.VI: "'appearance.image' phải là ảnh PNG",
        Lang.EN: "'appearance.image' must be a PNG image",
    },
    "bad_rsa_pss_token": {
        Lang.VI: "token này không ký được theo RSA-PSS; hãy dùng PKCS1v15",
        Lang.EN: "this token cannot sign with RSA-PSS; use PKCS1v15",
    },
    "vgca_doc_number": {
        Lang.VI: "{endpoint} cần 'DocNumber' (số và ký hiệu văn bản); hãy gửi kèm trường này",
        Lang.EN: "{endpoint} needs 'DocNumber' (the document's number); send it",
    },
    "bad_not_object": {
        Lang.VI: "'{field}' phải là một đối tượng JSON ({{...}})",
        Lang.EN: "'{field}' must be an object ({{...}})",
    },
    "bad_not_string": {
        Lang.VI: "'{field}' phải là một chuỗi ký tự",
        Lang.EN: "'{field}' must be a string",
    },
    "bad_too_long": {
        Lang.VI: "'{field}' dài hơn {limit} ký tự; hãy rút ngắn",
        Lang.EN: "'{field}' is longer than {limit} characters; shorten it",
    },
    "bad_short_text": {
        Lang.VI: "'{field}' phải là một chuỗi ký tự dài tối đa {limit} ký tự",
        Lang.EN: "'{field}' must be a string of at most {limit} characters",
    },
    "bad_hidden_character": {
        Lang.VI: "'{field}' chứa ký tự điều khiển, vô hình hoặc trống (U+{code}); hãy bỏ ký tự đó",
        Lang.EN: "'{field}' contains a control, invisible or blank character (U+{code}); remove it",
    },
    "bad_stacked_marks": {
        Lang.VI: "'{field}' chồng quá {limit} dấu lên một chữ cái; hãy viết lại bằng chữ "
        "tiếng Việt thông thường",
        Lang.EN: "'{field}' stacks more than {limit} marks on one letter; write it in "
        "ordinary text",
    },
    "bad_hash_algorithm": {
        Lang.VI: "'{field}' phải là một trong {allowed}",
        Lang.EN: "'{field}' must be one of {allowed}",
    },
    "bad_digest_length": {
        Lang.VI: "'{field}' dài {size} byte nhưng giá trị băm {algorithm} dài {expected} byte; "
        "hãy kiểm tra thuật toán băm",
        Lang.EN: "'{field}' is {size} bytes but {algorithm} digests are {expected} bytes; "
        "check the hash algorithm",
    },
    "bad_scheme": {
        Lang.VI: "'scheme' phải là 'PKCS1v15' hoặc 'PSS'",
        Lang.EN: "'scheme' must be 'PKCS1v15' or 'PSS'",
    },
    "bad_scheme_ec": {
        Lang.VI: "'scheme' chỉ dùng cho khóa RSA, còn chứng thư này dùng khóa EC; hãy bỏ 'scheme'",
        Lang.EN: "'scheme' applies to RSA keys only; this certificate is EC; leave 'scheme' out",
    },
    "bad_pss_unsupported": {
        Lang.VI: "token này không ký được theo RSA-PSS; hãy dùng 'scheme': 'PKCS1v15'",
        Lang.EN: "this token cannot sign with RSA-PSS; use 'scheme': 'PKCS1v15'",
    },
    "bad_items": {
        Lang.VI: "'items' phải là một danh sách từ 1 đến {limit} đối tượng",
        Lang.EN: "'items' must be a list of 1 to {limit} objects",
    },
    "bad_level": {
        Lang.VI: "'level' phải là một trong B-B, B-T, B-LT",
        Lang.EN: "'level' must be one of B-B, B-T, B-LT",
    },
    "bad_level_needs_tsa": {
        Lang.VI: "mức {level} cần máy chủ cấp dấu thời gian: hãy gửi 'tsaUrl' hoặc nhờ bộ phận "
        "CNTT cấu hình tsa_url",
        Lang.EN: "level {level} needs a time-stamping authority: give 'tsaUrl' "
        "or have IT configure tsa_url",
    },
    "bad_tsa_url": {
        Lang.VI: "'tsaUrl' phải là một địa chỉ http:// hoặc https://",
        Lang.EN: "'tsaUrl' must be an http:// or https:// URL",
    },
    "bad_tsa_not_configured": {
        Lang.VI: "'tsaUrl' không phải máy chủ cấp dấu thời gian đã cấu hình trên máy tính này "
        "({configured}); hãy bỏ trường này",
        Lang.EN: "'tsaUrl' is not the time-stamping authority configured on this computer "
        "({configured}); leave it out",
    },
    "bad_tsa_none_configured": {
        Lang.VI: "'tsaUrl' không phải máy chủ cấp dấu thời gian đã cấu hình trên máy tính này "
        "(chưa cấu hình máy chủ nào); hãy nhờ bộ phận CNTT đặt tsa_url",
        Lang.EN: "'tsaUrl' is not the time-stamping authority configured on this computer "
        "(none is); ask IT to set tsa_url",
    },
    "bad_body_timeout": {
        Lang.VI: "nội dung yêu cầu không đến đủ trong {seconds} giây; hãy gửi lại",
        Lang.EN: "the request body did not arrive within {seconds} s; send it again",
    },
    "bad_body_incomplete": {
        Lang.VI: "nội dung yêu cầu bị ngắt giữa chừng (kết nối đã đóng); hãy gửi lại",
        Lang.EN: "the request body was cut off (the connection closed); send it again",
    },
    "bad_query_parameter": {
        Lang.VI: "địa chỉ có tham số không mong đợi {name}; chỉ dùng 'options', một lần",
        Lang.EN: "unexpected query parameter {name} (use 'options', once)",
    },
    "bad_query_options": {
        Lang.VI: "tham số 'options' trên địa chỉ phải là một đối tượng JSON đã mã hóa URL "
        "(encodeURIComponent(JSON.stringify(options))), cùng các trường như phần 'options' "
        "của biểu mẫu",
        Lang.EN: "the 'options' query parameter must be a URL-encoded JSON object "
        "(encodeURIComponent(JSON.stringify(options))) with the fields of a form's 'options' part",
    },
    "bad_query_options_size": {
        Lang.VI: "tham số 'options' trên địa chỉ dài hơn {limit} ký tự; hãy gửi biểu mẫu "
        "multipart/form-data với phần 'options' (chẳng hạn khi có ảnh chữ ký)",
        Lang.EN: "the 'options' query parameter is longer than {limit} characters; send a "
        "multipart/form-data form with an 'options' part instead (for a stamp image, say)",
    },
    "bad_multipart": {
        Lang.VI: "nội dung multipart/form-data bị lỗi; hãy gửi lại biểu mẫu",
        Lang.EN: "malformed multipart/form-data body; send the form again",
    },
    "bad_multipart_nested": {
        Lang.VI: "không nhận multipart lồng nhau; hãy gửi phần 'file' và 'options' trực tiếp",
        Lang.EN: "nested multipart bodies are not accepted; send 'file' and 'options' directly",
    },
    "bad_form_part": {
        Lang.VI: "biểu mẫu có phần không mong đợi {part}; chỉ dùng 'file' và 'options', "
        "mỗi phần một lần",
        Lang.EN: "unexpected form part {part} (use 'file' and 'options', once each)",
    },
    "bad_form_no_file": {
        Lang.VI: "biểu mẫu thiếu phần 'file' (tệp PDF)",
        Lang.EN: "the form has no 'file' part (the PDF)",
    },
    "bad_http": {
        Lang.VI: "yêu cầu HTTP không hợp lệ ({status}); hãy kiểm tra cách gửi yêu cầu",
        Lang.EN: "invalid HTTP request ({status}); check how the request is sent",
    },
    "request_line_too_long": {
        Lang.VI: "địa chỉ (URL) hoặc một header của yêu cầu quá dài (tối đa {limit} byte); "
        "hãy gửi dữ liệu lớn trong thân yêu cầu",
        Lang.EN: "the request's address (URL) or one of its headers is too long (at most {limit} "
        "bytes); send large data in the body",
    },
    "bad_cors_headers": {
        Lang.VI: "không cho phép các header {headers}; hãy chỉ gửi Content-Type và Accept-Language",
        Lang.EN: "headers not allowed: {headers}; send only Content-Type and Accept-Language",
    },
    # A PDF that cannot be signed (agent/pdf/signer.py): what is wrong, and what the user can do.
    "bad_pdf_empty": {
        Lang.VI: "tệp PDF rỗng; hãy gửi nội dung tệp",
        Lang.EN: "the PDF is empty; send the file's content",
    },
    "bad_pdf_not_pdf": {
        Lang.VI: "tệp gửi lên không phải PDF (không bắt đầu bằng %PDF-); hãy gửi đúng tệp PDF "
        "cần ký",
        Lang.EN: "the file is not a PDF (it does not start with %PDF-); send the PDF to be signed",
    },
    "bad_pdf_damaged": {
        Lang.VI: "tệp PDF bị hỏng, Kyso Agent không đọc được; hãy mở tệp bằng trình đọc PDF, "
        "lưu thành một bản mới (hoặc in ra PDF) rồi ký bản đó, hoặc xin bên gửi một bản không hỏng",
        Lang.EN: "the PDF is damaged and Kyso Agent cannot read it; open it in a PDF reader, "
        "save it as a new copy (or print it to PDF) and sign that copy, or ask the sender for "
        "an undamaged copy",
    },
    "bad_pdf_damaged_page": {
        Lang.VI: "trang {page} của tệp PDF bị hỏng (không giải nén được nội dung); hãy mở tệp "
        "bằng trình đọc PDF, lưu thành một bản mới (hoặc in ra PDF) rồi ký bản đó, hoặc xin "
        "bên gửi một bản không hỏng",
        Lang.EN: "page {page} of the PDF is damaged (its content cannot be decompressed); open "
        "the file in a PDF reader, save it as a new copy (or print it to PDF) and sign that "
        "copy, or ask the sender for an undamaged copy",
    },
    "bad_pdf_password": {
        Lang.VI: "tệp PDF được bảo vệ bằng mật khẩu mở tệp; Kyso Agent không mở được tài liệu có "
        "mật khẩu. Hãy mở tệp bằng mật khẩu, lưu một bản không đặt mật khẩu rồi ký bản đó, "
        "hoặc xin bên gửi một bản không có mật khẩu",
        Lang.EN: "the PDF is protected by a password needed to open it; Kyso Agent cannot open "
        "password-protected documents. Open it with its password, save a copy without a "
        "password and sign that copy, or ask the sender for a copy without a password",
    },
    "bad_pdf_encryption": {
        Lang.VI: "tệp PDF được mã hóa theo cách Kyso Agent không hỗ trợ (mã hóa cho người nhận "
        "bằng chứng thư số, hoặc bộ mã hóa riêng); hãy xin bên gửi một bản không mã hóa",
        Lang.EN: "the PDF is encrypted in a way Kyso Agent does not support (for recipients' "
        "certificates, or a custom handler); ask the sender for an unencrypted copy",
    },
    "bad_pdf_no_signing": {
        Lang.VI: "tác giả tệp PDF đã đặt quyền hạn chế không cho thêm chữ ký hay sửa biểu mẫu "
        "(trong phần bảo mật của tài liệu); hãy xin bên gửi một bản cho phép ký",
        Lang.EN: "the PDF's author restricted it so that no signature or form field may be "
        "added (in its security settings); ask the sender for a copy that allows signing",
    },
    "bad_pdf_locked": {
        Lang.VI: "tác giả đã khóa tài liệu này bằng chữ ký chứng thực không cho phép bất kỳ thay "
        "đổi nào, kể cả ký thêm; hãy xin bên gửi một bản chưa khóa hoặc cho phép ký",
        Lang.EN: "its author locked this document with a certification that allows no changes, "
        "not even another signature; ask the sender for a copy that is not locked or that "
        "allows signing",
    },
    "bad_pdf_certified_visible": {
        Lang.VI: "tác giả đã chứng thực tài liệu này, chỉ cho phép ký vào ô chữ ký có sẵn hoặc "
        "ký không hiển thị: thêm một ô chữ ký mới trên trang sẽ làm mất hiệu lực chứng thực. "
        "Hãy ký không hiển thị (profile 'invisible') hoặc ký vào ô chữ ký có sẵn ('field')",
        Lang.EN: "its author certified this document, which allows signing only into a "
        "signature field already there or invisibly: a new signature field on a page would "
        "break the certification. Sign invisibly (profile 'invisible') or into an existing "
        "field ('field')",
    },
    # An XML document that cannot be signed (agent/xml/): what is wrong, and what to do.
    "bad_xml_empty": {
        Lang.VI: "tài liệu XML rỗng; hãy gửi nội dung tệp XML cần ký",
        Lang.EN: "the XML document is empty; send the content of the XML file to be signed",
    },
    "bad_xml_doctype": {
        Lang.VI: "tài liệu XML có khai báo DOCTYPE (DTD, thực thể); Kyso Agent không ký tài liệu "
        "như vậy vì lý do an toàn. Hãy bỏ phần <!DOCTYPE ...> rồi gửi lại",
        Lang.EN: "the XML document has a DOCTYPE (DTD, entities); for safety Kyso Agent does not "
        "sign such documents. Remove the <!DOCTYPE ...> part and send it again",
    },
    "bad_xml_malformed": {
        Lang.VI: "tài liệu XML không hợp lệ (dòng {line}): {reason}; hãy sửa tệp XML rồi gửi lại",
        Lang.EN: "the XML document is not well-formed (line {line}): {reason}; fix the XML file "
        "and send it again",
    },
    "bad_xml_id_missing": {
        Lang.VI: 'không có phần tử nào mang Id "{id}" trong tài liệu XML; hãy kiểm tra Id cần '
        "ký hoặc tệp XML",
        Lang.EN: 'no element has Id "{id}" in the XML document; check the Id to sign or the '
        "XML file",
    },
    "bad_xml_id_duplicate": {
        Lang.VI: 'Id "{id}" xuất hiện {count} lần trong tài liệu XML; mỗi Id chỉ được dùng một '
        "lần, hãy sửa tệp XML",
        Lang.EN: 'Id "{id}" occurs {count} times in the XML document; each Id must be unique, '
        "fix the XML file",
    },
    "bad_xml_element_missing": {
        Lang.VI: 'tài liệu XML không có phần tử {path} cần cho loại ký "{profile}"; hãy kiểm '
        "tra đúng loại tài liệu và tệp XML",
        Lang.EN: 'the XML document has no {path} element, which profile "{profile}" needs; '
        "check the document type and the XML file",
    },
    "bad_xml_element_duplicate": {
        Lang.VI: 'tài liệu XML có {count} phần tử {path}, loại ký "{profile}" cần đúng một; '
        "hãy sửa tệp XML",
        Lang.EN: 'the XML document has {count} {path} elements where profile "{profile}" '
        "needs exactly one; fix the XML file",
    },
    "bad_xml_root_no_id": {
        Lang.VI: "phần tử gốc <{element}> không có thuộc tính Id: chữ ký XML luôn ghi rõ phần "
        "nó ký (#Id); hãy cho phần tử cần ký một Id",
        Lang.EN: "the root element <{element}> has no Id attribute: an XML signature always "
        "names what it signs (#Id); give the element to sign an Id",
    },
    "bad_xml_element_no_id": {
        Lang.VI: "phần tử {path} cần ký không có thuộc tính Id; hãy dùng tệp XML có Id cho phần "
        "tử này",
        Lang.EN: "the {path} element to sign has no Id attribute; use an XML file that gives "
        "this element an Id",
    },
    "bad_xml_already_signed": {
        Lang.VI: "đã có chữ ký tại {path}; tài liệu này đã được ký ở vị trí đó, không ký lại",
        Lang.EN: "there is already a signature in {path}; the document was already signed "
        "there and is not signed again",
    },
    "bad_xml_xpath": {
        Lang.VI: 'đường dẫn "{xpath}" không được chấp nhận; chỉ dùng dạng /A/B/C hoặc //C '
        "với tên phần tử, không dùng hàm hay điều kiện",
        Lang.EN: 'the path "{xpath}" is not accepted; use only /A/B/C or //C with element '
        "names, no functions or predicates",
    },
    "bad_xml_digest": {
        Lang.VI: 'thuật toán băm "{digest}" không được hỗ trợ để ký XML; hãy dùng SHA-256 '
        "(hoặc SHA-1 khi hệ thống nhận yêu cầu)",
        Lang.EN: 'hash algorithm "{digest}" is not supported for XML signatures; use SHA-256 '
        "(or SHA-1 when the receiving system requires it)",
    },
    "bad_choice": {
        Lang.VI: "'{field}' phải là một trong: {allowed}",
        Lang.EN: "'{field}' must be one of: {allowed}",
    },
    "bad_xml_field_profile": {
        Lang.VI: "'{field}' chỉ dùng với loại ký \"{profile}\"; hãy bỏ trường này hoặc đổi "
        "'profile'",
        Lang.EN: "'{field}' applies only to profile \"{profile}\"; remove it or change 'profile'",
    },
    "bad_xml_parent_both": {
        Lang.VI: "chỉ gửi một trong '{where}parentId' và '{where}parentXpath' để chỉ nơi đặt "
        "chữ ký",
        Lang.EN: "send only one of '{where}parentId' and '{where}parentXpath' to say where the "
        "signature goes",
    },
    # --- POST /v1/pdf/sign/batch (agent/protocol.py)
    "bad_pdf_documents": {
        Lang.VI: "'documents' phải là một danh sách từ 1 đến {limit} tài liệu PDF",
        Lang.EN: "'documents' must be a list of 1 to {limit} PDF documents",
    },
    "bad_pdf_batch_item": {
        Lang.VI: "mỗi tài liệu phải là một đối tượng JSON có 'pdf' (base64)",
        Lang.EN: "each document must be a JSON object with 'pdf' (base64)",
    },
    "bad_pdf_batch_document": {
        Lang.VI: "tài liệu số {index} (documents.{index}): {reason}",
        Lang.EN: "document {index} (documents.{index}): {reason}",
    },
    "bad_xml_documents": {
        Lang.VI: "'documents' phải là một danh sách từ 1 đến {limit} tài liệu XML",
        Lang.EN: "'documents' must be a list of 1 to {limit} XML documents",
    },
    "bad_xml_batch_document": {
        Lang.VI: "tài liệu số {index} (documents.{index}): {reason}",
        Lang.EN: "document {index} (documents.{index}): {reason}",
    },
    "bad_xml_digest_token": {
        Lang.VI: "Kyso Agent chưa ký được XML bằng {digest} trên thiết bị ký số; hãy dùng SHA-256",
        Lang.EN: "Kyso Agent cannot yet sign XML with {digest} on a token; use SHA-256",
    },
    "bad_xml_key": {
        Lang.VI: "chứng thư số dùng loại khóa {kind}, không ký XML được; hãy chọn chứng thư RSA "
        "hoặc ECDSA",
        Lang.EN: "the certificate's key type {kind} cannot sign XML; choose an RSA or ECDSA "
        "certificate",
    },
    # The support bundle (agent/status/bundle.py, docs/helpdesk.md).
    "tray_menu_support_bundle": {
        Lang.VI: "Xuất gói hỗ trợ…",
        Lang.EN: "Export support bundle…",
    },
    "tray_bundle_save_title": {
        Lang.VI: "Lưu gói hỗ trợ cho bộ phận hỗ trợ kỹ thuật",
        Lang.EN: "Save the support bundle for the helpdesk",
    },
    "tray_bundle_zip_files": {Lang.VI: "Tệp ZIP", Lang.EN: "ZIP files"},
    "tray_notify_bundle_saved": {
        Lang.VI: "Đã lưu gói hỗ trợ: {path}",
        Lang.EN: "Support bundle saved: {path}",
    },
    "tray_notify_bundle_failed": {
        Lang.VI: "Không lưu được gói hỗ trợ: {reason}",
        Lang.EN: "The support bundle was not saved: {reason}",
    },
    "bundle_exists": {
        Lang.VI: "Đã có tệp {path}; hãy chọn tên khác (hoặc thêm --force để ghi đè).",
        Lang.EN: "{path} already exists; choose another name (or add --force to overwrite it).",
    },
    "bundle_no_folder": {
        Lang.VI: "Không có thư mục {folder}; hãy chọn thư mục khác.",
        Lang.EN: "The folder {folder} does not exist; choose another one.",
    },
    "bundle_not_writable": {
        Lang.VI: "Không ghi được vào thư mục {folder} ({detail}); hãy chọn thư mục khác, ví dụ "
        "Màn hình nền hoặc Tài liệu.",
        Lang.EN: "Cannot write in the folder {folder} ({detail}); choose another one, such as "
        "the Desktop or Documents.",
    },
    "bundle_readme_title": {
        Lang.VI: "GÓI HỖ TRỢ KYSO AGENT",
        Lang.EN: "KYSO AGENT SUPPORT BUNDLE",
    },
    "bundle_readme_made": {
        Lang.VI: "Tạo lúc {time} bằng {maker} (Kyso Agent {version}).",
        Lang.EN: "Made {time} by {maker} (Kyso Agent {version}).",
    },
    "bundle_maker_cli": {
        Lang.VI: "lệnh kyso-agent support-bundle",
        Lang.EN: "the command kyso-agent support-bundle",
    },
    "bundle_maker_tray": {
        Lang.VI: "biểu tượng Kyso Agent trên khay hệ thống",
        Lang.EN: "the Kyso Agent tray icon",
    },
    "bundle_readme_send": {
        Lang.VI: "Gửi nguyên tệp .zip này cho bộ phận hỗ trợ kỹ thuật, và chỉ cho bộ phận đó: tệp "
        "có tên người ký, tên cổng thông tin và tên các tài liệu đã ký.",
        Lang.EN: "Send this .zip file as it is to the helpdesk, and to the helpdesk only: it holds "
        "the names of signers, of portals and of the documents signed.",
    },
    "bundle_readme_never": {
        Lang.VI: "Gói không chứa mã PIN, khóa bí mật (của token hay của Kyso Agent) hay mã bí mật "
        "điều khiển của Kyso Agent; chỗ nào trông như mã PIN hay mật khẩu đều đã được che (***).",
        Lang.EN: "It holds no PIN, no private key (of the token or of Kyso Agent) and not Kyso "
        "Agent's control secret; anything that looks like a PIN or a password is masked (***).",
    },
    "bundle_readme_files": {Lang.VI: "Các tệp trong gói:", Lang.EN: "Files:"},
    "bundle_file_status_txt": {
        Lang.VI: "báo cáo trạng thái (như “Sao chép báo cáo trạng thái”)",
        Lang.EN: "the status report (as “Copy status report” gives it)",
    },
    "bundle_file_status_json": {
        Lang.VI: "báo cáo trạng thái dạng JSON",
        Lang.EN: "the status report as JSON",
    },
    "bundle_file_config": {
        Lang.VI: "cấu hình đang dùng: từng thiết lập, giá trị, nguồn (default, machine-policy, "
        "user-file, command-line, tray) và giá trị mặc định",
        Lang.EN: "the configuration in effect: each setting, its value, where it came from "
        "(default, machine-policy, user-file, command-line, tray) and its default",
    },
    "bundle_file_system": {
        Lang.VI: "hệ điều hành, Python, phiên bản Kyso Agent; từng thư viện PKCS#11 (tệp, đã nạp "
        "hay chưa, mô tả)",
        Lang.EN: "OS, Python, Kyso Agent version; each PKCS#11 library (file, loaded or not, "
        "description)",
    },
    "bundle_file_audit": {
        Lang.VI: "{count} mục cuối của nhật ký kiểm toán",
        Lang.EN: "the last {count} entries of the audit trail",
    },
    "bundle_file_log": {
        Lang.VI: "{count} dòng cuối của nhật ký hoạt động (agent.log)",
        Lang.EN: "the last {count} lines of the log (agent.log)",
    },
    "bundle_readme_config_cli": {
        Lang.VI: "Cấu hình trong config.json là cấu hình lệnh này đọc được (các tệp cấu hình và "
        "tùy chọn của chính lệnh); Kyso Agent đang chạy có thể đã được khởi động với tùy chọn "
        "khác.",
        Lang.EN: "The configuration in config.json is the one this command read (the "
        "configuration files and its own flags); a running Kyso Agent may have been started "
        "with other flags.",
    },
    "bundle_readme_config_tray": {
        Lang.VI: "Cấu hình trong config.json là cấu hình của Kyso Agent đang chạy; giá trị nào "
        "các tệp cấu hình không cho được ghi nguồn là dòng lệnh (command-line).",
        Lang.EN: "The configuration in config.json is the running Kyso Agent's; a value the "
        "configuration files do not give is shown as from the command line (command-line).",
    },
    "bundle_readme_problems": {
        Lang.VI: "Không đọc được khi tạo gói:",
        Lang.EN: "Could not be read for this bundle:",
    },
    # Every plugin compatibility layer (agent/compat/, docs/compat.md): shared wording.
    "compat_pin_refused": {
        Lang.VI: "Kyso Agent không nhận mã PIN từ trang web: mã PIN chỉ được nhập vào hộp thoại "
        "của Kyso Agent (hoặc bàn phím của đầu đọc). Trang web cần gọi lại mà không gửi mã PIN.",
        Lang.EN: "Kyso Agent never takes a PIN from a web page: the PIN is typed only into Kyso "
        "Agent's own dialog (or the reader's keypad). The page must call again without a PIN.",
    },
    "compat_unsupported": {
        Lang.VI: "Kyso Agent không hỗ trợ chức năng {function} của {product}.",
        Lang.EN: "Kyso Agent does not support the {product} function {function}.",
    },
    "compat_office_unsupported": {
        Lang.VI: "Kyso Agent chưa ký được tài liệu Office (Word, Excel): hãy lưu tài liệu thành "
        "PDF rồi ký tệp PDF.",
        Lang.EN: "Kyso Agent cannot sign Office documents (Word, Excel) yet: save the document "
        "as PDF and sign the PDF.",
    },
    "compat_bad_message": {
        Lang.VI: "Yêu cầu từ trang web không đúng định dạng của {product}: {detail}",
        Lang.EN: "The page's request is not in the {product} format: {detail}",
    },
    # The VNPT-CA Plugin compatibility (agent/compat/vnpt, docs/compat/vnpt.md).
    "vnpt_websocket_only": {
        Lang.VI: "Cổng này chỉ nhận kết nối WebSocket của VNPT-CA Plugin "
        "(wss://localhost:CỔNG/plugin).",
        Lang.EN: "This port only takes the VNPT-CA Plugin's WebSocket connections "
        "(wss://localhost:PORT/plugin).",
    },
    "vnpt_licensed": {
        Lang.VI: "Kyso Agent không cần giấy phép: trang web dùng được Kyso Agent khi có trong "
        "danh sách trang được phép của Kyso Agent.",
        Lang.EN: "Kyso Agent needs no licence: a web site may use it when it is on the agent's "
        "list of allowed sites.",
    },
    "vnpt_not_json": {
        Lang.VI: "tin nhắn phải là một đối tượng JSON có functionID, funcCallback và args",
        Lang.EN: "the message must be a JSON object with functionID, funcCallback and args",
    },
    "vnpt_function_id": {
        Lang.VI: "'functionID' phải là một số nguyên",
        Lang.EN: "'functionID' must be an integer",
    },
    "vnpt_callback": {
        Lang.VI: "'funcCallback' phải là tên một hàm JavaScript (tối đa {limit} ký tự, không có "
        "dấu sao)",
        Lang.EN: "'funcCallback' must be a JavaScript function name (at most {limit} characters, "
        "no asterisk)",
    },
    "vnpt_args": {
        Lang.VI: "'args' phải là một danh sách",
        Lang.EN: "'args' must be a list",
    },
    "vnpt_binary": {
        Lang.VI: "tin nhắn phải là văn bản JSON, không phải dữ liệu nhị phân",
        Lang.EN: "the message must be JSON text, not binary data",
    },
    "vnpt_arg_missing": {
        Lang.VI: "thiếu tham số {name} (vị trí {index} của 'args')",
        Lang.EN: "the argument {name} (position {index} of 'args') is missing",
    },
    "vnpt_arg_text": {
        Lang.VI: "tham số {name} phải là một chuỗi",
        Lang.EN: "the argument {name} must be a string",
    },
    "vnpt_base64": {
        Lang.VI: "{name} phải là dữ liệu base64 không rỗng",
        Lang.EN: "{name} must be non-empty base64 data",
    },
    "vnpt_options": {
        Lang.VI: "{name} phải là chuỗi JSON của một đối tượng (hoặc null)",
        Lang.EN: "{name} must be the JSON text of an object (or null)",
    },
    "vnpt_field_number": {
        Lang.VI: "trường '{field}' phải là một số",
        Lang.EN: "the field '{field}' must be a number",
    },
    "vnpt_field_text": {
        Lang.VI: "trường '{field}' phải là chuỗi không quá {limit} ký tự",
        Lang.EN: "the field '{field}' must be a string of at most {limit} characters",
    },
    "vnpt_field_flag": {
        Lang.VI: "trường '{field}' phải là true hoặc false",
        Lang.EN: "the field '{field}' must be true or false",
    },
    "vnpt_hash_length": {
        Lang.VI: "mã băm dài {size} byte; Kyso Agent ký mã băm SHA-256 (32 byte), SHA-384 "
        "(48 byte) hoặc SHA-512 (64 byte)",
        Lang.EN: "the hash is {size} bytes long; Kyso Agent signs SHA-256 (32 bytes), SHA-384 "
        "(48 bytes) or SHA-512 (64 bytes) hashes",
    },
    "vnpt_hash_algorithm": {
        Lang.VI: "thuật toán băm '{name}' không được hỗ trợ; hãy dùng một trong: {allowed}",
        Lang.EN: "the hash algorithm '{name}' is not supported; use one of: {allowed}",
    },
    "vnpt_hash_mismatch": {
        Lang.VI: "mã băm dài {size} byte, không phải mã băm {algorithm} ({expected} byte)",
        Lang.EN: "the hash is {size} bytes long, not a {algorithm} hash ({expected} bytes)",
    },
    "vnpt_pdf_page": {
        Lang.VI: "'page' phải là số thứ tự của một trang, từ 1 trở đi",
        Lang.EN: "'page' must be a page number, from 1 on",
    },
    "vnpt_pdf_rect": {
        Lang.VI: "vị trí chữ ký phải có llx nhỏ hơn urx và lly nhỏ hơn ury",
        Lang.EN: "the signature's position must have llx below urx and lly below ury",
    },
    "vnpt_pdf_pages": {
        Lang.VI: "Kyso Agent đặt hình chữ ký trên một trang mỗi lần ký; yêu cầu này có {count} "
        "trang ({pages}). Hãy ký với một trang.",
        Lang.EN: "Kyso Agent draws the signature on one page per signature; this request names "
        "{count} pages ({pages}). Sign with one page.",
    },
    "vnpt_tsa_credentials": {
        Lang.VI: "Kyso Agent không gửi tên đăng nhập hay mật khẩu tới máy chủ cấp dấu thời gian "
        "(TsaUsername, TsaPassword); hãy dùng máy chủ không yêu cầu đăng nhập.",
        Lang.EN: "Kyso Agent sends no user name or password to a time-stamping server "
        "(TsaUsername, TsaPassword); use a server that needs no login.",
    },
    "vnpt_encrypt": {
        Lang.VI: "Kyso Agent không mã hóa tệp PDF sau khi ký (IsEncyptFile); hãy ký mà không yêu "
        "cầu mã hóa.",
        Lang.EN: "Kyso Agent does not encrypt the PDF after signing (IsEncyptFile); sign without "
        "asking for encryption.",
    },
    "vnpt_xml_signing_type": {
        Lang.VI: "Kyso Agent chỉ tạo chữ ký XML kiểu Enveloped, chưa hỗ trợ kiểu '{kind}'.",
        Lang.EN: "Kyso Agent makes Enveloped XML signatures only, not '{kind}' ones.",
    },
    "vnpt_xml_xpath_filter": {
        Lang.VI: "Kyso Agent chưa ký XML theo XPath Filter 2.0 (NameXPathFilter); hãy chỉ phần cần "
        "ký bằng NodeToSign hoặc TagSigning.",
        Lang.EN: "Kyso Agent does not sign XML with XPath Filter 2.0 (NameXPathFilter); name the "
        "part to sign with NodeToSign or TagSigning.",
    },
    "vnpt_items": {
        Lang.VI: "danh sách dữ liệu cần ký phải là chuỗi JSON của một mảng từ 1 đến {limit} mục",
        Lang.EN: "the data to sign must be the JSON text of an array of 1 to {limit} items",
    },
    "vnpt_item": {
        Lang.VI: "mục {index}: {reason}",
        Lang.EN: "item {index}: {reason}",
    },
    "vnpt_item_shape": {
        Lang.VI: "mỗi mục phải là chuỗi JSON của một đối tượng có data, type và sigOptions",
        Lang.EN: "each item must be the JSON text of an object with data, type and sigOptions",
    },
    "vnpt_item_type": {
        Lang.VI: "loại dữ liệu '{kind}' chưa được hỗ trợ; Kyso Agent ký các loại: {allowed}",
        Lang.EN: "the data type '{kind}' is not supported; Kyso Agent signs: {allowed}",
    },
    "vnpt_not_attempted": {
        Lang.VI: "Chưa ký mục này vì một mục trước đó không ký được.",
        Lang.EN: "This item was not signed because an earlier item could not be signed.",
    },
    "vnpt_data_document": {
        Lang.VI: "Dữ liệu do trang gửi ({size} byte)",
        Lang.EN: "Data sent by the page ({size} bytes)",
    },
    "vnpt_hash_document": {
        Lang.VI: "Mã băm {algorithm} do trang gửi",
        Lang.EN: "{algorithm} hash sent by the page",
    },
    # The BKAV plugin compatibility (agent/compat/bkav, docs/compat/bkav.md).
    "bkav_no_end": {
        Lang.VI: 'tin nhắn không kết thúc bằng "*end"',
        Lang.EN: 'the message does not end with "*end"',
    },
    "bkav_function": {
        Lang.VI: '"{function}" không phải mã chức năng (một số)',
        Lang.EN: '"{function}" is not a function number',
    },
    "bkav_arguments": {
        Lang.VI: "chức năng {function} cần ít nhất {expected} tham số, trang web gửi {got}",
        Lang.EN: "function {function} needs at least {expected} arguments, the page sent {got}",
    },
    "bkav_base64": {
        Lang.VI: "tham số {field} không phải chuỗi base64",
        Lang.EN: "the argument {field} is not base64",
    },
    "bkav_empty": {
        Lang.VI: "tham số {field} trống",
        Lang.EN: "the argument {field} is empty",
    },
    "bkav_number": {
        Lang.VI: 'tham số {field} phải là một số, không phải "{value}"',
        Lang.EN: 'the argument {field} must be a number, not "{value}"',
    },
    "bkav_hash_choice": {
        Lang.VI: 'SetHashAlgorithm nhận 0 (SHA-1) hoặc 1 (SHA-256), không nhận "{value}"',
        Lang.EN: 'SetHashAlgorithm takes 0 (SHA-1) or 1 (SHA-256), not "{value}"',
    },
    "bkav_binary": {
        Lang.VI: "tin nhắn nhị phân không được nhận: thư viện BkavCA Signer Plugin gửi văn bản",
        Lang.EN: "binary messages are not accepted: the BkavCA Signer Plugin library sends text",
    },
    "bkav_websocket_only": {
        Lang.VI: "cổng này chỉ nhận kết nối WebSocket (wss://) của thư viện BkavCA Signer Plugin",
        Lang.EN: "this port only takes the BkavCA Signer Plugin library's WebSocket (wss://)",
    },
    "bkav_file_path": {
        Lang.VI: "Kyso Agent không đọc hay ghi tệp trên máy theo đường dẫn do trang web gửi "
        "({function}): trang web cần gửi nội dung tệp dạng base64.",
        Lang.EN: "Kyso Agent does not read or write files on this computer at paths a web page "
        "names ({function}): the page must send the file's content in base64.",
    },
    "bkav_image": {
        Lang.VI: "ảnh chữ ký phải là ảnh PNG dạng base64 (tối đa {limit} byte), không phải "
        "đường dẫn tệp",
        Lang.EN: "the signature image must be a PNG in base64 (at most {limit} bytes), not a "
        "file path",
    },
    "bkav_tag": {
        Lang.VI: '"{tag}" không phải tên thẻ XML hợp lệ (tham số {field})',
        Lang.EN: '"{tag}" is not a valid XML element name (argument {field})',
    },
    "bkav_list_size": {
        Lang.VI: "danh sách cần từ 1 đến {limit} tài liệu XML, trang web gửi {count}",
        Lang.EN: "the list needs 1 to {limit} XML documents, the page sent {count}",
    },
    "bkav_pdf_document": {
        Lang.VI: "Tài liệu PDF do trang web gửi ({size} byte)",
        Lang.EN: "PDF document sent by the page ({size} bytes)",
    },
    "bkav_cms_document": {
        Lang.VI: "Dữ liệu do trang web gửi để ký ({size} byte)",
        Lang.EN: "Data sent by the page for signing ({size} bytes)",
    },
    # The FPT / TrustCA SignPlugin compatibility (agent/compat/fpt, docs/compat/fpt.md).
    "fpt_form": {
        Lang.VI: 'dữ liệu gửi lên phải là biểu mẫu "request=<JSON mã hóa base64>"',
        Lang.EN: 'the body must be the form "request=<base64 of the JSON request>"',
    },
    "fpt_not_base64": {
        Lang.VI: "trường request không phải chuỗi base64",
        Lang.EN: "the request field is not base64",
    },
    "fpt_not_json": {
        Lang.VI: "trường request giải mã base64 ra không phải một đối tượng JSON",
        Lang.EN: "the request field's base64 does not hold a JSON object",
    },
    "fpt_operation_id": {
        Lang.VI: "thiếu OperationId, hoặc OperationId không phải một số",
        Lang.EN: "OperationId is missing or not a number",
    },
    "fpt_field_base64": {
        Lang.VI: "trường {field} phải là chuỗi base64 không rỗng",
        Lang.EN: "{field} must be a non-empty base64 string",
    },
    "fpt_field_number": {
        Lang.VI: "trường {field} phải là một số",
        Lang.EN: "{field} must be a number",
    },
    "fpt_field_flag": {
        Lang.VI: "trường {field} phải là 0 hoặc 1",
        Lang.EN: "{field} must be 0 or 1",
    },
    "fpt_field_text": {
        Lang.VI: "trường {field} phải là chuỗi một dòng, tối đa {limit} ký tự",
        Lang.EN: "{field} must be a single line of at most {limit} characters",
    },
    "fpt_timestamp_url": {
        Lang.VI: "urlTimestamp phải là địa chỉ http:// hoặc https:// của máy chủ cấp dấu thời gian",
        Lang.EN: "urlTimestamp must be the http:// or https:// address of a time-stamping server",
    },
    "fpt_alg_digest": {
        Lang.VI: "algDigest {value} không được hỗ trợ; hãy dùng SHA_256, SHA_384 hoặc SHA_512",
        Lang.EN: "algDigest {value} is not supported; use SHA_256, SHA_384 or SHA_512",
    },
    "fpt_digest_length": {
        Lang.VI: "DataToBeSign (reqDigest = 0) dài {size} byte, nhưng giá trị băm {algorithm} "
        "dài {expected} byte",
        Lang.EN: "DataToBeSign (reqDigest = 0) is {size} bytes, but a {algorithm} digest is "
        "{expected} bytes",
    },
    "fpt_cms_attached": {
        Lang.VI: "Kyso Agent chỉ tạo chữ ký CMS tách rời (signAttached = 0): trang web giữ dữ "
        "liệu gốc và gửi kèm chữ ký khi cần.",
        Lang.EN: "Kyso Agent makes detached CMS signatures only (signAttached = 0): the page "
        "keeps the data and sends it along with the signature.",
    },
    "fpt_cms_level": {
        Lang.VI: "Kyso Agent chưa tạo được chữ ký mức {level}; hãy dùng CADES-BES, hoặc CADES-T "
        "kèm urlTimestamp.",
        Lang.EN: "Kyso Agent cannot make {level} signatures yet; use CADES-BES, or CADES-T with "
        "urlTimestamp.",
    },
    "fpt_cms_needs_tsa": {
        Lang.VI: "signLevel CADES-T cần urlTimestamp (địa chỉ máy chủ cấp dấu thời gian)",
        Lang.EN: "signLevel CADES-T needs urlTimestamp (the time-stamping server's address)",
    },
    "fpt_xades": {
        Lang.VI: "Kyso Agent ký XML theo chuẩn XMLDSig, chưa tạo được chữ ký XAdES ({form}): "
        "trang web cần gửi XMLDSig = 1 nếu nơi nhận chấp nhận chữ ký XMLDSig.",
        Lang.EN: "Kyso Agent signs XML with XMLDSig and cannot make XAdES signatures ({form}) "
        "yet: the page must send XMLDSig = 1 if the receiver accepts an XMLDSig signature.",
    },
    "fpt_ext_file": {
        Lang.VI: "Kyso Agent không ký được tệp loại {ext} qua chức năng này: chỉ ký tệp PDF.",
        Lang.EN: "Kyso Agent cannot sign {ext} files with this function: it signs PDF only.",
    },
    "fpt_page_index": {
        Lang.VI: "pageIndex phải là số nguyên từ 0 (trang đầu tiên)",
        Lang.EN: "pageIndex must be a whole number from 0 (the first page)",
    },
    "fpt_box": {
        Lang.VI: "ô chữ ký (offsetX, offsetY, sigWidth, sigHeight) phải có tọa độ không âm và "
        "kích thước lớn hơn 0",
        Lang.EN: "the signature box (offsetX, offsetY, sigWidth, sigHeight) needs coordinates of "
        "at least 0 and a size above 0",
    },
    "fpt_logo_png": {
        Lang.VI: "logoData phải là ảnh PNG dạng base64 (ảnh JPEG chưa được hỗ trợ: hãy xuất ảnh "
        'chữ ký bằng canvas.toDataURL("image/png"))',
        Lang.EN: "logoData must be a PNG in base64 (JPEG is not supported yet: export the "
        'signature image with canvas.toDataURL("image/png"))',
    },
    "fpt_xml_tag": {
        Lang.VI: "tagXML: tài liệu có {count} phần tử <{tag}>, cần đúng một",
        Lang.EN: "tagXML: the document has {count} <{tag}> elements, exactly one is needed",
    },
    "fpt_xml_tag_no_id": {
        Lang.VI: "tagXML: phần tử <{tag}> không có thuộc tính Id để chữ ký tham chiếu",
        Lang.EN: "tagXML: the <{tag}> element has no Id attribute for the signature to refer to",
    },
    "fpt_data_document": {
        Lang.VI: "Dữ liệu do trang web gửi để ký ({size} byte)",
        Lang.EN: "Data sent by the page for signing ({size} bytes)",
    },
    "fpt_hash_document": {
        Lang.VI: "Giá trị băm {algorithm} do trang web tính",
        Lang.EN: "A {algorithm} digest computed by the page",
    },
    "fpt_pdf_document": {
        Lang.VI: "Tài liệu PDF do trang web gửi ({size} byte)",
        Lang.EN: "PDF document sent by the page ({size} bytes)",
    },
    # --- several PDFs at once (tray, VGCA, VNPT)
    # One question and one PIN for a list of PDFs (SigningService.sign_pdf_batch): what the
    # tray, a VGCA SignFile list and VNPT signArrDataAdvanced items say about each document.
    "tray_sign_several": {
        Lang.VI: "Có thể chọn nhiều tệp một lúc: tất cả được ký sau một lần xác nhận và một "
        "lần nhập mã PIN.",
        Lang.EN: "You may choose several files at once: they are all signed after one approval "
        "and one PIN.",
    },
    "tray_files_chosen": {
        Lang.VI: "{count} tệp: {names}",
        Lang.EN: "{count} {count:file|files}: {names}",
    },
    "tray_names_more": {
        Lang.VI: "{names} và {more} tệp khác",
        Lang.EN: "{names} and {more} more",
    },
    "tray_notify_signed_files": {
        Lang.VI: "Đã ký và lưu {count} tệp cạnh tệp gốc: {names}",
        Lang.EN: "Signed and saved {count} {count:file|files} next to the originals: {names}",
    },
    "tray_notify_signed_some": {
        Lang.VI: "Đã ký và lưu {count}/{total} tệp cạnh tệp gốc: {names}. Chưa ký: {missing} "
        "({reason}).",
        Lang.EN: "Signed and saved {count} of {total} files next to the originals: {names}. "
        "Not signed: {missing} ({reason}).",
    },
    "tray_notify_signed_none": {
        Lang.VI: "Không tệp nào được ký: {reason}",
        Lang.EN: "No file was signed: {reason}",
    },
    "tray_stopped": {
        Lang.VI: "anh/chị đã bấm Dừng",
        Lang.EN: "you pressed Stop",
    },
    "tray_file_refused": {
        Lang.VI: "{name}: {reason}",
        Lang.EN: "{name}: {reason}",
    },
    "vgca_files_too_large": {
        Lang.VI: "Các tệp trong danh sách cộng lại lớn hơn {limit} byte; hãy gửi ít tệp hơn "
        "mỗi lần.",
        Lang.EN: "The files of the list are together larger than {limit} bytes; send fewer at "
        "a time.",
    },
    "vgca_not_signed_with": {
        Lang.VI: "Chưa ký tệp này: các tệp trong danh sách được ký cùng nhau sau một lần xác "
        "nhận, và tệp {name} không ký được.",
        Lang.EN: "Not signed: the files of the list are signed together after one approval, "
        "and {name} could not be signed.",
    },
    "vgca_file_stopped": {
        Lang.VI: "Chưa ký tệp này: người dùng đã bấm Dừng.",
        Lang.EN: "Not signed: the user pressed Stop.",
    },
    "vgca_upload_skipped": {
        Lang.VI: "Đã ký nhưng chưa gửi tệp lên máy chủ vì gửi tệp {name} trước đó không được. "
        "Tệp đã ký được giữ lại trong thư mục dữ liệu của Kyso Agent: {kept}",
        Lang.EN: "Signed, but not sent to the server because sending {name} before it failed. "
        "The signed file is kept in Kyso Agent's data directory: {kept}",
    },
    "vnpt_stopped": {
        Lang.VI: "Chưa ký mục này: người dùng đã bấm Dừng.",
        Lang.EN: "This item was not signed: the user pressed Stop.",
    },
}


class _Plurals(string.Formatter):
    """``str.format`` plus plural forms: ``{count:certificate|certificates}`` is the first word
    when ``count`` is 1, the second otherwise (English; Vietnamese nouns do not change)."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        if "|" in format_spec:
            one, other = format_spec.split("|", 1)
            return one if value == 1 else other
        return super().format_field(value, format_spec)


_FORMATTER: Final = _Plurals()


def text(key: str, lang: Lang | str = DEFAULT_LANG, **values: object) -> str:
    """Return the message ``key`` in ``lang`` (falling back to Vietnamese)."""
    entry = _CATALOGUE[key]
    try:
        chosen = Lang(lang)
    except ValueError:
        chosen = DEFAULT_LANG
    template = entry.get(chosen) or entry[DEFAULT_LANG]
    # Formatted even without values: a template's literal braces are written doubled.
    return _FORMATTER.format(template, **values)


def format_date(moment: datetime | date, lang: Lang | str = DEFAULT_LANG) -> str:
    """A calendar date as each language writes it, everywhere the agent shows one:
    ``31/12/2026`` in Vietnamese, ``2026-12-31`` in English. A time is taken in the
    computer's zone first."""
    day = moment.astimezone().date() if isinstance(moment, datetime) else moment
    return f"{day:%d/%m/%Y}" if Lang(lang) is Lang.VI else day.isoformat()


@dataclass(frozen=True)
class Phrase:
    """A catalogue sentence with its values, put into words once the reader's language is known.

    Errors carry one as their detail (``BadRequest(Phrase.of("bad_json"))``) so that the
    message a portal shows is Vietnamese throughout, or English throughout when asked, never a
    Vietnamese frame around an English reason.
    """

    key: str
    """The catalogue key."""
    values: tuple[tuple[str, object], ...] = ()
    """The template's values (field names, limits), in no language."""

    @classmethod
    def of(cls, key: str, **values: object) -> Phrase:
        """``key`` with ``values``; a key missing from the catalogue fails here, not later."""
        if key not in _CATALOGUE:
            raise KeyError(key)
        return cls(key, tuple(values.items()))

    def render(self, lang: Lang | str = DEFAULT_LANG) -> str:
        """The sentence in ``lang``; a value that is itself a phrase is said in ``lang`` too."""
        values = {k: v.render(lang) if isinstance(v, Phrase) else v for k, v in self.values}
        return text(self.key, lang, **values)

    def __str__(self) -> str:
        # Logs are read by developers and the helpdesk in any language: English.
        return self.render(Lang.EN)


def keys() -> frozenset[str]:
    """Every key in the catalogue (for tests that check completeness)."""
    return frozenset(_CATALOGUE)


def languages_of(key: str) -> frozenset[Lang]:
    """Languages in which ``key`` is translated."""
    return frozenset(_CATALOGUE[key])


def template_of(key: str, lang: Lang) -> str:
    """The unformatted sentence of ``key`` in ``lang`` (for tests that check the catalogue)."""
    return _CATALOGUE[key][lang]


def pick_lang(accept_language: str | None, default: Lang = DEFAULT_LANG) -> Lang:
    """Choose vi or en from an HTTP ``Accept-Language`` header."""
    if not accept_language:
        return default
    best: tuple[float, Lang] | None = None
    for tag, quality in quality_values(accept_language):
        try:
            lang = Lang(tag.split("-")[0])
        except ValueError:
            continue
        if best is None or quality > best[0]:
            best = (quality, lang)
    return best[1] if best and best[0] > 0 else default
