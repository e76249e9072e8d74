# What billing writes into payments, in the customer's language: the provider shows it on
# its payment page, in its receipts and in the Telegram invoice. Plain text, not HTML.
# Every message here exists in every other locale with the same placeholders.

# YooKassa allows 128 characters, WATA and Crypto Pay more; Telegram invoices 255.
payment-description = VPN «{ $title }», заказ { $order }
topup-description = Пополнение баланса на { $credit }, заказ { $order }
renewal-description = Продление VPN «{ $title }», заказ { $order }
# A Telegram invoice's title: at most 32 characters.
invoice-title = VPN: { $title }
traffic-pack-title = +{ NUMBER($gib, maximumFractionDigits: 1) } ГБ трафика
topup-invoice-title = Баланс +{ $credit }
refund-description = Возврат по заказу { $order }
# A 54-FZ receipt line (tag 1030): at most 128 characters.
receipt-line-plan = Доступ к VPN-сервису, тариф «{ $title }»
receipt-line-topup = Пополнение баланса VPN-сервиса
trial-title = Пробный период, { $days } { $days ->
        [one] день
        [few] дня
       *[many] дней
    }
referral-days-title = Бонус за приглашение, { $days } { $days ->
        [one] день
        [few] дня
       *[many] дней
    }
