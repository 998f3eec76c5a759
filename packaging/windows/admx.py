"""Group Policy templates (ADMX, ADML in en-US and vi-VN) for the agent's machine policy.

    python packaging/windows/admx.py [OUT_DIR]      (default: packaging/windows/policy)

writes ``KysoAgent.admx``, ``en-US/KysoAgent.adml`` and ``vi-VN/KysoAgent.adml``: a category
"Kyso Agent" under *Computer Configuration → Administrative Templates*, one policy per setting of
:mod:`agent.config`, each writing the value of that name under ``HKLM\\SOFTWARE\\Policies\\Kyso\\
Agent`` that :func:`agent.config.read_registry_policy` reads. The copies IT takes are committed in
``packaging/windows/policy/`` and shipped in the MSI (``Program Files\\Kyso Agent\\policy``);
``tests/packaging/test_admx.py`` fails when they differ from a fresh generation, and checks that
every value a policy writes reads back as the setting it stands for.

What each declaration becomes (:class:`agent.settings.Shape`):

* BOOL: a policy without elements; *Enabled* writes REG_DWORD 1, *Disabled* writes 0 (not a
  deletion, so that *Disabled* turns a default-on setting off).
* INT: a ``decimal`` element (REG_DWORD), ``minValue``/``maxValue`` from ``low``/``high``
  (no ``high``: the largest REG_DWORD). FLOAT the same when its range and default are whole
  numbers (all of them are seconds, where whole seconds lose nothing); otherwise a ``text``.
* TEXT: a ``text`` element (REG_SZ; REG_EXPAND_SZ for paths, whose ``%VARIABLES%`` the agent
  expands for its user); a drop-down ``enum`` of strings when the setting admits a few words.
* LIST: a ``multiText`` element, which writes one REG_MULTI_SZ value, one item per line. Not a
  ``list`` element: that writes one REG_SZ value *per entry*, named after the entry (or numbered
  with ``valuePrefix``), and without ``additive`` deletes every other value of its key first;
  the agent would refuse those names as unknown settings (and lose the other settings).

Every setting gets a policy, since the registry reader takes every one and each means something
machine-wide. ``data_dir`` too: it is per user only through a variable (``%LOCALAPPDATA%``),
which is why it is written as REG_EXPAND_SZ and its help says so.

Supported on Windows 10 and later, defined here rather than taken from ``Windows.admx``, so that
Intune imports the file without that dependency. No ``comboBox`` (Intune's import refuses it).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lxml import etree
from lxml.builder import ElementMaker

from agent.config import SETTINGS, WINDOWS_POLICY_KEY
from agent.settings import Setting, Shape, as_path

HERE: Final = Path(__file__).resolve().parent
#: Where the committed templates live (IT takes them from the source tree or the MSI).
POLICY_DIR: Final = HERE / "policy"
BASE: Final = "KysoAgent"
ADMX: Final = f"{BASE}.admx"
LANGUAGES: Final = ("en-US", "vi-VN")
NAMESPACE: Final = "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"
TARGET_NAMESPACE: Final = "Kyso.Policies.Agent"
TARGET_PREFIX: Final = "kyso"
CATEGORY: Final = "KysoAgent"
SUPPORTED: Final = "SUPPORTED_Windows10"
DWORD_MAX: Final = 0xFFFFFFFF
REVISION: Final = "1.0"

E: Final = ElementMaker(namespace=NAMESPACE, nsmap={None: NAMESPACE})


@dataclass(frozen=True)
class PolicyText:
    """What the templates say about one setting beyond what its declaration says.

    The English help is the declaration's ``doc`` line; registry value, range, default and who may
    override it are derived from the declaration in both languages.
    """

    title_en: str
    """The policy's name in the English editor."""
    title_vi: str
    """The policy's name in the Vietnamese editor."""
    explain_vi: str
    """The Vietnamese of the declaration's ``doc`` line."""
    default_vi: str = ""
    """The default in Vietnamese, for a declaration that words its default (``default_text``
    with letters in it); a number needs none."""
    note_en: str = ""
    """Advice for IT that the ``doc`` line does not give (English)."""
    note_vi: str = ""
    """The same advice in Vietnamese."""


TEXTS: Final[Mapping[str, PolicyText]] = {
    "port": PolicyText(
        "HTTPS API port",
        "Cổng API HTTPS",
        "Cổng TCP của API HTTPS mà agent mở trên 127.0.0.1 (0 = một cổng trống bất kỳ).",
    ),
    "data_dir": PolicyText(
        "Data directory",
        "Thư mục dữ liệu",
        "Nơi lưu các tệp TLS cục bộ, nhật ký kiểm toán (audit) và tệp log của agent.",
        default_vi="thư mục dữ liệu riêng của từng người dùng (%LOCALAPPDATA%\\kyso-agent)",
        note_en="Each user needs a folder of their own: the agent makes it private to the user "
        "it runs as. Use a per-user variable, e.g. %LOCALAPPDATA%\\kyso-agent; one folder for "
        "several users does not work.",
        note_vi="Mỗi người dùng cần một thư mục riêng: agent đặt quyền để chỉ người dùng đang "
        "chạy nó vào được. Hãy dùng biến theo người dùng, ví dụ %LOCALAPPDATA%\\kyso-agent; một "
        "thư mục dùng chung cho nhiều người dùng sẽ không hoạt động.",
    ),
    "pkcs11_modules": PolicyText(
        "PKCS#11 modules",
        "Mô-đun PKCS#11",
        "Các mô-đun PKCS#11 (DLL của token USB) mà agent nạp, mỗi dòng một đường dẫn đầy đủ.",
        default_vi="tự dò tìm các DLL của các CA Việt Nam đã cài trên máy",
    ),
    "allowed_origins": PolicyText(
        "Allowed web origins",
        "Cổng thông tin được phép",
        "Các nguồn gốc web (origin) được phép gọi agent, mỗi dòng một mục, ví dụ "
        "https://portal.gov.vn (đúng cổng đó) hoặc https://*.gov.vn (mọi tên miền con; mỗi cổng "
        "khớp mẫu này phải được người dùng đồng ý lần đầu, trừ khi tắt chính sách "
        '"Cho phép người dùng ghép cặp").',
        default_vi="không có",
    ),
    "extension_ids": PolicyText(
        "Trusted browser extension IDs",
        "ID tiện ích trình duyệt được tin cậy",
        "ID của tiện ích trình duyệt Kyso được tin cậy để chuyển tiếp lời gọi thay cho trang web "
        "mà nó nêu (danh sách cho phép, ghép cặp và sự đồng ý của người dùng vẫn áp dụng cho "
        "trang đó), mỗi dòng một ID; để trống: không tin tiện ích nào.",
        default_vi="tiện ích đi kèm",
    ),
    "prompter": PolicyText(
        "External prompter",
        "Chương trình hỏi người dùng bên ngoài",
        "Dòng lệnh của chương trình bên ngoài hỏi người dùng thay cho hộp thoại của agent "
        "(trao đổi JSON qua stdin/stdout).",
        default_vi="hộp thoại có sẵn của agent",
    ),
    "prompt_timeout": PolicyText(
        "Prompt timeout",
        "Thời gian trả lời câu hỏi",
        "Số giây người dùng có để trả lời một câu hỏi của agent.",
    ),
    "wait_for_token": PolicyText(
        "Wait for the USB token",
        "Chờ cắm USB token",
        'Khi có yêu cầu ký mà chưa cắm token chứa chứng thư số dùng được, hiện "Hãy cắm USB '
        'token…" và chờ tối đa bằng thời gian trả lời câu hỏi (người dùng có thể hủy); tắt: '
        "từ chối ngay (TOKEN_NOT_PRESENT hoặc CERTIFICATE_NOT_FOUND).",
    ),
    "log_level": PolicyText(
        "Log level",
        "Mức ghi log",
        "Mức chi tiết của tệp log.",
    ),
    "lang": PolicyText(
        "Language",
        "Ngôn ngữ",
        "Ngôn ngữ của các câu hỏi và thông báo lỗi: vi (tiếng Việt) hoặc en (tiếng Anh).",
    ),
    "max_body_bytes": PolicyText(
        "Largest JSON request",
        "Kích thước yêu cầu JSON tối đa",
        "Kích thước lớn nhất của thân một yêu cầu JSON, tính bằng byte.",
    ),
    "max_pdf_bytes": PolicyText(
        "Largest PDF",
        "Kích thước PDF tối đa",
        "Kích thước lớn nhất của tệp PDF mà các điểm cuối PDF nhận (trước khi mã hóa base64), "
        "tính bằng byte.",
    ),
    "tsa_url": PolicyText(
        "Time-stamping authority",
        "Máy chủ cấp dấu thời gian (TSA)",
        "Máy chủ cấp dấu thời gian mặc định cho chữ ký B-T và B-LT (http:// hoặc https://, ví "
        "dụ http://ca.gov.vn/tsa).",
        default_vi="không có",
    ),
    "trust_roots": PolicyText(
        "Trusted root certificates",
        "Chứng thư gốc tin cậy",
        "Các tệp PEM/DER chứa chứng thư gốc được tin cậy (để kiểm tra chữ ký và ký B-LT), mỗi "
        "dòng một đường dẫn đầy đủ.",
        default_vi="không có",
    ),
    "check_revocation": PolicyText(
        "Check revocation before signing",
        "Kiểm tra thu hồi trước khi ký",
        "Hỏi máy chủ OCSP hoặc CRL của chứng thư trước khi ký.",
    ),
    "trust_local_ca": PolicyText(
        "Trust the local CA",
        "Tin cậy CA cục bộ",
        "kyso-agent run làm cho trình duyệt và hệ điều hành của người dùng tin cậy CA cục bộ khi "
        "khởi động lần đầu và sau mỗi lần gia hạn (kyso-agent serve không bao giờ làm việc này).",
    ),
    "allow_user_pairing": PolicyText(
        "Allow user pairing",
        "Cho phép người dùng ghép cặp",
        "Người dùng được tự đồng ý (ghép cặp) khi lần đầu dùng một cổng thông tin khớp mẫu có ký "
        "tự đại diện (https://*.gov.vn) trong danh sách cho phép.",
    ),
    "allow_external_prompter": PolicyText(
        "Allow an external prompter",
        "Cho phép chương trình hỏi bên ngoài",
        "Cho phép --prompter thay hộp thoại của agent bằng một chương trình khác.",
    ),
    "pin_cache_minutes": PolicyText(
        "PIN cache",
        "Nhớ mã PIN",
        "Nhớ mã PIN đã nhập cho mỗi token trong số phút này (0 = không bao giờ nhớ).",
    ),
    "cancel_backoff_seconds": PolicyText(
        "Back-off after repeated cancels",
        "Thời gian chờ sau nhiều lần hủy",
        "Độ trễ đầu tiên (giây) sau nhiều lần hủy liên tiếp từ cùng một nguồn gốc; độ trễ tăng "
        "gấp đôi mỗi lần (0 = không chờ).",
    ),
    "vgca_port": PolicyText(
        "VGCA Sign Service compatibility port",
        "Cổng tương thích VGCA Sign Service",
        "Cổng của lớp tương thích VGCA Sign Service (wss://127.0.0.1:CỔNG; 0 = cổng trống bất kỳ).",
    ),
    "vgca_enabled": PolicyText(
        "VGCA Sign Service compatibility",
        "Tương thích VGCA Sign Service",
        "Trả lời các cổng thông tin dùng giao thức VGCA Sign Service (plugin của Ban Cơ yếu "
        "Chính phủ).",
    ),
    "vnpt_port": PolicyText(
        "VNPT-CA Plugin compatibility port",
        "Cổng tương thích VNPT-CA Plugin",
        "Cổng của lớp tương thích VNPT-CA Plugin (wss://localhost:CỔNG/plugin; 0 = cổng trống "
        "bất kỳ); không đặt: cổng trống đầu tiên trong các cổng mà vnpt-plugin.js thử.",
    ),
    "vnpt_enabled": PolicyText(
        "VNPT-CA Plugin compatibility",
        "Tương thích VNPT-CA Plugin",
        "Trả lời các cổng thông tin viết cho VNPT-CA Plugin.",
    ),
    "bkav_port": PolicyText(
        "BKAV plugin compatibility port",
        "Cổng tương thích plugin BKAV",
        "Cổng của lớp tương thích plugin ký số BKAV (wss://localhost:CỔNG; 0 = cổng trống bất "
        "kỳ); không đặt: cổng mà thư viện của BKAV thử.",
    ),
    "bkav_enabled": PolicyText(
        "BKAV plugin compatibility",
        "Tương thích plugin BKAV",
        "Trả lời các cổng thông tin viết cho plugin ký số của BKAV.",
    ),
    "fpt_port": PolicyText(
        "FPT SignPlugin compatibility port",
        "Cổng tương thích FPT SignPlugin",
        "Cổng của lớp tương thích FPT SignPlugin (https://127.0.0.1:CỔNG/process; 0 = cổng "
        "trống bất kỳ); không đặt: cổng mà thư viện của FPT thử.",
    ),
    "fpt_enabled": PolicyText(
        "FPT SignPlugin compatibility",
        "Tương thích FPT SignPlugin",
        "Trả lời các cổng thông tin viết cho FPT SignPlugin.",
    ),
    "module_isolation": PolicyText(
        "PKCS#11 module isolation",
        "Cách ly mô-đun PKCS#11",
        "process: mỗi mô-đun PKCS#11 chạy trong một tiến trình riêng, để mô-đun của nhà cung cấp "
        "bị lỗi hoặc bị treo chỉ làm hỏng một yêu cầu chứ không làm dừng agent; thread: chạy "
        "ngay trong agent.",
    ),
    "module_timeout": PolicyText(
        "PKCS#11 module timeout",
        "Thời gian chờ mô-đun PKCS#11",
        "Số giây một mô-đun PKCS#11 được dùng để trả lời một thao tác đọc (khi ký: cộng thêm 2 "
        "giây cho mỗi bản tóm lược, thêm 120 giây với bàn phím PIN); quá hạn, mô-đun bị dừng và "
        "khởi động lại.",
    ),
}


def whole_seconds(setting: Setting) -> bool:
    """Whether a number's range and default are whole numbers (a ``decimal`` loses nothing)."""
    return all(
        v is None or float(v).is_integer() for v in (setting.low, setting.high, setting.default)
    )


def element_tag(setting: Setting) -> str | None:
    """The ADMX element that edits ``setting`` (``None``: the policy's own enabled/disabled)."""
    if setting.shape is Shape.BOOL:
        return None
    if setting.shape is Shape.INT or (setting.shape is Shape.FLOAT and whole_seconds(setting)):
        return "decimal"
    if setting.shape is Shape.LIST:
        return "multiText"
    return "enum" if setting.choices else "text"


def decimal_range(setting: Setting) -> tuple[int, int]:
    """``minValue`` and ``maxValue`` of a number's ``decimal`` element."""
    if setting.low is None:
        low = 0
    elif setting.low_open:
        low = math.floor(setting.low) + 1
    else:
        low = math.ceil(setting.low)
    high = DWORD_MAX if setting.high is None else math.floor(setting.high)
    if low < 0 or high > DWORD_MAX:
        raise ValueError(f"{setting.name}: {low}..{high} does not fit a REG_DWORD")
    return low, high


def expandable(setting: Setting) -> bool:
    """A path written as REG_EXPAND_SZ, so that ``%LOCALAPPDATA%`` means each user's own."""
    return setting.shape is Shape.TEXT and setting.parse is as_path


def _registry_type(setting: Setting) -> str:
    tag = element_tag(setting)
    if tag in (None, "decimal"):
        return "REG_DWORD"
    if tag == "multiText":
        return "REG_MULTI_SZ"
    return "REG_EXPAND_SZ" if expandable(setting) else "REG_SZ"


def _prefill(setting: Setting) -> int | None:
    """The number a ``decimalTextBox`` shows first: the default (or the first one it names)."""
    if isinstance(setting.default, int | float) and not isinstance(setting.default, bool):
        return int(setting.default)
    first = re.match(r"\d+", setting.default_text)
    return int(first.group()) if first else None


def _choice(value: Any) -> str:
    return str(getattr(value, "value", value))


# --- the ADMX -------------------------------------------------------------------------------------


def _policy(setting: Setting) -> etree._Element:
    name = setting.name
    tag = element_tag(setting)
    attrs = {
        "name": name,
        "class": "Machine",
        "displayName": f"$(string.{name})",
        "explainText": f"$(string.{name}_Explain)",
    }
    if tag is not None:
        attrs["presentation"] = f"$(presentation.{name})"
    attrs["key"] = WINDOWS_POLICY_KEY
    if tag is None:
        attrs["valueName"] = name
    policy = E.policy(E.parentCategory(ref=CATEGORY), E.supportedOn(ref=SUPPORTED), **attrs)
    if tag is None:
        policy.append(E.enabledValue(E.decimal(value="1")))
        policy.append(E.disabledValue(E.decimal(value="0")))
        return policy
    if tag == "decimal":
        low, high = decimal_range(setting)
        element = E.decimal(
            id=name, valueName=name, required="true", minValue=str(low), maxValue=str(high)
        )
    elif tag == "enum":
        element = E.enum(id=name, valueName=name, required="true")
        for value in setting.choices:
            item = E.item(E.value(E.string(value)), displayName=f"$(string.{name}_{value})")
            element.append(item)
    elif tag == "multiText":
        element = E.multiText(id=name, valueName=name)
    else:
        element = E.text(id=name, valueName=name, required="true")
        if expandable(setting):
            element.set("expandable", "true")
    policy.append(E.elements(element))
    return policy


def admx() -> etree._Element:
    """The language-neutral template."""
    return E.policyDefinitions(
        E.policyNamespaces(E.target(prefix=TARGET_PREFIX, namespace=TARGET_NAMESPACE)),
        E.resources(minRequiredRevision=REVISION),
        E.supportedOn(
            E.definitions(E.definition(name=SUPPORTED, displayName=f"$(string.{SUPPORTED})"))
        ),
        E.categories(E.category(name=CATEGORY, displayName=f"$(string.{CATEGORY})")),
        E.policies(*(_policy(s) for s in SETTINGS)),
        revision=REVISION,
        schemaVersion="1.0",
    )


# --- the ADMLs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Language:
    """The words one ADML is made of, around each setting's own texts."""

    code: str
    title: Callable[[PolicyText], str]
    explain: Callable[[Setting, PolicyText], str]
    default: Callable[[Setting, PolicyText], str]
    description: str
    supported: str
    per_line: str
    """Added to a list's label."""
    registry: str
    """How a policy with a value edits the registry: ``{value}`` and ``{type}``."""
    boolean: str
    """How a BOOL policy edits the registry: ``{value}`` and ``{default}``."""
    deleted: str
    """What *Disabled* and *Not configured* mean for a policy with a value: ``{default}``."""
    values: Callable[[Setting], str]
    choices: str
    lines: str
    expands: str
    policy_only: str
    pinned: str
    overridable: str
    reference: str


def _plain(text: str) -> str:
    """A declaration's text without Markdown's backticks."""
    return text.replace("`", "")


def _explain_en(setting: Setting, _text: PolicyText) -> str:
    doc = _plain(setting.doc).removesuffix(" (repeatable)")  # the flag's word, not a policy's
    return doc[0].upper() + doc[1:] + "."


def _default_en(setting: Setting, _text: PolicyText) -> str:
    if isinstance(setting.default, bool):
        return "enabled" if setting.default else "disabled"
    return _plain(setting.default_doc)


def _default_vi(setting: Setting, text: PolicyText) -> str:
    if isinstance(setting.default, bool):
        return "bật" if setting.default else "tắt"
    return text.default_vi or _plain(setting.default_doc)


def _values_en(setting: Setting) -> str:
    if element_tag(setting) != "decimal":
        return f"Allowed: {setting.values_text()}."
    whole = " (whole numbers in this template)" if setting.shape is Shape.FLOAT else ""
    return f"Allowed: {setting.values_text()}{whole}."


def _values_vi(setting: Setting) -> str:
    low, high = decimal_range(setting)
    if high == DWORD_MAX and setting.high is None:
        return f"Giá trị cho phép: số nguyên, ít nhất {low}."
    return f"Giá trị cho phép: số nguyên từ {low} đến {high}."


EN: Final = Language(
    code="en-US",
    title=lambda t: t.title_en,
    explain=_explain_en,
    default=_default_en,
    description="Machine policy of Kyso Agent (HKLM\\SOFTWARE\\Policies\\Kyso\\Agent).",
    supported="At least Windows 10",
    per_line=" (one per line)",
    registry="Enabled writes the value set below to {value} ({type}).",
    boolean="Enabled writes 1 and Disabled writes 0 to {value} (REG_DWORD). "
    "Not configured: the agent's default, {default}.",
    deleted="Disabled or Not configured: no value, the agent's default applies: {default}.",
    values=_values_en,
    choices="One of: {choices}.",
    lines="One entry per line.",
    expands="Environment variables such as %LOCALAPPDATA% are expanded for the user the agent "
    "runs as.",
    policy_only="Only machine policy can set this: a user's config.toml or a command-line flag "
    "that sets it is refused.",
    pinned="Set by machine policy, it is pinned: a user's config.toml or a command-line flag "
    "cannot change it.",
    overridable="A user's config.toml or a command-line flag can still set it differently.",
    reference="Reference: docs/it-policy.md.",
)

VI: Final = Language(
    code="vi-VN",
    title=lambda t: t.title_vi,
    explain=lambda _s, t: t.explain_vi,
    default=_default_vi,
    description="Chính sách máy của Kyso Agent (HKLM\\SOFTWARE\\Policies\\Kyso\\Agent).",
    supported="Windows 10 trở lên",
    per_line=" (mỗi dòng một mục)",
    registry="Đã bật (Enabled): ghi giá trị đặt bên dưới vào {value} ({type}).",
    boolean="Đã bật (Enabled) ghi 1, Đã tắt (Disabled) ghi 0 vào {value} (REG_DWORD). "
    "Chưa cấu hình (Not Configured): dùng mặc định của agent, {default}.",
    deleted="Đã tắt (Disabled) hoặc Chưa cấu hình (Not Configured): không có giá trị, agent dùng "
    "mặc định: {default}.",
    values=_values_vi,
    choices="Một trong: {choices}.",
    lines="Mỗi dòng một mục.",
    expands="Các biến môi trường như %LOCALAPPDATA% được mở rộng theo người dùng chạy agent.",
    policy_only="Chỉ chính sách máy mới đặt được khóa này: tệp config.toml của người dùng hoặc "
    "tham số dòng lệnh đặt nó sẽ bị từ chối.",
    pinned="Khi chính sách máy đặt khóa này, nó bị khóa: tệp config.toml của người dùng hoặc "
    "tham số dòng lệnh không thay đổi được.",
    overridable="Tệp config.toml của người dùng hoặc tham số dòng lệnh vẫn có thể đặt giá trị "
    "khác.",
    reference="Tham khảo: docs/it-policy.md, docs/vi/huong-dan-quan-tri.md.",
)

BY_CODE: Final = {lang.code: lang for lang in (EN, VI)}


def explain(setting: Setting, lang: Language) -> str:
    """The help text of ``setting``'s policy in ``lang``."""
    text = TEXTS[setting.name]
    paragraphs = [lang.explain(setting, text)]
    note = text.note_en if lang is EN else text.note_vi
    if note:
        paragraphs.append(note)
    value = f"HKLM\\{WINDOWS_POLICY_KEY}\\{setting.name}"
    default = lang.default(setting, text)
    tag = element_tag(setting)
    if tag is None:
        how = [lang.boolean.format(value=value, default=default)]
    else:
        how = [lang.registry.format(value=value, type=_registry_type(setting))]
        if tag == "decimal":
            how.append(lang.values(setting))
        elif tag == "enum":
            how.append(lang.choices.format(choices=", ".join(setting.choices)))
        elif tag == "multiText":
            how.append(lang.lines)
        if expandable(setting):
            how.append(lang.expands)
        how.append(lang.deleted.format(default=default))
    paragraphs.append(" ".join(how))
    if setting.policy_only:
        paragraphs.append(lang.policy_only)
    elif setting.pinned:
        paragraphs.append(lang.pinned)
    else:
        paragraphs.append(lang.overridable)
    paragraphs.append(lang.reference)
    return "\n\n".join(paragraphs)


def _presentation(setting: Setting, lang: Language) -> etree._Element | None:
    name = setting.name
    label = lang.title(TEXTS[name])
    tag = element_tag(setting)
    if tag is None:
        return None
    if tag == "decimal":
        box = E.decimalTextBox(f"{label}:", refId=name)
        prefill = _prefill(setting)
        if prefill is not None:
            box.set("defaultValue", str(prefill))
        return E.presentation(box, id=name)
    if tag == "enum":
        default = _choice(setting.default)
        index = setting.choices.index(default) if default in setting.choices else 0
        box = E.dropdownList(f"{label}:", refId=name, noSort="true", defaultItem=str(index))
        return E.presentation(box, id=name)
    if tag == "multiText":
        return E.presentation(
            E.text(f"{label}{lang.per_line}:"), E.multiTextBox(refId=name), id=name
        )
    return E.presentation(E.textBox(E.label(f"{label}:"), refId=name), id=name)


def adml(lang: Language) -> etree._Element:
    """The ``lang`` resources of the template."""
    strings = [
        E.string("Kyso Agent", id=CATEGORY),
        E.string(lang.supported, id=SUPPORTED),
    ]
    presentations = []
    for setting in SETTINGS:
        name = setting.name
        strings.append(E.string(lang.title(TEXTS[name]), id=name))
        strings.append(E.string(explain(setting, lang), id=f"{name}_Explain"))
        if element_tag(setting) == "enum":
            strings += [E.string(value, id=f"{name}_{value}") for value in setting.choices]
        presentation = _presentation(setting, lang)
        if presentation is not None:
            presentations.append(presentation)
    return E.policyDefinitionResources(
        E.displayName("Kyso Agent"),
        E.description(lang.description),
        E.resources(E.stringTable(*strings), E.presentationTable(*presentations)),
        revision=REVISION,
        schemaVersion="1.0",
    )


def _serialize(root: etree._Element) -> bytes:
    body = etree.tostring(root, encoding="utf-8", pretty_print=True)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + bytes(body)


def generate() -> dict[str, bytes]:
    """Every file of the templates, by path relative to the output directory."""
    files = {ADMX: _serialize(admx())}
    for code in LANGUAGES:
        files[f"{code}/{BASE}.adml"] = _serialize(adml(BY_CODE[code]))
    return files


def write(out_dir: Path) -> list[Path]:
    """Write the templates under ``out_dir``; returns the files written."""
    written = []
    for relative, data in generate().items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=POLICY_DIR)
    args = parser.parse_args(argv)
    for path in write(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
