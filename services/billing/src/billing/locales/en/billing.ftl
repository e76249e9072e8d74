# What billing writes into payments, in English. Plain text, not HTML. Same messages and
# placeholders as ru/billing.ftl.

payment-description = VPN "{ $title }", order { $order }
topup-description = Balance top-up of { $credit }, order { $order }
renewal-description = VPN "{ $title }" renewal, order { $order }
invoice-title = VPN: { $title }
traffic-pack-title = +{ NUMBER($gib, maximumFractionDigits: 1) } GB of traffic
topup-invoice-title = Balance +{ $credit }
refund-description = Refund for order { $order }
receipt-line-plan = VPN service access, plan "{ $title }"
receipt-line-topup = VPN service balance top-up
trial-title = Free trial, { $days } { $days ->
        [one] day
       *[other] days
    }
referral-days-title = Referral bonus, { $days } { $days ->
        [one] day
       *[other] days
    }
