"""The template variables of host remarks, addresses and paths
(``app/subscription/share.py`` ``setup_format_variables``), as the panel fills them."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sandbox.marzban.records import UserRecord
from sandbox.marzban.schemas import UserStatus

STATUS_EMOJIS = {
    "active": "✅",
    "expired": "⌛️",
    "limited": "🪫",
    "disabled": "❌",
    "on_hold": "🔌",
}
# config.py's *_STATUS_TEXT defaults.
STATUS_TEXTS = {
    "active": "Active",
    "expired": "Expired",
    "limited": "Limited",
    "disabled": "Disabled",
    "on_hold": "On-Hold",
}
SIZE_NAMES = ("B", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")

FormatVariables = defaultdict[str, object]


def readable_size(size_bytes: int) -> str:
    """``app.utils.system.readable_size``: ``1073741824`` → ``"1.0 GB"``."""
    if size_bytes <= 0:
        return "0 B"
    i = math.floor(math.log(size_bytes, 1024))
    return f"{round(size_bytes / math.pow(1024, i), 2)} {SIZE_NAMES[i]}"


def format_time_left(seconds_left: int) -> str:
    if not seconds_left or seconds_left <= 0:
        return "∞"
    minutes, seconds = divmod(seconds_left, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    months, days = divmod(days, 30)
    parts = []
    if months:
        parts.append(f"{months}m")
    if days:
        parts.append(f"{days}d")
    if hours and days < 7:
        parts.append(f"{hours}h")
    if minutes and not (months or days):
        parts.append(f"{minutes}m")
    if seconds and not (months or days):
        parts.append(f"{seconds}s")
    return " ".join(parts)


def jalali(day: date) -> str:
    """The Solar Hijri date, as ``jdatetime.date.fromgregorian(...).strftime("%Y-%m-%d")``."""
    days_before_month = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
    gy2 = day.year + 1 if day.month > 2 else day.year
    days = (
        355666
        + 365 * day.year
        + (gy2 + 3) // 4
        - (gy2 + 99) // 100
        + (gy2 + 399) // 400
        + day.day
        + days_before_month[day.month - 1]
    )
    year = -1595 + 33 * (days // 12053)
    days %= 12053
    year += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        year += (days - 1) // 365
        days = (days - 1) % 365
    if days < 186:
        month, dom = 1 + days // 31, 1 + days % 31
    else:
        month, dom = 7 + (days - 186) // 30, 1 + (days - 186) % 30
    return f"{year:04d}-{month:02d}-{dom:02d}"


def format_variables(
    user: UserRecord, *, now: float, server_ip: str, server_ipv6: str
) -> FormatVariables:
    """The variables for one user; unknown names format as ``<missing>``. The panel runs in
    UTC, so its local ``fromtimestamp`` is UTC here."""
    days_left: object
    time_left: str
    expire_date: object
    jalali_date: str
    if user.status != UserStatus.on_hold:
        if user.expire is not None and user.expire >= 0:
            expire_at = datetime.fromtimestamp(user.expire, UTC).replace(tzinfo=None)
            expire_date = expire_at.date()
            jalali_date = jalali(expire_at.date())
            if now < user.expire:
                utcnow = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
                days_left = (expire_at - utcnow).days + 1
                time_left = format_time_left(user.expire - int(now))
            else:
                days_left = time_left = "0"
        else:
            days_left = time_left = expire_date = jalali_date = "∞"
    elif user.on_hold_expire_duration is not None and user.on_hold_expire_duration >= 0:
        days_left = timedelta(seconds=user.on_hold_expire_duration).days
        time_left = format_time_left(user.on_hold_expire_duration)
        expire_date = jalali_date = "-"
    else:
        days_left = time_left = expire_date = jalali_date = "∞"

    if user.data_limit:
        data_limit = readable_size(user.data_limit)
        data_left = readable_size(max(user.data_limit - user.used_traffic, 0))
    else:
        data_limit = data_left = "∞"

    status = user.status.value
    return defaultdict(
        lambda: "<missing>",
        {
            "SERVER_IP": server_ip,
            "SERVER_IPV6": server_ipv6,
            "USERNAME": user.username,
            "DATA_USAGE": readable_size(user.used_traffic),
            "DATA_LIMIT": data_limit,
            "DATA_LEFT": data_left,
            "DAYS_LEFT": days_left,
            "EXPIRE_DATE": expire_date,
            "JALALI_EXPIRE_DATE": jalali_date,
            "TIME_LEFT": time_left,
            "STATUS_EMOJI": STATUS_EMOJIS.get(status, ""),
            "STATUS_TEXT": STATUS_TEXTS.get(status, ""),
        },
    )
