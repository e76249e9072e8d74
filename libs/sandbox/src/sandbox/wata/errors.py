"""Errors in WATA's wire format (ABP's ``{"error": {...}}``), and the codes WATA documents.

A 400 carries ``validationErrors``; a business error carries a ``code`` such as
``Payment:PL_1001``; 401 and 429 come from the framework in front of the API and have no
body. Business errors are answered with 400, as integrations that log them show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

# «Коды ошибок» at wata.pro/api, as mirrored by SDKs (shared/reference §2.7).
ERROR_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "Payment:PL_1001": "Некорректная сумма платежной ссылки "
    "(сумма слишком маленькая или слишком большая)",
    "Payment:PL_1002": "Некорректная валюта платежной ссылки "
    "(создание ссылок в этой валюте запрещено)",
    "Payment:PL_1003": "Платежная ссылка недоступна либо уже оплачена",
    "Payment:CRY_1001": "Ошибка шифрования карточных данных",
    "Payment:TRA_1001": "Некорректный формат карточных данных при создании транзакции",
    "Payment:TRA_1002": "Некорректный номер карты при создании транзакции",
    "Payment:TRA_1003": "Некорректный срок действия карты при создании транзакции",
    "Payment:TRA_1004": "Некорректное значение CVV при создании транзакции",
    "Payment:TRA_1005": "Некорректная сумма при создании транзакции",
    "Payment:TRA_1013": "Данный способ оплаты не поддерживается",
    "Payment:TRA_2001": "Данный тип карты не поддерживается шлюзом",
    "Payment:TRA_2002": "Недостаточно средств",
    "Payment:TRA_2003": "Ошибка конфигурации магазина, обратитесь в поддержку",
    "Payment:TRA_2004": "Подозрение на мошенничество",
    "Payment:TRA_2006": "Отказ эмитента проводить онлайн-операцию",
    "Payment:TRA_2007": "Карта потеряна",
    "Payment:TRA_2009": "Отказ сети проводить операцию или неправильный CVV-код",
    "Payment:TRA_2010": "Карта не предназначена для онлайн-платежей",
    "Payment:TRA_2011": "Эмитент не найден",
    "Payment:TRA_2012": "Отказ по желанию держателя карты",
    "Payment:TRA_2013": "Ошибка на стороне эквайера — неверно сформирована транзакция",
    "Payment:TRA_2014": "Неизвестный эмитент карты",
    "Payment:TRA_2015": "Карта не предназначена для платежей",
    "Payment:TRA_2017": "Карта украдена",
    "Payment:TRA_2018": "Карта просрочена или неверно указан срок действия",
    "Payment:TRA_2019": "Неверный PIN-код",
    "Payment:TRA_2020": "Ограничение на карте",
    "Payment:TRA_2021": "Транзакция не разрешена по карте",
    "Payment:TRA_2022": "Превышена сумма по карте",
    "Payment:TRA_2023": "Карта заблокирована из-за нарушений безопасности",
    "Payment:TRA_2024": "Превышен лимит операций по карте",
    "Payment:TRA_2999": "Невозможно провести платеж",
}

INVALID_REQUEST: Final = "Your request is invalid!"
VALIDATION_DETAILS: Final = "The following validation errors were found – "


@dataclass(frozen=True)
class FieldError:
    message: str
    member: str

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "members": [self.member]}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: str | None = None,
        validation_errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        has_body: bool = True,
    ) -> None:
        super().__init__(f"{status} {code or ''} {message}".replace("  ", " "))
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.validation_errors = tuple(validation_errors)
        self.headers = dict(headers or {})
        self.has_body = has_body

    def body(self) -> dict[str, Any] | None:
        if not self.has_body:
            return None
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "data": {},
                "validationErrors": [error.to_json() for error in self.validation_errors] or None,
            }
        }


def invalid(errors: Sequence[FieldError]) -> ApiError:
    """400 with ``validationErrors``, as the reference's example of a missing amount."""
    details = VALIDATION_DETAILS + " ".join(error.message for error in errors)
    return ApiError(400, INVALID_REQUEST, details=details, validation_errors=errors)


def invalid_field(message: str, member: str) -> ApiError:
    return invalid([FieldError(message, member)])


def business(code: str | None, message: str | None = None, *, status: int = 400) -> ApiError:
    text = message or (ERROR_DESCRIPTIONS.get(code, "") if code else "") or "Request failed"
    return ApiError(status, text, code=code)


def entity_not_found(entity: str, entity_id: str) -> ApiError:
    return ApiError(404, f"There is no such an entity. Entity type: {entity}, id: {entity_id}")


def unauthorized(*, token_given: bool, expired_at: datetime | None = None) -> ApiError:
    """What ASP.NET's JWT bearer handler answers: an empty 401 and a ``WWW-Authenticate``."""
    challenge = "Bearer"
    if expired_at is not None:
        # The handler writes the expiry with the invariant culture: 01/15/2025 10:00:00.
        stamp = expired_at.strftime("%m/%d/%Y %H:%M:%S")
        challenge = (
            f'Bearer error="invalid_token", error_description="The token expired at \'{stamp}\'"'
        )
    elif token_given:
        challenge = 'Bearer error="invalid_token"'
    return ApiError(401, "Unauthorized", headers={"WWW-Authenticate": challenge}, has_body=False)


def too_many_requests() -> ApiError:
    return ApiError(429, "Too Many Requests", has_body=False)
