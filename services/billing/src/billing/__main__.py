import sys

from billing.app import build
from billing.commands import COMMANDS
from billing.settings import BillingSettings
from chassis.cli import main

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        raise SystemExit(COMMANDS[sys.argv[1]](sys.argv[2:]))
    main(BillingSettings, build)
