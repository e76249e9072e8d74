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

reason-expired-on-confirmation = the payment window expired
reason-insufficient-funds = insufficient funds
reason-canceled-by-merchant = canceled by the shop
reason-card-expired = the card has expired
reason-3d-secure-failed = 3-D Secure failed
reason-call-issuer = declined by the bank
reason-general-decline = the payment was declined
reason-fraud-suspected = the payment was blocked
reason-other = the payment was canceled
