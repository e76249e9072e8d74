from billing.app import build
from billing.settings import BillingSettings
from chassis.cli import main

if __name__ == "__main__":
    main(BillingSettings, build)
