from chassis.migrations import run_env
from notifier.models import metadata

run_env(metadata)
