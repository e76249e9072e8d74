# The notifier's messages in English. Telegram HTML. Same messages and placeholders as
# ru/notifier.ftl.

setup-steps =
    How to connect:
    1. Install an app: Hiddify or v2rayNG (Android), Streisand or Happ (iOS), Hiddify (Windows, macOS).
    2. Copy the link above and add it to the app as a subscription.
    3. Tap Connect.

access-granted =
    ✅ <b>Your VPN access is ready</b>

    Valid until: <b>{ DATETIME($expires, dateStyle: "long") }</b>
    Traffic: <b>{ $traffic_gib ->
        [0] unlimited
       *[other] { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB
    }</b>

    Your subscription link:
    <code>{ $subscription_url }</code>

    { setup-steps }

access-link-replaced =
    🔑 <b>Your subscription link was replaced</b>

    The old link no longer works. Your new link:
    <code>{ $subscription_url }</code>

    In your app, remove the old subscription and add this link the same way.

access-delayed = ⏳ Payment received, but the VPN server is not answering right now. We keep trying and will send your access as soon as it is ready. No action needed.

access-failed = ⚠️ Payment received, but access could not be set up automatically. We are on it and will write to you. Your money is safe.

payment-canceled = ❌ The payment of { $amount } did not go through ({ $reason }). Nothing was charged for access. Try again with /buy.

payment-refunded =
    ↩️ <b>Refund of { $amount }</b>
    { $refunded_to ->
        [wallet] The money is back on your balance.
       *[provider] The money goes back the way you paid.
    }
    { $access ->
        [ended] Your VPN access has ended.
        [until] Your VPN access is now valid until <b>{ DATETIME($expires, dateStyle: "long") }</b>.
       *[unchanged] The amount was taken from your balance.
    }

method-unnamed = your saved payment method

autopay-enabled =
    🔁 <b>Autopay is on</b>

    The next charge is <b>{ $amount }</b> from { $method_title } on <b>{ DATETIME($charge, dateStyle: "long") }</b>, then { $period_months ->
        [0] every { $period_days } { $period_days ->
            [one] day
           *[other] days
        }
        [1] every month
       *[other] every { $period_months } months
    }. A reminder comes a few days before each charge.

    To turn it off: /subscription → “Turn off autopay”.

autopay-upcoming =
    🔁 <b>Autopay reminder</b>

    On <b>{ DATETIME($charge, dateStyle: "long") }</b> we will charge <b>{ $amount }</b> from { $method_title } to renew your subscription, which ends { DATETIME($expires, dateStyle: "long") }. Nothing to do.

    To turn it off: /subscription → “Turn off autopay”.

autopay-charge-failed =
    ⚠️ <b>The automatic renewal did not go through</b>

    We could not charge { $amount } ({ $reason }). { $retries_left ->
        [0] We will not try again.
        [1] We will try once more on <b>{ DATETIME($retry, dateStyle: "long") }</b>.
       *[other] We will try again on <b>{ DATETIME($retry, dateStyle: "long") }</b> ({ $retries_left } more tries).
    }

    Unless it is paid, your subscription ends <b>{ DATETIME($expires, dateStyle: "long") }</b>. You can renew it by hand with /buy.

autopay-stopped =
    🔁 <b>Autopay is off</b>

    { $why ->
        [permission_revoked] You withdrew the permission for automatic charges, so this payment method is no longer charged.
        [charges_failed] The automatic charges did not go through, so we stopped trying.
        [provider_rejected] The payment service no longer accepts automatic charges from this payment method.
        [plan_unavailable] Your plan is no longer sold, so it cannot renew automatically.
        [price_raised] The price of your plan went up, and we only charge the amount you agreed to.
        [method_not_saved] The payment service did not let us keep your payment method for automatic charges.
        [subscription_refunded] Your subscription was refunded, so there is nothing to renew.
       *[other] Automatic renewal is switched off.
    }

    Your subscription stays valid until <b>{ DATETIME($expires, dateStyle: "long") }</b>. To renew it, use /buy.

reason-expired-on-confirmation = the payment window expired
reason-insufficient-funds = insufficient funds
reason-canceled-by-merchant = canceled by the shop
reason-card-expired = the card has expired
reason-3d-secure-failed = 3-D Secure failed
reason-call-issuer = declined by the bank
reason-general-decline = the payment was declined
reason-fraud-suspected = the payment was blocked
reason-permission-revoked = you withdrew the permission for automatic charges
reason-country-forbidden = cards from this country are not accepted
reason-expired-on-capture = the payment was not completed in time
reason-identification-required = the wallet needs identification
reason-internal-timeout = the payment service did not answer in time
reason-invalid-card-number = the card number is wrong
reason-invalid-csc = the card's security code is wrong
reason-issuer-unavailable = the bank did not answer
reason-payment-method-limit-exceeded = the payment method's limit is reached
reason-payment-method-restricted = the payment method is restricted
reason-unsupported-mobile-operator = the mobile operator does not support such payments
reason-other = the payment was canceled

subscription-expiring =
    ⏰ <b>Your VPN subscription ends in { $hours } hours</b>

    Valid until: <b>{ DATETIME($expires, dateStyle: "long") }</b>. Renew now so that your access does not stop: one tap below.
subscription-expired =
    ⛔ <b>Your VPN subscription has ended</b>

    It was valid until { DATETIME($expires, dateStyle: "long") }. You stay connected until <b>{ DATETIME($access_until, dateStyle: "long", timeStyle: "short") }</b>, then access stops. Renew now with the button below: your link stays the same.
subscription-suspended =
    ⛔ <b>Your VPN access is suspended</b>

    Your subscription ended on { DATETIME($expires, dateStyle: "long") } and was not renewed. Pay and access comes back on the same link: nothing to set up again.
button-renew = 🔁 Renew

traffic-added =
    ➕ <b>{ NUMBER($traffic_gib, maximumFractionDigits: 1) } GB of traffic added</b>

    Your limit for this period is now { NUMBER($total_gib, maximumFractionDigits: 1) } GB, until { DATETIME($expires, dateStyle: "long") }. If your traffic had run out, you can connect again in a moment.
traffic-threshold =
    { $threshold ->
        [100] 🚫 <b>Your traffic for this { $monthly ->
            [yes] month
           *[no] period
        } is used up</b>

        You have used { NUMBER($used_gib, maximumFractionDigits: 1) } GB of { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB: the VPN is paused { $monthly ->
            [yes] until the monthly reset. To connect sooner, renew with /buy.
           *[no] until you add traffic in /subscription, or renew with /buy.
        }
       *[other] ⚠️ <b>{ $threshold }% of your traffic is used</b>

        You have used { NUMBER($used_gib, maximumFractionDigits: 1) } GB of { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB; { NUMBER($left_gib, maximumFractionDigits: 1) } GB { $monthly ->
            [yes] are left this month.
           *[no] are left. More traffic is in /subscription.
        }
    }
subscription-upgraded =
    ⬆️ <b>Your plan is now { $plan }</b>

    It starts now and is valid until <b>{ DATETIME($expires, dateStyle: "long") }</b>{ $traffic_gib ->
        [0] , with unlimited traffic.
       *[other] , with { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB of traffic.
    }{ $credit_hours ->
        [0] {""}
       *[other] {" "}The unused part of your previous plan added { NUMBER($credit_days, maximumFractionDigits: 1) } { $credit_days ->
            [one] day
           *[other] days
        } to it.
    } Your link stays the same.
subscription-downgrade-scheduled =
    🗓 <b>Paid: { $plan }</b>

    Your current plan goes on until { DATETIME($from, dateStyle: "long") }; then { $plan } starts and is valid until <b>{ DATETIME($expires, dateStyle: "long") }</b>. Your link stays the same.
subscription-plan-changed =
    🔄 <b>Your plan is now { $plan }</b>

    Valid until <b>{ DATETIME($expires, dateStyle: "long") }</b>{ $traffic_gib ->
        [0] , with unlimited traffic.
       *[other] , with { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB of traffic from today.
    } Your link stays the same.

promo-accepted =
    🎟 <b>Code { $code } accepted</b>

    { $kind ->
        [percent] { $percent_off }% off your next purchase
        [fixed] { $amount } off your next purchase
       *[extra_traffic] { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB of extra traffic with your next purchase
    }{ $limited ->
        [yes] , until { DATETIME($valid_until, dateStyle: "long") }
       *[no] {""}
    }. The plans' prices already show it: choose one below.
promo-activated =
    🎁 <b>Code { $code }: { $free_days } free { $free_days ->
        [one] day
       *[other] days
    } added</b>

    Your subscription is now valid until <b>{ DATETIME($expires, dateStyle: "long") }</b>.
promo-refused =
    🎟 Code <b>{ $code }</b> { $refusal ->
        [promo_unknown] does not exist. Check the spelling and try again.
        [promo_not_started] is not valid yet.
        [promo_expired] has expired.
        [promo_exhausted] has been used up.
        [promo_used] has already been used on your account.
        [promo_first_purchase_only] is only for a first purchase.
        [promo_not_for_plan] is not for this plan.
        [promo_currency] does not apply to prices in this currency.
        [promo_needs_subscription] adds days to a subscription: buy one first, then enter the code again.
       *[other] cannot be used.
    }
button-catalog = 🛒 Choose a plan

trial-expiring =
    ⏰ <b>Your free trial ends in { $hours } hours</b>

    It is valid until <b>{ DATETIME($expires, dateStyle: "long", timeStyle: "short") }</b>. Keep your VPN without a break: choose a plan below, and your link stays the same.
trial-ended =
    ⛔ <b>Your free trial has ended</b>

    We hope you liked it. Choose a plan and access comes back on the same link: nothing to set up again.
trial-refused =
    🎁 { $refusal ->
        [trial_used] You have already had the free trial on this Telegram account.
        [trial_not_for_payers] The free trial is for new customers: you have already bought a plan.
        [trial_has_subscription] You already have a subscription: the free trial is for those who have none.
        [trial_busy] Too many trials are starting right now. Please try again in an hour.
        [trial_off] There is no free trial at the moment.
       *[other] The free trial is not available.
    } Choose a plan below:

referral-rewarded =
    👥 <b>Your friend paid for a plan</b>

    { $kind ->
        [share] { $amount } is on your balance: spend it on your next plan.
       *[days] { $days } { $days ->
            [one] day is
           *[other] days are
        } added to your subscription.
    } Thank you for inviting them!
