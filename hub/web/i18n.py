"""The web app's languages: Dutch (the default and the source language) and English.

The Dutch text of the templates and of :mod:`hub.web.texts` (and the few sentences the
pages' Python code writes) is the message id; ``hub/web/locale/en/LC_MESSAGES/messages.po``
gives each its English. The catalog is a ``.po`` text file extracted and updated with
Babel (``make translations``, ``babel.cfg``); it is compiled in memory when this module
first needs it, so no ``.mo`` binary is kept anywhere. See docs/web.md, "Languages".

A request's language (:func:`choose_locale`): the ``signalhub_lang`` cookie that the
language switch sets (``GET /taal?lang=en&next=...``), else the best of ``nl`` and ``en``
in the browser's ``Accept-Language`` (q-values honoured), else Dutch.
:class:`LocaleMiddleware` holds it for the request in a context variable, which
:func:`gettext` and :func:`ngettext` (and so the templates' ``_()``, ``{% trans %}``)
read; outside a request the language is Dutch.
"""

from __future__ import annotations

import gettext as _gettext_module
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["COOKIE", "DEFAULT", "LOCALE_DIR", "LOCALES", "LocaleMiddleware", "N_",
           "choose_locale", "current_locale", "gettext", "ngettext", "translations",
           "using_locale"]

#: the languages of the web app, the first the default (and the catalogs' source)
LOCALES = ("nl", "en")
DEFAULT = "nl"
#: the cookie of the language switch (a preference only: no personal data)
COOKIE = "signalhub_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("signalhub_locale", default=DEFAULT)


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker
    """Marks ``message`` for extraction where it is written (a table of texts);
    :func:`gettext` translates it where it is shown."""
    return message


@cache
def translations(locale: str) -> _gettext_module.NullTranslations:
    """The catalog of ``locale`` (compiled from its ``.po`` in memory, once); Dutch and
    an unknown language: the message ids themselves."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT or locale not in LOCALES or not path.exists():
        return _gettext_module.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return _gettext_module.GNUTranslations(compiled)


def current_locale() -> str:
    """The language of the request being answered (``nl`` outside a request)."""
    return _current.get()


def gettext(message: str) -> str:
    """``message`` (Dutch) in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


@contextmanager
def using_locale(locale: str) -> Iterator[None]:
    """Run a block in ``locale`` (for tools and tests; requests get theirs from
    :class:`LocaleMiddleware`)."""
    token = _current.set(locale if locale in LOCALES else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def _accepted(header: str) -> str | None:
    """The best of :data:`LOCALES` in an ``Accept-Language`` header, by q-value and then
    by order; None when it names none of them (``*`` names none)."""
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        language = tag.strip().lower().split("-", 1)[0]
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if language in LOCALES and quality > 0:
            candidate = (-quality, position, language)
            if best is None or candidate < best:
                best = candidate
    return best[2] if best else None


def choose_locale(cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: the cookie's choice, else ``Accept-Language``'s, else
    :data:`DEFAULT`."""
    if cookie in LOCALES:
        return str(cookie)
    return _accepted(accept_language or "") or DEFAULT


class LocaleMiddleware:
    """Sets the request's language (:func:`choose_locale`) for everything that answers
    it; a page says it in ``<html lang>`` (the templates ask :func:`current_locale`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = cookie_parser(headers.get("cookie", ""))
        token = _current.set(choose_locale(cookies.get(COOKIE),
                                           headers.get("accept-language")))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
