# The bot's texts in Russian, the first language of the product. Telegram HTML.
# Every message here exists in every other locale, with the same placeholders
# (tests/unit/test_texts.py fails otherwise).

language-name = 🇷🇺 Русский

welcome =
    Привет, { $name }! 👋

    Здесь можно купить быстрый VPN: выберите тариф, оплатите, и доступ придёт сюда же через пару секунд.

menu-buy = 🛒 Купить VPN
menu-subscription = 📱 Моя подписка
menu-language = 🌐 Язык · Language
menu-back = « Назад

catalog-title = Выберите тариф:
catalog-empty = Тарифы ещё загружаются. Попробуйте через минуту.
catalog-plan-button = { $title } — { $price }


plan-details =
    <b>{ $title }</b>

    Срок: { $months ->
        [0] { $days } { $days ->
            [one] день
            [few] дня
           *[many] дней
        }
        [one] { $months } месяц
        [few] { $months } месяца
       *[many] { $months } месяцев
    }
    Трафик: { $traffic_gib ->
        [0] без ограничений
       *[other] { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ{ $monthly ->
            [yes] {" "}в месяц
           *[no] {""}
        }
    }
    Цена: <b>{ $price }</b>
plan-unavailable = Этот тариф больше не продаётся. Выберите другой:

region-choose = Где будет работать ваш VPN? Выберите регион:
region-default-button = { $name } · рекомендуем
region-unavailable-button = { $name } · сейчас занят
region-unavailable = { $name } сейчас не принимает новых клиентов. Ближайшие регионы, где есть место:
region-unavailable-none = { $name } сейчас не принимает новых клиентов, и ближайшие к нему регионы тоже. Попробуйте, пожалуйста, чуть позже.
plan-region = Регион: { $name }
protocol-choose = Какой протокол будет использовать ваше VPN-приложение? Если не уверены, выберите первый.
protocol-vless = VLESS
protocol-vmess = VMess
protocol-trojan = Trojan
protocol-shadowsocks = Shadowsocks
plan-protocol = Протокол: { $name }
change-region-button = 🌍 Сменить регион
change-protocol-button = 🔐 Сменить протокол
change-region-choose = Откуда обслуживать ваш VPN? Текущий доступ работает, пока не готов новый; когда он будет готов, придёт сообщение.
change-region-none = Сейчас нет другого региона, который может вас принять.
change-protocol-none = В вашем регионе нет другого протокола на выбор.
change-requested = Готово: меняем ваш доступ. Сообщение с ним придёт сюда через минуту, а до тех пор пользуйтесь текущим.
change-unavailable = Сейчас доступ нельзя изменить: он не активен.
change-region-gone = Этот регион больше не принимает новых клиентов.
change-protocol-gone = Этот протокол там больше не предлагается.
change-same = Это у вас уже есть.

# The ways to pay, as the plan screen offers them: `method-<provider>`.
method-yookassa = 💳 Картой или СБП
method-wata = 💳 Картой или СБП · WATA
method-telegram_stars = ⭐ Telegram Stars
method-cryptopay = 🪙 Криптовалютой
method-wallet = 👛 С баланса
method-other = 💳 { $provider }
pay-button = { $method } — { $price }
pay-autopay-button = { $method } — { $price } + автопродление 🔁
plan-how-to-pay = Как оплатить?

checkout-invoice =
    Заказ: <b>{ $title }</b>
    К оплате: <b>{ $price }</b>

    Счёт — в следующем сообщении: нажмите «Заплатить». Доступ придёт сюда сразу после оплаты.
checkout-paid =
    ✅ <b>Оплачено</b>: { $title }, { $price }.

    Доступ придёт сюда через несколько секунд.
checkout-paid-topup = ✅ <b>Баланс пополнен</b>: { $title }, оплачено { $price }.
checkout-paid-wallet =
    ✅ <b>Оплачено с баланса</b>: { $title }, { $price }.
    Остаток на балансе: { $balance }.

    Доступ придёт сюда через несколько секунд.
checkout-try-another = 😔 { $method } сейчас не принимает оплату. Выберите другой способ — заказ тот же:
checkout-insufficient-funds = 👛 На балансе не хватает денег на этот тариф. Выберите другой способ оплаты:

stars-invoice-stale = Этот счёт больше не действует: тариф снят с продажи или цена изменилась. Оформите заказ заново: /buy
stars-paid = ⭐ Оплата получена: { $price }. Доступ придёт сюда через несколько секунд.

checkout-preparing = ⏳ Готовим ссылку на оплату…
checkout-slow = ⏳ Платёжная система отвечает дольше обычного. Ссылка появится в этом сообщении.
checkout-ready =
    Заказ: <b>{ $title }</b>
    К оплате: <b>{ $price }</b>

    Нажмите кнопку ниже, чтобы оплатить. Доступ придёт сюда сразу после оплаты.
checkout-pay-button = Перейти к оплате
checkout-failed = 😔 Не получилось создать платёж. Попробуйте ещё раз чуть позже.

subscription-none = У вас пока нет подписки.
subscription-active =
    📱 <b>Ваша подписка</b>

    Статус: { $status }
    Действует до: <b>{ DATETIME($expires, dateStyle: "long") }</b>
    Трафик: { $traffic }

    { $link }
subscription-traffic = { $traffic_gib ->
        [0] без ограничений
       *[other] { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ
    }
subscription-traffic-used = { $traffic_gib ->
        [0] без ограничений, использовано { NUMBER($used_gib, maximumFractionDigits: 1) } ГБ
       *[other] использовано { NUMBER($used_gib, maximumFractionDigits: 1) } из { NUMBER($traffic_gib, maximumFractionDigits: 1) } ГБ, <b>осталось { NUMBER($left_gib, maximumFractionDigits: 1) } ГБ</b>
        <code>{ $bar }</code> { $percent }%
    }
subscription-status-active = ✅ активна
subscription-status-provisioning = ⏳ оплачена, доступ настраивается
subscription-status-expired = ⛔ истекла
subscription-status-limited = ⛔ трафик закончился: докупите трафик кнопкой ниже или продлите подписку, чтобы снова подключиться (/buy)
subscription-status-disabled = ⛔ доступ приостановлен
subscription-status-grace = ⚠️ срок истёк, доступ сохранится до <b>{ DATETIME($until, dateStyle: "long", timeStyle: "short") }</b>: продлите, чтобы не отключиться (/buy)
subscription-status-suspended = ⛔ приостановлена: оплатите — доступ вернётся по той же ссылке (/buy)
subscription-status-removed = ⛔ закончилась; после оплаты придёт новая ссылка (/buy)
subscription-link =
    Ссылка-подписка:
    <code>{ $url }</code>
subscription-no-link = Ссылка появится здесь, как только доступ будет готов.

language-choose = Выберите язык:
language-changed = Готово, говорим по-русски.

unknown = Я не понял сообщение. Вот что я умею:
error = Что-то пошло не так. Попробуйте ещё раз.
private-only = Я работаю только в личных сообщениях: напишите мне напрямую.

help =
    <b>Что я умею</b>

    /buy — выбрать тариф и оплатить VPN
    /subscription — ваша подписка, срок и ссылка для подключения
    /promo — ввести промокод
    /language — сменить язык
    /start — главное меню

    После оплаты ссылка-подписка придёт сюда. Добавьте её в приложение (v2rayNG, Hiddify, Streisand, v2rayN) — и VPN готов.

command-start = Главное меню
command-buy = Купить VPN
command-subscription = Моя подписка
command-language = Сменить язык
command-help = Помощь

menu-wallet = 👛 Баланс
wallet-title =
    👛 <b>Баланс: { $balance }</b>

    { $history }

    Пополнить на:
wallet-history =
    Последние операции:
    { $lines }
wallet-no-history = Операций пока не было.
wallet-line = { $sign }{ $amount } — { $kind ->
        [topup] пополнение
        [plan_payment] оплата тарифа
        [refund] возврат
        [bonus] бонус
        [bonus_reversed] бонус отменён
       *[other] операция
    }, { DATETIME($at, dateStyle: "short") }
wallet-off = Баланс в этом магазине не используется.
topup-button = +{ $credit }
topup-title = Пополнение баланса +{ $credit }
topup-how-to-pay = Пополнение баланса на <b>{ $credit }</b>. Как оплатить?
command-wallet = Баланс и пополнение

receipt-email-ask =
    🧾 По закону (54-ФЗ) мы отправляем чек об оплате на e-mail. Напишите, пожалуйста, адрес одним сообщением — спросим один раз.

    Например: ivan@example.ru
receipt-email-invalid = Это не похоже на e-mail: «{ $text }». Напишите адрес целиком, например ivan@example.ru
receipt-email-saved = ✅ Чеки будут приходить на { $email }.

# Autopay. `autopay-consent` is the text the customer consents to: any change of it in any
# locale needs a new bot.autopay.TERMS_VERSION (the texts' unit test says so).
autopay-consent =
    🔁 <b>Автопродление: условия</b>

    { $title } — <b>{ $price }</b>, оплата: { $method }.

    Нажимая «Оплатить и продлевать автоматически», вы соглашаетесь:
    • этот способ оплаты сохранится, и с него будет списываться <b>{ $price }</b> { $months ->
        [0] раз в { $days } { $days ->
            [one] день
            [few] дня
           *[many] дней
        }
        [1] раз в месяц
        [one] раз в { $months } месяц
        [few] раз в { $months } месяца
       *[many] раз в { $months } месяцев
    };
    • списание — незадолго до окончания подписки, а за несколько дней до каждого придёт напоминание;
    • отключить можно в любой момент: «Моя подписка» → «Отключить автопродление». Это действует сразу, а сохранённый способ оплаты удаляется.

    Или оплатите один раз — тогда ничего не сохранится.
autopay-consent-agree = ✅ Оплатить и продлевать автоматически
autopay-consent-once = Оплатить один раз
subscription-autopay-on = 🔁 Автопродление включено: { DATETIME($charge, dateStyle: "long") } спишем { $amount }, способ оплаты: { $method }
subscription-autopay-off = 🔁 Автопродление выключено
autopay-turn-off-button = Отключить автопродление
autopay-turned-off =
    🔁 <b>Автопродление отключено.</b> Способ оплаты удалён, больше ничего списываться не будет.

    Подписка остаётся в силе до <b>{ DATETIME($expires, dateStyle: "long") }</b>; продлить её можно через /buy.

menu-settings = ⚙️ Настройки
settings-title =
    ⚙️ <b>Настройки</b>

    Напоминания об окончании подписки: { $reminders }

    Сообщения об оплате и доступе, а также уведомления перед автопродлением приходят всегда.
settings-reminders-on = ✅ включены
settings-reminders-off = выключены
settings-reminders-turn-off = 🔕 Выключить напоминания
settings-reminders-turn-on = 🔔 Включить напоминания

# Промокоды: клиент вводит код, billing проверяет (и отвечает через notifier).
menu-promo = 🎟 Промокод
command-promo = Ввести промокод
promo-ask =
    🎟 <b>Промокод</b>

    Отправьте код сообщением, например <code>SPRING20</code>. Скидка действует на следующую покупку, бесплатные дни добавляются сразу.
promo-not-a-code = «{ $text }» не похоже на промокод: от 3 до 32 букв, цифр, «-» или «_». Отправьте ещё раз или вернитесь в меню.
promo-checking = ⏳ Проверяю промокод <b>{ $code }</b>…
price-with-promo = <s>{ $list }</s> { $price } с промокодом { $code }
checkout-promo-refused = 🎟 Промокод { $refusal ->
        [promo_exhausted] уже закончился
        [promo_expired] уже не действует
        [promo_used] уже использован на вашем аккаунте
        [promo_not_for_plan] не подходит для этого тарифа
        [promo_currency] не действует для цен в этой валюте
       *[other] больше нельзя использовать
    }. Можно оплатить тариф по полной цене:

# Пробный период: решает billing; отказ сообщает notifier, доступ приходит как после покупки.
menu-trial = 🎁 Пробный период
trial-starting = 🎁 Запускаю пробный период… Доступ придёт сюда через несколько секунд.

# Рефералы: своя ссылка клиента и что она принесла.
menu-referrals = 👥 Пригласить друзей
referral-screen =
    👥 <b>Пригласите друзей</b>

    Ваша ссылка: { $link }

    Отправьте её друзьям: когда кто-то из них оплатит первый тариф, вы получите вознаграждение.

    Пришли по ссылке: <b>{ $joined }</b>
    Оплатили: <b>{ $paid }</b>
    Заработано: <b>{ $earned }</b>
referral-nothing-yet = пока ничего
referral-days = { $days } { $days ->
        [one] день
        [few] дня
       *[many] дней
    }
referral-amount = { $amount }
referral-own-link = 👥 Это ваша собственная ссылка-приглашение: отправьте её друзьям, она работает для них.
referral-already-customer = 👥 Вы уже с нами, поэтому это приглашение не засчитывается: приглашения — для новых клиентов.

# Цена — это предложение (quote) billing; если его уже нет, цена показывается заново до оплаты.
price-changed = ℹ️ Цена изменилась с тех пор, как был показан этот экран. Актуальная цена:
checkout-price-changed = ℹ️ Цена тарифа { $title } изменилась с тех пор, как вы её видели, поэтому ничего не списано. Актуальная цена:

# Покупка тарифа другого уровня, чем у клиента сейчас (billing.domain.plan_changes).
plan-upgrade-note = ⬆️ Переход с тарифа { $current } на более высокий: начнётся сразу, а неиспользованная часть текущего тарифа добавится к нему днями.
plan-downgrade-note = ⬇️ Тариф { $current } действует до { DATETIME($until, dateStyle: "long") }: этот тариф начнётся после него.

# Пакеты трафика: дополнительный трафик на текущий период подписки с лимитом.
traffic-button = ➕ Докупить трафик
traffic-title = ➕ <b>Дополнительный трафик</b> на текущий период, до { DATETIME($until, dateStyle: "long") }. Добавляется сразу; продление начинает новый лимит (остаток переносится, как предусматривает тариф).
traffic-none = Дополнительный трафик продаётся к действующей подписке с лимитом трафика. Сейчас его не к чему добавить.
traffic-pack-button = +{ NUMBER($gib, maximumFractionDigits: 1) } ГБ · { $price }
traffic-pack-title = +{ NUMBER($gib, maximumFractionDigits: 1) } ГБ трафика
traffic-how-to-pay = +{ NUMBER($gib, maximumFractionDigits: 1) } ГБ трафика. Как оплатить?
checkout-paid-traffic = ✅ <b>Оплачено</b>: { $title }, { $price }. Трафик добавится к подписке через несколько секунд.
checkout-traffic-refused = { $refusal ->
        [traffic_not_for_plan] Трафик вашего тарифа обновляется каждый месяц, поэтому дополнительный трафик к нему не продаётся.
       *[other] Дополнительный трафик продаётся к действующей подписке с лимитом: сначала продлите её (/buy).
    } Ничего не списано.
