"""The API tests' fixtures live in `api_fixtures`, imported here so that pytest finds them; test
modules import helpers from `api_fixtures`, never from `conftest` (a name every folder shares)."""

from api_fixtures import *  # noqa: F403
