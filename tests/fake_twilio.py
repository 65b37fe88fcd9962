"""A local stand-in for Twilio's REST API (call updates): Twilio's JSON back, every request recorded."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web


class FakeTwilio:
    """Serves POST /2010-04-01/Accounts/{sid}/Calls/{call}.json like api.twilio.com."""

    def __init__(self) -> None:
        """Start with no calls ended and nothing recorded."""
        self.updates: list[dict[str, str]] = []
        self.ended: set[str] = set()
        self.auth: list[tuple[str, str]] = []

    def app(self) -> web.Application:
        """Return the aiohttp application to serve."""
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", self._update)
        return app

    def updates_for(self, call_sid: str) -> list[dict[str, str]]:
        """Every update request made for one call."""
        return [u for u in self.updates if u["CallSid"] == call_sid]

    async def _update(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            self.auth.append((user, password))
        call = request.match_info["call"]
        account = request.match_info["account"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        if call in self.ended:
            return web.json_response(
                {
                    "code": 20404,
                    "message": f"The requested resource /2010-04-01/Accounts/{account}/Calls/"
                    f"{call}.json was not found",
                    "more_info": "https://www.twilio.com/docs/errors/20404",
                    "status": 404,
                },
                status=404,
            )
        self.updates.append({"CallSid": call, **form})
        status = "in-progress"
        if form.get("Status") == "completed":
            self.ended.add(call)
            status = "completed"
        return web.json_response(self._call(account, call, status))

    @staticmethod
    def _call(account: str, call: str, status: str) -> dict[str, Any]:
        return {
            "account_sid": account,
            "annotation": None,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": "Fri, 27 Nov 2026 10:00:00 +0000",
            "date_updated": "Fri, 27 Nov 2026 10:01:00 +0000",
            "direction": "inbound",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": "+15550100001",
            "from_formatted": "(555) 010-0001",
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + "0" * 32,
            "price": None,
            "price_unit": "USD",
            "sid": call,
            "start_time": "Fri, 27 Nov 2026 10:00:00 +0000",
            "status": status,
            "subresource_uris": {},
            "to": "+15550100002",
            "to_formatted": "(555) 010-0002",
            "trunk_sid": None,
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{call}.json",
            "queue_time": "0",
        }
