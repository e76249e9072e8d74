import sys

from chassis.cli import main
from provisioning.app import build
from provisioning.commands import COMMANDS
from provisioning.settings import ProvisioningSettings

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        raise SystemExit(COMMANDS[sys.argv[1]](sys.argv[2:]))
    main(ProvisioningSettings, build)
