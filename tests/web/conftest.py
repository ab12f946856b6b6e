"""The page tests' fixtures live in `web_fixtures` (see its docstring), imported here so that pytest
finds them; test modules import helpers from `web_fixtures`, never from `conftest`, whose name
every folder's conftest shares (which one `import conftest` gets depends on what ran first)."""

from web_fixtures import *  # noqa: F403
