# The notifier's messages in Russian, the first language of the product. Telegram HTML.
# A template named `access.granted` is the message `access-granted`. Every message here
# exists in every other locale with the same placeholders (tests/unit/test_templates.py).

setup-steps =
    Как подключиться:
    1. Установите приложение: Hiddify или v2rayNG (Android), Streisand или Happ (iOS), Hiddify (Windows, macOS).
    2. Скопируйте ссылку выше и добавьте её в приложение как подписку.
    3. Нажмите «Подключиться».

access-granted =
    ✅ <b>Доступ к VPN готов</b>

    Действует до: <b>{ DATETIME($expires, dateStyle: "long") }</b>
    Трафик: <b>{ $traffic_gib ->
        [0] без ограничений
       *[other] { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ
    }</b>

    Ваша ссылка-подписка:
    <code>{ $subscription_url }</code>

    { setup-steps }

access-delayed = ⏳ Оплата получена, но сервер VPN сейчас не отвечает. Мы продолжаем попытки и пришлём доступ, как только он будет готов. Ничего делать не нужно.

access-failed = ⚠️ Оплата получена, но выдать доступ автоматически не удалось. Мы уже разбираемся и напишем вам. Деньги не потеряются.

payment-canceled = ❌ Платёж на { $amount } не прошёл ({ $reason }). Доступ не оплачен. Попробуйте ещё раз через /buy.

payment-refunded =
    ↩️ <b>Возврат { $amount }</b>
    { $refunded_to ->
        [wallet] Деньги зачислены на ваш баланс.
       *[provider] Деньги вернутся тем же способом, которым вы платили.
    }
    { $access ->
        [ended] Доступ к VPN закрыт.
        [until] Доступ к VPN теперь действует до <b>{ DATETIME($expires, dateStyle: "long") }</b>
       *[unchanged] Сумма списана с баланса.
    }

# Why a payment was canceled, by the provider's reason code (`reason-<code>`).
reason-expired-on-confirmation = время на оплату истекло
reason-insufficient-funds = недостаточно средств
reason-canceled-by-merchant = отменён магазином
reason-card-expired = срок действия карты истёк
reason-3d-secure-failed = не пройдена проверка 3-D Secure
reason-call-issuer = банк отклонил платёж
reason-general-decline = платёж отклонён
reason-fraud-suspected = платёж заблокирован
reason-other = платёж отменён
