"""What a client sees when the service behind an nginx reverse proxy is gone.

Both Telegram's Bot API and a typical Marzban install answer through nginx, so an outage
looks the same for both: nginx's own HTML page with the status.
"""

from __future__ import annotations

from http import HTTPStatus

# nginx's own titles where they differ from the standard reason phrases.
NGINX_TITLES = {503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def error_page(status: int) -> tuple[bytes, bytes]:
    """Body and content type of the failure a client sees for ``status``."""
    if status == 500:
        return b"Internal Server Error", b"text/plain; charset=utf-8"
    try:
        title = f"{status} {NGINX_TITLES.get(status) or HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return page.encode(), b"text/html"
