from chassis.cli import main
from notifier.app import build
from notifier.settings import NotifierSettings

if __name__ == "__main__":
    main(NotifierSettings, build)
