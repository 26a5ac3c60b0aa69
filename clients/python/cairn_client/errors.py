"""Errors of cairn_client: every failure is a CairnError or a TypeError."""


class CairnError(Exception):
    """The node answered a request with a status other than OK.

    ``status`` is the number (cairn.Status), ``status_name`` its name
    ("BUSY"), ``message`` the node's text, which says what to do; ``id`` and
    ``kind`` name the request.
    """

    def __init__(self, status, status_name, message, request_id=None, kind=None):
        self.status = status
        self.status_name = status_name
        self.message = message
        self.id = request_id
        self.kind = kind
        super().__init__("%s: %s%s" % (status_name, message,
                                       " (%s, id %s)" % (kind, request_id) if kind else ""))


class CairnTimeout(CairnError):
    """No answer within the timeout. The request may still be carried out
    (docs/PROTOCOL.md "Timeouts and retries"): a late answer to it is
    dropped by this connection."""

    def __init__(self, message, request_id=None, kind=None):
        super().__init__(None, "TIMEOUT", message, request_id, kind)
