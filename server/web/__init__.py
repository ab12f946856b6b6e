"""The web pages for people: login, the floor guide's phone page, the manager dashboard, the report.

`server.web.pages.router` serves the HTML pages (Jinja2 templates in ``templates/``, each checking
the visitor's role on the server) and the static files (``static/``: CSS, ES modules, icons, and
the npm-installed ``vendor/`` copied there by ``make web``). Pages are app shells: their data comes
from the JSON API and the live WebSocket, through ``static/js/api.js`` and ``static/js/live.js``.
"""
