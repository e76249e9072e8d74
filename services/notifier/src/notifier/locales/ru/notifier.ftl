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

access-link-replaced =
    🔑 <b>Ссылка на подписку заменена</b>

    Старая ссылка больше не работает. Ваша новая ссылка:
    <code>{ $subscription_url }</code>

    В приложении удалите старую подписку и добавьте эту ссылку так же, как раньше.

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

# Automatic renewal (billing sends these). The button the customer turns it off with is
# named as the bot names it; `method-unnamed` stands for an empty `method_title`.
method-unnamed = сохранённый способ оплаты

autopay-enabled =
    🔁 <b>Автопродление включено</b>

    <b>{ DATETIME($charge, dateStyle: "long") }</b> спишем <b>{ $amount }</b>, способ оплаты: { $method_title }. Дальше — { $period_months ->
        [0] раз в { $period_days } { $period_days ->
            [one] день
            [few] дня
           *[many] дней
        }
        [1] раз в месяц
        [one] раз в { $period_months } месяц
        [few] раз в { $period_months } месяца
       *[many] раз в { $period_months } месяцев
    }. За несколько дней до каждого списания придёт напоминание.

    Отключить: /subscription → «Отключить автопродление».

autopay-upcoming =
    🔁 <b>Напоминание об автопродлении</b>

    <b>{ DATETIME($charge, dateStyle: "long") }</b> мы спишем <b>{ $amount }</b> ({ $method_title }), чтобы продлить подписку (она действует до { DATETIME($expires, dateStyle: "long") }). Ничего делать не нужно.

    Отключить: /subscription → «Отключить автопродление».

autopay-charge-failed =
    ⚠️ <b>Автопродление не прошло</b>

    Не получилось списать { $amount } ({ $reason }). { $retries_left ->
        [0] Больше пытаться не будем.
        [1] Попробуем ещё раз <b>{ DATETIME($retry, dateStyle: "long") }</b>, это последняя попытка.
       *[other] Попробуем ещё раз <b>{ DATETIME($retry, dateStyle: "long") }</b> (осталось попыток: { $retries_left }).
    }

    Если не оплатить, подписка закончится <b>{ DATETIME($expires, dateStyle: "long") }</b> — продлить её вручную можно через /buy.

autopay-stopped =
    🔁 <b>Автопродление отключено</b>

    { $why ->
        [permission_revoked] Вы отозвали разрешение на автоматические списания, и этот способ оплаты больше не используется.
        [charges_failed] Автоматические списания не прошли, и мы перестали пытаться.
        [provider_rejected] Платёжная система больше не принимает автоматические списания с этого способа оплаты.
        [plan_unavailable] Ваш тариф больше не продаётся, поэтому автоматически он не продлится.
        [price_raised] Цена тарифа выросла, а списываем мы только ту сумму, на которую вы согласились.
        [method_not_saved] Платёжная система не дала сохранить способ оплаты для автоматических списаний.
        [subscription_refunded] За подписку сделан возврат, продлевать нечего.
       *[other] Автоматическое продление выключено.
    }

    Подписка действует до <b>{ DATETIME($expires, dateStyle: "long") }</b> — продлить её вручную можно через /buy.

# Why a payment was canceled, by the provider's reason code (`reason-<code>`).
reason-expired-on-confirmation = время на оплату истекло
reason-insufficient-funds = недостаточно средств
reason-canceled-by-merchant = отменён магазином
reason-card-expired = срок действия карты истёк
reason-3d-secure-failed = не пройдена проверка 3-D Secure
reason-call-issuer = банк отклонил платёж
reason-general-decline = платёж отклонён
reason-fraud-suspected = платёж заблокирован
reason-permission-revoked = вы отозвали разрешение на автоматические списания
reason-country-forbidden = карты этой страны не принимаются
reason-expired-on-capture = платёж не завершён вовремя
reason-identification-required = кошельку нужна идентификация
reason-internal-timeout = платёжная система не ответила вовремя
reason-invalid-card-number = неверный номер карты
reason-invalid-csc = неверный код безопасности карты
reason-issuer-unavailable = банк не ответил
reason-payment-method-limit-exceeded = превышен лимит платёжного средства
reason-payment-method-restricted = платёжное средство ограничено
reason-unsupported-mobile-operator = мобильный оператор не поддерживает такие платежи
reason-other = платёж отменён

subscription-expiring =
    ⏰ <b>Подписка на VPN закончится через { $hours } { $hours ->
        [one] час
        [few] часа
       *[many] часов
    }</b>

    Действует до: <b>{ DATETIME($expires, dateStyle: "long") }</b>. Продлите сейчас, чтобы доступ не прервался, — одной кнопкой ниже.
subscription-expired =
    ⛔ <b>Подписка на VPN закончилась</b>

    Она действовала до { DATETIME($expires, dateStyle: "long") }. Доступ сохранится до <b>{ DATETIME($access_until, dateStyle: "long", timeStyle: "short") }</b>, потом отключится. Продлите сейчас — одной кнопкой ниже, ссылка останется прежней.
subscription-suspended =
    ⛔ <b>Доступ к VPN приостановлен</b>

    Подписка закончилась { DATETIME($expires, dateStyle: "long") } и не была продлена. Оплатите — и доступ вернётся по той же ссылке, ничего настраивать заново не нужно.
button-renew = 🔁 Продлить

traffic-added =
    ➕ <b>Добавлено { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ трафика</b>

    Лимит на этот период теперь { NUMBER($total_gib, maximumFractionDigits: 1) } ГБ, до { DATETIME($expires, dateStyle: "long") }. Если трафик закончился, подключиться снова можно через несколько секунд.
traffic-threshold =
    { $threshold ->
        [100] 🚫 <b>Трафик { $monthly ->
            [yes] на этот месяц
           *[no] на этот период
        } закончился</b>

        Использовано { NUMBER($used_gib, maximumFractionDigits: 1) } ГБ из { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ: VPN на паузе{ $monthly ->
            [yes] {" "}до ежемесячного сброса трафика. Чтобы подключиться раньше, продлите подписку: /buy.
           *[no] , пока вы не добавите трафик в /subscription или не продлите подписку: /buy.
        }
       *[other] ⚠️ <b>Использовано { $threshold }% трафика</b>

        Использовано { NUMBER($used_gib, maximumFractionDigits: 1) } ГБ из { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ, осталось { NUMBER($left_gib, maximumFractionDigits: 1) } ГБ{ $monthly ->
            [yes] {" "}на этот месяц.
           *[no] . Дополнительный трафик — в /subscription.
        }
    }
subscription-upgraded =
    ⬆️ <b>Ваш тариф теперь — { $plan }</b>

    Он действует с этой минуты и до <b>{ DATETIME($expires, dateStyle: "long") }</b>{ $traffic_gib ->
        [0] , трафик без ограничений.
       *[other] , трафик { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ.
    }{ $credit_hours ->
        [0] {""}
       *[other] {" "}Неиспользованная часть прежнего тарифа добавила к нему { NUMBER($credit_days, maximumFractionDigits: 1) } { $credit_days ->
            [one] день
            [few] дня
            [many] дней
           *[other] дня
        }.
    } Ссылка остаётся прежней.
subscription-downgrade-scheduled =
    🗓 <b>Оплачено: { $plan }</b>

    Текущий тариф действует до { DATETIME($from, dateStyle: "long") }, затем до <b>{ DATETIME($expires, dateStyle: "long") }</b> будет действовать { $plan }. Ссылка остаётся прежней.
subscription-plan-changed =
    🔄 <b>Ваш тариф теперь — { $plan }</b>

    Действует до <b>{ DATETIME($expires, dateStyle: "long") }</b>{ $traffic_gib ->
        [0] , трафик без ограничений.
       *[other] , трафик { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ с сегодняшнего дня.
    } Ссылка остаётся прежней.

promo-accepted =
    🎟 <b>Промокод { $code } принят</b>

    { $kind ->
        [percent] Скидка { $percent_off }% на следующую покупку
        [fixed] Скидка { $amount } на следующую покупку
       *[extra_traffic] { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ трафика в подарок к следующей покупке
    }{ $limited ->
        [yes] , до { DATETIME($valid_until, dateStyle: "long") }
       *[no] {""}
    }. Цены тарифов уже с ней: выберите тариф ниже.
promo-activated =
    🎁 <b>Промокод { $code }: { $free_days } { $free_days ->
        [one] бесплатный день добавлен
        [few] бесплатных дня добавлены
       *[many] бесплатных дней добавлены
    }</b>

    Подписка теперь действует до <b>{ DATETIME($expires, dateStyle: "long") }</b>.
promo-refused =
    🎟 Промокод <b>{ $code }</b> { $refusal ->
        [promo_unknown] не найден. Проверьте написание и попробуйте ещё раз.
        [promo_not_started] ещё не действует.
        [promo_expired] больше не действует.
        [promo_exhausted] закончился: все активации использованы.
        [promo_used] уже использован на вашем аккаунте.
        [promo_first_purchase_only] действует только на первую покупку.
        [promo_not_for_plan] не подходит для этого тарифа.
        [promo_currency] не действует для цен в этой валюте.
        [promo_needs_subscription] добавляет дни к подписке: сначала оформите её, затем введите код ещё раз.
       *[other] нельзя использовать.
    }
button-catalog = 🛒 Выбрать тариф

trial-expiring =
    ⏰ <b>Пробный период закончится через { $hours } ч.</b>

    Он действует до <b>{ DATETIME($expires, dateStyle: "long", timeStyle: "short") }</b>. Чтобы VPN работал без перерыва, выберите тариф ниже — ссылка останется прежней.
trial-ended =
    ⛔ <b>Пробный период закончился</b>

    Надеемся, вам понравилось. Выберите тариф, и доступ вернётся по той же ссылке — ничего настраивать заново не нужно.
trial-refused =
    🎁 { $refusal ->
        [trial_used] Пробный период на этом аккаунте Telegram уже был.
        [trial_not_for_payers] Пробный период — для новых клиентов, а вы уже покупали тариф.
        [trial_has_subscription] У вас уже есть подписка: пробный период — для тех, у кого её нет.
        [trial_busy] Сейчас пробный период запрашивают слишком многие. Попробуйте через час.
        [trial_off] Сейчас пробного периода нет.
       *[other] Пробный период недоступен.
    } Выберите тариф ниже:

referral-rewarded =
    👥 <b>Ваш друг оплатил тариф</b>

    { $kind ->
        [share] На ваш баланс начислено { $amount }: им можно оплатить следующий тариф.
       *[days] К вашей подписке { $days ->
            [one] добавлен { $days } день
            [few] добавлено { $days } дня
           *[many] добавлено { $days } дней
        }.
    } Спасибо, что пригласили!
