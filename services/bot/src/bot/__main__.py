from bot.app import build
from bot.settings import BotSettings
from chassis.cli import main

if __name__ == "__main__":
    main(BotSettings, build)
