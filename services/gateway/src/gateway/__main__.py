from chassis.cli import main
from gateway.app import build
from gateway.settings import GatewaySettings

if __name__ == "__main__":
    main(GatewaySettings, build)
