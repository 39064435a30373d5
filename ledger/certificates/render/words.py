"""The words of the ledger's documents, in Chinese and English: one vocabulary for the agreement certificate
(``render.agreement``) and the case file summary (``render.casefile``), so a licence type, a status or an event
reads the same in every document.

Every caption is a ``(zh, en)`` pair keyed by the word the API uses (:attr:`ledger.domain.codes.Code.word`, an
event name, an item kind). Formatting helpers turn machine values into text for people: names with a clean
fallback when one language is missing (:func:`party_name`), territories (:func:`territory_names`), times in
ISO 8601 for Asia/Shanghai and UTC (:func:`when`), amounts with their currency, in figures and in words, the
Chinese in capital numerals as on a cheque (:func:`money`, :func:`chinese_capital_amount`), and royalties
(:func:`royalty`). Pure and deterministic: no clock, no environment.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.domain import territory as territories

__all__ = [
    "AGREEMENT_KIND",
    "ASSET_KIND",
    "DISPUTE_STATUS",
    "EVENT",
    "IDENTIFIER_SCHEME",
    "ITEM_KIND",
    "JURISDICTION",
    "LEGAL_STATUS",
    "LICENCE_TYPE",
    "OUTCOME",
    "PARTY_KIND",
    "RAW_FIELD",
    "ROLE",
    "SUBJECT",
    "Pair",
    "agreement_type",
    "chinese_capital_amount",
    "english_number",
    "identifier",
    "money",
    "party_name",
    "percent",
    "royalty",
    "territory_names",
    "when",
    "word",
]

Pair = tuple[str, str]

AGREEMENT_KIND: dict[str, Pair] = {
    "assignment": ("转让", "Assignment"),
    "licence": ("许可", "Licence"),
    "equity_contribution": ("作价入股", "Equity contribution"),
    "pledge": ("质押", "Pledge"),
}
LICENCE_TYPE: dict[str, Pair] = {
    "exclusive": ("独占许可", "Exclusive licence"),
    "sole": ("排他许可", "Sole licence"),
    "ordinary": ("普通许可", "Non-exclusive licence"),
}
#: What each side of an agreement is called, keyed by :attr:`ledger.domain.codes.AgreementKind.roles` words.
ROLE: dict[str, Pair] = {
    "licensor": ("许可方", "Licensor"),
    "licensee": ("被许可方", "Licensee"),
    "assignor": ("转让方", "Assignor"),
    "assignee": ("受让方", "Assignee"),
    "contributor": ("出资方", "Contributor"),
    "company": ("被投资公司", "Company"),
    "pledgor": ("出质人", "Pledgor"),
    "pledgee": ("质权人", "Pledgee"),
    "grantor": ("授予方", "Grantor"),
    "grantee": ("受让方", "Grantee"),
}
ASSET_KIND: dict[str, Pair] = {
    "invention": ("发明专利", "Invention patent"),
    "utility_model": ("实用新型专利", "Utility model patent"),
    "design": ("外观设计专利", "Design patent"),
    "standard_patent_r": ("标准专利（注册）", "Standard patent (R)"),
    "standard_patent_o": ("标准专利（原授）", "Standard patent (O)"),
    "short_term_patent": ("短期专利", "Short-term patent"),
    "pct_application": ("PCT 国际申请", "PCT international application"),
    "other_patent": ("其他专利", "Other patent"),
}
#: The patent office of an asset (the API writes the jurisdiction upper case: ``CN``).
JURISDICTION: dict[str, Pair] = {
    "CN": ("中国大陆（国家知识产权局）", "Mainland China (CNIPA)"),
    "HK": ("中国香港（知识产权署）", "Hong Kong SAR (Intellectual Property Department)"),
    "PCT": ("PCT（世界知识产权组织）", "PCT (WIPO)"),
    "OTHER": ("其他法域", "Other jurisdiction"),
}
IDENTIFIER_SCHEME: dict[str, Pair] = {
    "USCC": ("统一社会信用代码", "Unified Social Credit Code"),
    "HKBRN": ("香港商业登记号码", "HK Business Registration No."),
    "OTHER": ("其他标识", "Identifier"),
}
PARTY_KIND: dict[str, Pair] = {
    "firm": ("企业", "Firm"),
    "university": ("高等院校", "University"),
    "arbitration_institution": ("仲裁机构", "Arbitration institution"),
    "financial_institution": ("金融机构", "Financial institution"),
    "service_agency": ("服务机构", "Service agency"),
    "asset_verifier": ("资产核验机构", "Asset verifier"),
}
#: A record's legal status (:class:`ledger.certificates.verify.LegalStatus` states and the agreement view's words).
LEGAL_STATUS: dict[str, Pair] = {
    "in_force": ("有效", "In force"),
    "effective": ("有效", "In force"),
    "not_yet_in_force": ("尚未生效（期限未开始）", "Not yet in force (its term has not started)"),
    "not_yet_executed": ("尚未生效", "Not yet in effect"),
    "expired": ("已到期", "Expired"),
    "terminated": ("已终止", "Terminated"),
    "released": ("质押已解除", "Released (the pledge was released)"),
    "voided": ("经仲裁裁决撤销", "Voided by arbitral award"),
    "withdrawn": ("已撤回", "Withdrawn"),
    "ended_with_parent": ("随母许可终止", "Ended with its parent licence"),
    "unknown": ("无法确定", "Unknown"),
}
SUBJECT: dict[str, Pair] = {
    "asset": ("专利", "Patent"),
    "agreement": ("协议", "Agreement"),
    "evidence": ("存证", "Evidence"),
}
DISPUTE_STATUS: dict[str, Pair] = {"open": ("审理中", "Open"), "closed": ("已结案", "Closed")}
#: What an award did, as the headline of its effect.
OUTCOME: dict[str, Pair] = {
    "dismissed": ("驳回仲裁请求", "The claim was dismissed"),
    "agreement_voided": ("裁决撤销协议", "The award voided the agreement"),
    "title_restored": ("裁决恢复权属", "The award restored the title"),
}
#: The events of an asset's chain of title.
EVENT: dict[str, Pair] = {
    "AssetRegistered": ("专利登记（权属主张）", "Patent registered (claim of title)"),
    "AssetConfirmed": ("核验机构确认权属", "Title confirmed by an asset verifier"),
    "ClaimRejected": ("核验机构驳回权属主张", "Claim rejected by an asset verifier"),
    "TitleTransferred": ("权属转移", "Title transferred"),
    "AgreementExecuted": ("协议生效", "Agreement took effect"),
    "AgreementTerminated": ("协议终止", "Agreement terminated"),
    "AgreementWithdrawn": ("协议撤回", "Agreement withdrawn"),
    "PledgeReleased": ("质押解除", "Pledge released"),
    "AssetFrozen": ("因争议冻结", "Frozen by a dispute"),
    "AssetUnfrozen": ("解除冻结", "Unfrozen"),
    "AgreementVoided": ("裁决撤销协议", "Agreement voided by award"),
    "TitleRestored": ("裁决恢复权属", "Title restored by award"),
    "ClaimStruck": ("裁决撤销权属主张", "Claim struck by award"),
}
#: The kinds of a case file's items.
ITEM_KIND: dict[str, Pair] = {
    "dispute-opened": ("仲裁立案", "Dispute opened"),
    "dispute-closed": ("仲裁裁决", "Award"),
    "title-event": ("权属记录", "Title record"),
    "agreement-certificate": ("协议证书", "Agreement certificate"),
    "evidence-certificate": ("存证证书", "Evidence certificate"),
}

#: Chinese captions of the raw members of terms and details (the appendix prints each beside its JSON name).
RAW_FIELD: dict[str, str] = {
    "kind": "协议类型代码",
    "assetId": "资产编号",
    "grantees": "受让方 / 被许可方参与方编号",
    "shares": "份额（基点）",
    "licenceType": "许可类型代码",
    "territory": "地域位图",
    "fieldOfUse": "实施领域",
    "sublicensable": "可否分许可",
    "parentLicence": "母许可编号",
    "start": "开始（Unix 秒）",
    "end": "届满（Unix 秒）",
    "documentHash": "合同文件哈希",
    "detailsHash": "详情哈希",
    "salt": "随机盐",
    "deadline": "签署截止（Unix 秒）",
    "royalty": "许可费",
    "contractDate": "合同签订日",
    "recordationNumber": "备案号",
    "recordationDate": "备案日",
    "amount": "金额",
    "currency": "币种",
    "registrationNumber": "登记号",
    "appraiser": "评估机构",
    "appraisalReportHash": "评估报告哈希",
    "appraisedValue": "评估价值",
    "agreedValue": "作价金额",
    "capitalAmount": "计入注册资本",
    "equityShare": "股权比例（基点）",
}


def word(table: Mapping[str, Pair], key: Any) -> Pair:
    """The caption of ``key`` in ``table``; an unknown key reads as itself in both languages, never as blank."""
    text = "" if key is None else str(key)
    return table.get(text, (text, text.replace("_", " ")))


def agreement_type(kind: str, licence_type: str | None = None) -> Pair:
    """The agreement type in words: a licence by its type (``独占许可`` / ``Exclusive licence``), else its kind."""
    if kind == "licence" and licence_type in LICENCE_TYPE:
        return LICENCE_TYPE[str(licence_type)]
    return word(AGREEMENT_KIND, kind)


# --- parties ---------------------------------------------------------------------------------------------------


def party_name(party: Mapping[str, Any] | None) -> Pair:
    """A party's name in Chinese and in English; a language missing falls back to the other, and a party with
    neither (or unknown) reads as its id: never a lone separator."""
    party = party or {}
    zh, en = str(party.get("nameZh") or "").strip(), str(party.get("nameEn") or "").strip()
    if not zh and not en:
        pid = party.get("partyId")
        return (f"参与方 {pid}", f"Party {pid}") if pid is not None else ("（未知）", "(unknown)")
    return zh or en, en or zh


def identifier(party: Mapping[str, Any] | None) -> Pair:
    """``统一社会信用代码 91110108551385082Q`` / ``Unified Social Credit Code 91110108551385082Q``."""
    party = party or {}
    scheme = str(party.get("identifierScheme") or "")
    value = str(party.get("identifier") or "")
    zh, en = word(IDENTIFIER_SCHEME, scheme)
    return f"{zh} {value}".strip(), f"{en} {value}".strip()


# --- territory -------------------------------------------------------------------------------------------------

_TERRITORY_NAMES: dict[str, Pair] = {
    "WORLD": ("全世界", "Worldwide"),
    "CN": ("中国大陆", "Mainland China"),
    "HK": ("中国香港特别行政区", "Hong Kong SAR"),
    "MO": ("中国澳门特别行政区", "Macao SAR"),
    "TW": ("中国台湾", "Taiwan (China)"),
}


@cache
def _iso3166_zh() -> gettext.NullTranslations:
    import pycountry

    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"])
    except OSError:
        return gettext.NullTranslations()


def territory_name(code: str) -> Pair:
    """A territory's name (ISO 3166-1 names from pycountry, Chinese from its zh_CN catalogue)."""
    if code in _TERRITORY_NAMES:
        return _TERRITORY_NAMES[code]
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code, code
    en = str(getattr(country, "common_name", None) or country.name)
    return _iso3166_zh().gettext(country.name), en


def territory_names(mask: int | str) -> Pair:
    """The territory of a licence (its bitmask, as an int or ``"0x…"``) as names with their codes:
    ``中国大陆 (CN)、中国香港特别行政区 (HK)`` / ``Mainland China (CN), Hong Kong SAR (HK)``."""
    value = int(mask, 16) if isinstance(mask, str) else int(mask)
    if value == 0:
        return "（无）", "(none)"
    codes = territories.from_mask(value)
    names = [territory_name(c) for c in codes]
    if codes == ["WORLD"]:
        return names[0]
    return (
        "、".join(f"{zh} ({c})" for c, (zh, _) in zip(codes, names, strict=True)),
        ", ".join(f"{en} ({c})" for c, (_, en) in zip(codes, names, strict=True)),
    )


# --- time ------------------------------------------------------------------------------------------------------


def _shanghai() -> Any:
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no tz database on this machine: China has kept UTC+8 without DST since 1991
        return timezone(timedelta(hours=8), "Asia/Shanghai")


def when(ts: int | None) -> str:
    """A moment in ISO 8601, in Asia/Shanghai and in UTC: ``2026-05-01T08:00:00+08:00 (Asia/Shanghai) ·
    2026-05-01T00:00:00Z (UTC)``; ``—`` for none."""
    if ts is None:
        return "—"
    moment = datetime.fromtimestamp(int(ts), UTC)
    local = moment.astimezone(_shanghai()).isoformat()
    return f"{local} (Asia/Shanghai) · {moment.strftime('%Y-%m-%dT%H:%M:%SZ')} (UTC)"


# --- amounts ---------------------------------------------------------------------------------------------------

_CAPITAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CAPITAL_UNITS = ("", "拾", "佰", "仟")
_CAPITAL_GROUPS = ("", "万", "亿", "万亿")
_CURRENCY_ZH = {
    "CNY": "人民币",
    "HKD": "港币",
    "MOP": "澳门元",
    "USD": "美元",
    "EUR": "欧元",
    "GBP": "英镑",
    "JPY": "日元",
    "SGD": "新加坡元",
}


def _cents(amount: str | int | Decimal) -> Decimal:
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount") from None
    if value < 0 or not value.is_finite():
        raise ValueError(f"{amount!r} is not an amount")
    return value


def chinese_capital_amount(amount: str | int | Decimal) -> str:
    """The amount in Chinese capital numerals as written on a cheque (大写金额), without the currency:
    ``1000000`` → ``壹佰万元整``, ``1234.56`` → ``壹仟贰佰叁拾肆元伍角陆分``, ``100.05`` → ``壹佰元零伍分``."""
    value = _cents(amount)
    yuan = int(value)
    jiao, fen = divmod(int((value - yuan) * 100), 10)
    if yuan >= 10**16:
        raise ValueError(f"{amount!r} is too large to write in words")
    out = ""
    if yuan:
        groups = []
        n = yuan
        while n:
            n, g = divmod(n, 10_000)
            groups.append(g)
        zero = False
        for index in range(len(groups) - 1, -1, -1):
            g = groups[index]
            if g == 0:
                zero = bool(out)
                continue
            if out and (zero or g < 1000):
                out += "零"
            zero = False
            digits = f"{g:04d}"
            pending = False
            started = False
            for position, ch in enumerate(digits):
                d = int(ch)
                if d == 0:
                    pending = started
                    continue
                if pending:
                    out += "零"
                out += _CAPITAL_DIGITS[d] + _CAPITAL_UNITS[3 - position]
                pending, started = False, True
            out += _CAPITAL_GROUPS[index]
        out += "元"
    if not jiao and not fen:
        return (out or "零元") + "整"
    if jiao:
        out += _CAPITAL_DIGITS[jiao] + "角"
    elif out:
        out += "零"
    if fen:
        out += _CAPITAL_DIGITS[fen] + "分"
    else:
        out += "整"
    return out


_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def english_number(n: int) -> str:
    """A non-negative integer in English words: ``1234`` → ``one thousand two hundred thirty-four``."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {english_number(rest)}" if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{english_number(high)} {name}" + (f" {english_number(rest)}" if rest else "")
    raise AssertionError(n)  # pragma: no cover - every n >= 1000 has a scale


def money(amount: str | int | Decimal, currency: str) -> Pair:
    """An amount with its currency, in figures and in words: ``CNY 1,000,000.00（人民币壹佰万元整）`` /
    ``CNY 1,000,000.00 (one million CNY)``. An amount that is not a number is printed as given."""
    code = str(currency or "").upper()
    try:
        value = _cents(amount)
        capital = chinese_capital_amount(value)
    except ValueError:
        return f"{code} {amount}".strip(), f"{code} {amount}".strip()
    figures = f"{code} {value:,.2f}"
    yuan, cents = int(value), int((value - int(value)) * 100)
    en = english_number(yuan) + (f" and {cents:02d}/100" if cents else "")
    return f"{figures}（{_CURRENCY_ZH.get(code, code)}{capital}）", f"{figures} ({en} {code})"


def percent(bps: int) -> str:
    """Basis points as a percentage: ``350`` → ``3.5%``, ``10000`` → ``100%``."""
    value = (Decimal(int(bps)) / 100).normalize()
    return f"{value:f}%"


def royalty(r: Any) -> Pair:
    """A licence's royalty in words (docs/agreements.md: basis lump_sum, percentage in bps, per_unit or
    minimum_annual, with the amount or rate, an optional minimum annual royalty, and the ISO 4217 currency)."""
    if not r:
        return "（未约定）", "(none stated)"
    if not isinstance(r, Mapping):  # not the documented shape: printed as given
        return str(r), str(r)
    currency = str(r.get("currency") or "")
    basis = r.get("basis")
    if basis == "percentage":
        rate = percent(int(r.get("rate") or 0))
        zh, en = f"净销售额的 {rate}", f"{rate} of net sales"
    elif basis in ("lump_sum", "per_unit", "minimum_annual") and r.get("amount") is not None:
        mzh, men = money(r["amount"], currency)
        zh, en = {
            "lump_sum": (f"一次性支付 {mzh}", f"A lump sum of {men}"),
            "per_unit": (f"每件产品 {mzh}", f"{men} per unit"),
            "minimum_annual": (f"每年最低 {mzh}", f"Minimum annual royalty of {men}"),
        }[str(basis)]
    else:
        zh = en = ", ".join(f"{k}: {v}" for k, v in sorted(r.items()))
    if r.get("minimumAnnual") is not None and basis != "minimum_annual":
        mzh, men = money(r["minimumAnnual"], currency)
        zh, en = f"{zh}；每年最低 {mzh}", f"{en}; minimum annual royalty {men}"
    return zh, en
