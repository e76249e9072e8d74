# The bot's texts in English. Telegram HTML. Same messages and placeholders as ru/bot.ftl.

language-name = 🇬🇧 English

welcome =
    Hi, { $name }! 👋

    Buy a fast VPN here: pick a plan, pay, and your access arrives in this chat within seconds.

menu-buy = 🛒 Buy VPN
menu-subscription = 📱 My subscription
menu-language = 🌐 Language · Язык
menu-back = « Back

catalog-title = Choose a plan:
catalog-empty = Plans are still loading. Please try again in a minute.
catalog-plan-button = { $title } — { $price }


plan-details =
    <b>{ $title }</b>

    Period: { $months ->
        [0] { $days } { $days ->
            [one] day
           *[other] days
        }
        [one] { $months } month
       *[other] { $months } months
    }
    Traffic: { $traffic_gib ->
        [0] unlimited
       *[other] { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB{ $monthly ->
            [yes] {" "}a month
           *[no] {""}
        }
    }
    Price: <b>{ $price }</b>
plan-unavailable = This plan is no longer on sale. Choose another one:

region-choose = Where should your VPN run? Choose a region:
region-default-button = { $name } · recommended
region-unavailable-button = { $name } · full now
region-unavailable = { $name } cannot take new customers right now. The nearest regions with room:
region-unavailable-none = { $name } cannot take new customers right now, and neither can the regions near it. Please try again a little later.
plan-region = Region: { $name }
protocol-choose = Which protocol should your VPN app use? If unsure, choose the first one.
protocol-vless = VLESS
protocol-vmess = VMess
protocol-trojan = Trojan
protocol-shadowsocks = Shadowsocks
plan-protocol = Protocol: { $name }
change-region-button = 🌍 Change region
change-protocol-button = 🔐 Change protocol
change-region-choose = Where should your VPN be served from? Your current access keeps working until the new one is ready; a message here tells you when.
change-region-none = There is no other region that can take you right now.
change-protocol-none = There is no other protocol to choose in your region.
change-requested = Done: we are changing your access. A message with it arrives here in a minute; until then, keep using the current one.
change-unavailable = Your access cannot be changed right now: it is not active.
change-region-gone = That region cannot take new customers any more.
change-protocol-gone = That protocol is no longer offered there.
change-same = That is what you have already.

method-yookassa = 💳 Card or SBP
method-wata = 💳 Card or SBP · WATA
method-telegram_stars = ⭐ Telegram Stars
method-cryptopay = 🪙 Crypto
method-wallet = 👛 From balance
method-other = 💳 { $provider }
pay-button = { $method } — { $price }
pay-autopay-button = { $method } — { $price } + auto-renewal 🔁
plan-how-to-pay = How would you like to pay?

checkout-invoice =
    Order: <b>{ $title }</b>
    To pay: <b>{ $price }</b>

    The invoice is in the next message: tap “Pay”. Your access arrives here right after payment.
checkout-paid =
    ✅ <b>Paid</b>: { $title }, { $price }.

    Your access arrives here in a few seconds.
checkout-paid-topup = ✅ <b>Balance topped up</b>: { $title }, paid { $price }.
checkout-paid-wallet =
    ✅ <b>Paid from your balance</b>: { $title }, { $price }.
    Balance left: { $balance }.

    Your access arrives here in a few seconds.
checkout-try-another = 😔 { $method } is not taking payments right now. Choose another way to pay for the same order:
checkout-insufficient-funds = 👛 Your balance is not enough for this plan. Choose another way to pay:

stars-invoice-stale = This invoice is no longer valid: the plan is off sale or its price changed. Please order again: /buy
stars-paid = ⭐ Payment received: { $price }. Your access arrives here in a few seconds.

checkout-preparing = ⏳ Preparing your payment link…
checkout-slow = ⏳ The payment provider is slower than usual. The link will appear in this message.
checkout-ready =
    Order: <b>{ $title }</b>
    To pay: <b>{ $price }</b>

    Tap the button below to pay. Your access arrives here right after payment.
checkout-pay-button = Go to payment
checkout-failed = 😔 Could not create the payment. Please try again a little later.

subscription-none = You have no subscription yet.
subscription-active =
    📱 <b>Your subscription</b>

    Status: { $status }
    Valid until: <b>{ DATETIME($expires, dateStyle: "long") }</b>
    Traffic: { $traffic }

    { $link }
subscription-traffic = { $traffic_gib ->
        [0] unlimited
       *[other] { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB
    }
subscription-traffic-used = { $traffic_gib ->
        [0] unlimited, { NUMBER($used_gib, maximumFractionDigits: 1) } GB used
       *[other] { NUMBER($used_gib, maximumFractionDigits: 1) } of { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB used, <b>{ NUMBER($left_gib, maximumFractionDigits: 1) } GB left</b>
        <code>{ $bar }</code> { $percent }%
    }
subscription-status-active = ✅ active
subscription-status-provisioning = ⏳ paid, access is being set up
subscription-status-expired = ⛔ expired
subscription-status-limited = ⛔ traffic used up: buy extra traffic below, or renew to connect again (/buy)
subscription-status-disabled = ⛔ access suspended
subscription-status-grace = ⚠️ expired, still connected until <b>{ DATETIME($until, dateStyle: "long", timeStyle: "short") }</b>: renew to stay connected (/buy)
subscription-status-suspended = ⛔ suspended: pay and access comes back on the same link (/buy)
subscription-status-removed = ⛔ ended; a new link comes after you pay (/buy)
subscription-link =
    Subscription link:
    <code>{ $url }</code>
subscription-no-link = The link will appear here as soon as access is ready.

language-choose = Choose your language:
language-changed = Done, English it is.

unknown = I did not understand that. Here is what I can do:
error = Something went wrong. Please try again.
private-only = I only work in private messages: please write to me directly.

help =
    <b>What I can do</b>

    /buy — choose a plan and pay for VPN
    /subscription — your subscription, its end date and connection link
    /promo — enter a promo code
    /language — change the language
    /start — main menu

    After payment your subscription link arrives here. Add it to a client app (v2rayNG, Hiddify, Streisand, v2rayN) and the VPN is ready.

command-start = Main menu
command-buy = Buy VPN
command-subscription = My subscription
command-language = Change language
command-help = Help

menu-wallet = 👛 Balance
wallet-title =
    👛 <b>Balance: { $balance }</b>

    { $history }

    Top up by:
wallet-history =
    Recent operations:
    { $lines }
wallet-no-history = No operations yet.
wallet-line = { $sign }{ $amount } — { $kind ->
        [topup] top-up
        [plan_payment] plan payment
        [refund] refund
        [bonus] bonus
        [bonus_reversed] bonus taken back
       *[other] operation
    }, { DATETIME($at, dateStyle: "short") }
wallet-off = This shop does not use a balance.
topup-button = +{ $credit }
topup-title = Balance top-up +{ $credit }
topup-how-to-pay = Top up your balance by <b>{ $credit }</b>. How would you like to pay?
command-wallet = Balance and top-up

receipt-email-ask =
    🧾 By law (54-FZ) we e-mail a receipt for each payment. Please type your e-mail address in one message — we ask only once.

    For example: ivan@example.com
receipt-email-invalid = That does not look like an e-mail address: “{ $text }”. Please type the whole address, e.g. ivan@example.com
receipt-email-saved = ✅ Receipts will be sent to { $email }.

autopay-consent =
    🔁 <b>Renewing automatically: the terms</b>

    { $title } — <b>{ $price }</b>, paid with { $method }.

    By pressing “Pay and renew automatically” you agree that:
    • this payment method is saved, and <b>{ $price }</b> is charged to it { $months ->
        [0] every { $days } { $days ->
            [one] day
           *[other] days
        }
        [1] every month
       *[other] every { $months } months
    };
    • each charge is made shortly before your subscription ends, and a reminder comes a few days before each one;
    • you can turn it off at any time in My subscription → “Turn off autopay”: it takes effect at once, and the saved payment method is forgotten.

    Or pay once: nothing is saved.
autopay-consent-agree = ✅ Pay and renew automatically
autopay-consent-once = Pay once
subscription-autopay-on = 🔁 Autopay: on — { $amount } from { $method } on { DATETIME($charge, dateStyle: "long") }
subscription-autopay-off = 🔁 Autopay: off
autopay-turn-off-button = Turn off autopay
autopay-turned-off =
    🔁 <b>Autopay is off.</b> Your payment method is forgotten; nothing more will be charged.

    Your subscription stays valid until <b>{ DATETIME($expires, dateStyle: "long") }</b>. To renew, use /buy.

menu-settings = ⚙️ Settings
settings-title =
    ⚙️ <b>Settings</b>

    Reminders before your subscription ends: { $reminders }

    Payment and access messages, and the notice before each automatic renewal, are always sent.
settings-reminders-on = ✅ on
settings-reminders-off = off
settings-reminders-turn-off = 🔕 Turn reminders off
settings-reminders-turn-on = 🔔 Turn reminders on

# Promo codes: typed by the customer, checked by billing (which answers through the notifier).
menu-promo = 🎟 Promo code
command-promo = Enter a promo code
promo-ask =
    🎟 <b>Promo code</b>

    Send the code as a message, for example <code>SPRING20</code>. A discount applies to your next purchase; free days are added at once.
promo-not-a-code = “{ $text }” does not look like a promo code: 3 to 32 letters, digits, “-” or “_”. Send it again, or go back to the menu.
promo-checking = ⏳ Checking code <b>{ $code }</b>…
price-with-promo = <s>{ $list }</s> { $price } with code { $code }
checkout-promo-refused = 🎟 The promo code { $refusal ->
        [promo_exhausted] has been used up meanwhile
        [promo_expired] has expired meanwhile
        [promo_used] has already been used on your account
        [promo_not_for_plan] is not for this plan
        [promo_currency] does not apply to prices in this currency
       *[other] can no longer be used
    }. You can pay the plan's full price:

# The free trial: billing decides; a refusal is told by the notifier, access like a purchase's.
menu-trial = 🎁 Free trial
trial-starting = 🎁 Starting your free trial… Your access arrives here in a moment.

# Referrals: the customer's own link, and what it brought.
menu-referrals = 👥 Invite friends
referral-screen =
    👥 <b>Invite friends</b>

    Your link: { $link }

    Send it to friends: when one of them pays for a first plan, you get a reward.

    Joined by your link: <b>{ $joined }</b>
    Paid: <b>{ $paid }</b>
    Earned: <b>{ $earned }</b>
referral-nothing-yet = nothing yet
referral-days = { $days } { $days ->
        [one] day
       *[other] days
    }
referral-amount = { $amount }
referral-own-link = 👥 This is your own invitation link: send it to friends, it works for them.
referral-already-customer = 👥 You are already with us, so this invitation does not count: invitations are for new customers.

# A price is a quote billing issued; one no longer on offer is shown again before paying.
price-changed = ℹ️ The price has changed since this screen was shown. Here it is now:
checkout-price-changed = ℹ️ The price of { $title } has changed since it was shown to you, so nothing was charged. Here it is now:

# Buying a plan of another tier than the one the customer has (billing.domain.plan_changes).
plan-upgrade-note = ⬆️ An upgrade from { $current }: it starts at once, and the unused part of your current plan is added to it as days.
plan-downgrade-note = ⬇️ You have { $current } until { DATETIME($until, dateStyle: "long") }: this plan starts when it ends.

# Traffic packs: extra traffic for the current period of a subscription with a limit.
traffic-button = ➕ Buy traffic
traffic-title = ➕ <b>Extra traffic</b> for your current period, until { DATETIME($until, dateStyle: "long") }. It is added at once; a renewal starts a new allowance (what is left is carried over as your plan says).
traffic-none = Extra traffic is for an active subscription with a traffic limit. Nothing to buy it for now.
traffic-pack-button = +{ NUMBER($gib, maximumFractionDigits: 1) } GB · { $price }
traffic-pack-title = +{ NUMBER($gib, maximumFractionDigits: 1) } GB of traffic
traffic-how-to-pay = +{ NUMBER($gib, maximumFractionDigits: 1) } GB of traffic. How would you like to pay?
checkout-paid-traffic = ✅ <b>Paid</b>: { $title }, { $price }. It is added to your subscription in a few seconds.
checkout-traffic-refused = { $refusal ->
        [traffic_not_for_plan] Your plan's traffic starts again every month, so extra traffic is not sold for it.
       *[other] Extra traffic is for an active subscription with a traffic limit: renew first (/buy).
    } Nothing was charged.
