"""Where every setting's value comes from: the environment (12-factor), read with django-environ,
and an `.env` file in the project root when there is one. Every concern module imports `env` from
here, so the file is read once."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")
