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

    Period: { $days } { $days ->
        [one] day
       *[other] days
    }
    Traffic: { $traffic_gib ->
        [0] unlimited
       *[other] { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB
    }
    Price: <b>{ $price }</b>
plan-unavailable = This plan is no longer on sale. Choose another one:

pay-yookassa = 💳 Pay by card or SBP

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
    Traffic: { $traffic_gib ->
        [0] unlimited
       *[other] { NUMBER($traffic_gib, maximumFractionDigits: 1) } GB
    }

    { $link }
subscription-status-active = ✅ active
subscription-status-provisioning = ⏳ paid, access is being set up
subscription-status-expired = ⛔ expired
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
    /language — change the language
    /start — main menu

    After payment your subscription link arrives here. Add it to a client app (v2rayNG, Hiddify, Streisand, v2rayN) and the VPN is ready.

command-start = Main menu
command-buy = Buy VPN
command-subscription = My subscription
command-language = Change language
command-help = Help
