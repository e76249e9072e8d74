from chassis.cli import main
from provisioning.app import build
from provisioning.settings import ProvisioningSettings

if __name__ == "__main__":
    main(ProvisioningSettings, build)
