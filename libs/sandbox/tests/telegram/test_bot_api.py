"""The Bot API on the wire: routing, the envelope, parameters, and every method's refusals."""

from __future__ import annotations

import gzip
import json
import struct
import zlib

import httpx
import pytest

from sandbox.telegram import SandboxUser, TelegramSandboxControl

from .conftest import BOT, BotApi

KEYBOARD = {
    "inline_keyboard": [
        [{"text": "Buy", "callback_data": "buy:1"}, {"text": "Site", "url": "https://example.com"}]
    ]
}


def png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(header))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


class TestRouting:
    @pytest.mark.parametrize(
        "path", ["/", "/favicon.ico", "/bot/getMe", "/bot0123:x/getMe", "/botabc/getMe", "/bot123"]
    )
    async def test_malformed_path_or_token_is_not_found(
        self, http: httpx.AsyncClient, path: str
    ) -> None:
        response = await http.post(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.text == '{"ok":false,"error_code":404,"description":"Not Found"}'

    @pytest.mark.parametrize("token", ["999:unknown", "123456:WRONG-SECRET"])
    async def test_unknown_token_is_unauthorized(self, http: httpx.AsyncClient, token: str) -> None:
        response = await http.post(f"/bot{token}/getMe")
        assert response.status_code == 401
        assert response.text == '{"ok":false,"error_code":401,"description":"Unauthorized"}'

    async def test_unknown_method_is_not_found(self, api: BotApi) -> None:
        assert await api.error("sendTelepathy") == (404, "Not Found")

    async def test_methods_are_case_insensitive_and_get_works(
        self, api: BotApi, http: httpx.AsyncClient
    ) -> None:
        assert (await api.ok("GETME"))["id"] == 123456
        response = await http.get(f"/bot{BOT.token}/getme")
        assert response.json()["result"]["username"] == "shop_bot"
        response = await http.get(f"/bot{BOT.token}/", params={"method": "getMe"})
        assert response.json()["ok"] is True

    async def test_get_me_is_the_full_bot_user_in_server_key_order(
        self, http: httpx.AsyncClient
    ) -> None:
        response = await http.post(f"/bot{BOT.token}/getMe")
        assert response.headers["content-type"] == "application/json"
        assert response.text == (
            '{"ok":true,"result":{"id":123456,"is_bot":true,"first_name":"Shop",'
            '"username":"shop_bot","can_join_groups":true,"can_read_all_group_messages":false,'
            '"supports_inline_queries":false,"supports_guest_queries":false,'
            '"can_connect_to_business":false,"has_main_web_app":false,'
            '"has_topics_enabled":false,"allows_users_to_create_topics":false,'
            '"can_manage_bots":false}}'
        )


class TestParameters:
    async def test_json_body_takes_objects_or_strings_for_nested_values(
        self, http: httpx.AsyncClient, user: SandboxUser
    ) -> None:
        for markup in (KEYBOARD, json.dumps(KEYBOARD)):
            response = await http.post(
                f"/bot{BOT.token}/sendMessage",
                json={"chat_id": user.id, "text": "hi", "reply_markup": markup},
            )
            assert response.json()["result"]["reply_markup"]["inline_keyboard"][0][0] == {
                "text": "Buy",
                "callback_data": "buy:1",
            }

    @pytest.mark.parametrize(
        ("body", "description"),
        [
            ("[1]", "Bad Request: JSON object expected"),
            ('{"a":1} x', "Bad Request: unexpected data after object end"),
            ("{1:2}", "Bad Request: expected parameter name"),
        ],
    )
    async def test_json_syntax_errors(
        self, http: httpx.AsyncClient, body: str, description: str
    ) -> None:
        response = await http.post(
            f"/bot{BOT.token}/getMe",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert (response.status_code, response.json()["description"]) == (400, description)

    async def test_query_string_comes_first_and_first_occurrence_wins(
        self, http: httpx.AsyncClient, user: SandboxUser
    ) -> None:
        response = await http.post(
            f"/bot{BOT.token}/sendMessage?text=first&text=second",
            data={"chat_id": str(user.id), "text": "third"},
        )
        assert response.json()["result"]["text"] == "first"

    async def test_booleans_are_true_yes_or_1(self, api: BotApi, user: SandboxUser) -> None:
        for value, protected in ((" YES ", True), ("1", True), ("false", False), ("on", False)):
            message = await api.ok("sendMessage", chat_id=user.id, text="x", protect_content=value)
            assert message.get("has_protected_content", False) is protected

    async def test_gzip_body_and_unknown_encoding(
        self, http: httpx.AsyncClient, user: SandboxUser
    ) -> None:
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "content-encoding": "gzip",
        }
        body = gzip.compress(f"chat_id={user.id}&text=zipped".encode())
        response = await http.post(f"/bot{BOT.token}/sendMessage", content=body, headers=headers)
        assert response.json()["result"]["text"] == "zipped"
        headers["content-encoding"] = "br"
        response = await http.post(f"/bot{BOT.token}/sendMessage", content=body, headers=headers)
        assert response.status_code == 415
        assert (
            response.json()["description"] == "Unsupported Media Type: unsupported content-encoding"
        )


class TestSendMessage:
    async def test_result_matches_the_server_shape(
        self, api: BotApi, http: httpx.AsyncClient, user: SandboxUser
    ) -> None:
        response = await api.call(
            "sendMessage",
            chat_id=user.id,
            text="Hello <b>x</b>",
            parse_mode="HTML",
            reply_markup=KEYBOARD,
        )
        message = response.json()["result"]
        assert list(message) == [
            "message_id",
            "from",
            "chat",
            "date",
            "text",
            "entities",
            "reply_markup",
        ]
        assert message["from"] == {
            "id": 123456,
            "is_bot": True,
            "first_name": "Shop",
            "username": "shop_bot",
        }
        assert message["chat"] == {
            "id": user.id,
            "first_name": "Fala",
            "username": "alifala99",
            "type": "private",
        }
        assert list(message["chat"]) == ["id", "first_name", "username", "type"]
        assert message["message_id"] == 2  # the user's /start was 1: one sequence per chat
        assert message["entities"] == [{"offset": 6, "length": 1, "type": "bold"}]
        assert message["reply_markup"]["inline_keyboard"][0][1]["url"] == "https://example.com/"

    @pytest.mark.parametrize(
        ("params", "description"),
        [
            ({"text": ""}, "message text is empty"),
            ({"text": "é" * 16385}, "text is too long"),
            ({"text": "x", "parse_mode": "html5"}, "unsupported parse_mode"),
            (
                {"text": "<b>x", "parse_mode": "HTML"},
                "can't parse entities: Can't find end tag corresponding to start tag \"b\"",
            ),
            (
                {"text": "1.5", "parse_mode": "MarkdownV2"},
                "can't parse entities: Character '.' is reserved and must be escaped with "
                "the preceding '\\'",
            ),
            ({"text": "   "}, "text must be non-empty"),
            ({"text": "<b></b>", "parse_mode": "HTML"}, "text must be non-empty"),
            ({"text": "x" * 4097}, "message is too long"),
            ({"text": "x", "chat_id": ""}, "chat_id is empty"),
            ({"text": "x", "chat_id": "42"}, "chat not found"),
            ({"text": "x", "chat_id": "@alifala99"}, "chat not found"),
            ({"text": "x", "chat_id": "-1001234567890"}, "chat not found"),
        ],
    )
    async def test_refusals(
        self, api: BotApi, user: SandboxUser, params: dict[str, str], description: str
    ) -> None:
        params = {"chat_id": str(user.id), **params}
        assert await api.error("sendMessage", **params) == (400, f"Bad Request: {description}")

    async def test_validation_order(self, api: BotApi) -> None:
        # Text and markup are read before the chat is looked at; the rest of the text
        # checks (TDLib's) come after it.
        assert await api.error("sendMessage", chat_id="42", text="") == (
            400,
            "Bad Request: message text is empty",
        )
        assert await api.error("sendMessage", chat_id="42", text="x", reply_markup="{") == (
            400,
            "Bad Request: can't parse reply keyboard markup JSON object",
        )
        assert await api.error("sendMessage", chat_id="42", text="  ") == (
            400,
            "Bad Request: chat not found",
        )

    async def test_length_is_counted_in_code_points(self, api: BotApi, user: SandboxUser) -> None:
        message = await api.ok("sendMessage", chat_id=user.id, text="😀" * 4096)
        assert len(message["text"]) == 4096

    async def test_user_who_never_wrote_and_user_who_blocked(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        stranger = await control.create_user("Stranger")
        assert await api.error("sendMessage", chat_id=stranger.id, text="hi") == (
            403,
            "Forbidden: bot can't initiate conversation with a user",
        )
        await control.block(user.id)
        assert await api.error("sendMessage", chat_id=user.id, text="hi") == (
            403,
            "Forbidden: bot was blocked by the user",
        )

    async def test_reply_to_a_message(self, api: BotApi, user: SandboxUser) -> None:
        message = await api.ok(
            "sendMessage", chat_id=user.id, text="re", reply_parameters={"message_id": 1}
        )
        assert message["reply_to_message"]["text"] == "/start"
        assert await api.error(
            "sendMessage", chat_id=user.id, text="re", reply_parameters={"message_id": 99}
        ) == (400, "Bad Request: message to be replied not found")

    async def test_reply_keyboards_are_accepted_but_not_echoed(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        markup = {"keyboard": [["Catalog", {"text": "Help"}]], "resize_keyboard": True}
        message = await api.ok("sendMessage", chat_id=user.id, text="menu", reply_markup=markup)
        assert "reply_markup" not in message
        shown = (await control.transcript(user.id)).messages[-1].reply_markup
        assert shown == {
            "keyboard": [[{"text": "Catalog"}, {"text": "Help"}]],
            "resize_keyboard": True,
        }


class TestInlineKeyboards:
    @pytest.mark.parametrize(
        ("markup", "description"),
        [
            ("{", "can't parse reply keyboard markup JSON object"),
            ("[]", "object expected as reply markup"),
            (
                {"inline_keyboard": {}},
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array',
            ),
            (
                {"inline_keyboard": [{"text": "a"}]},
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays',
            ),
            (
                {"inline_keyboard": [[{"callback_data": "x"}]]},
                "can't parse inline keyboard button: Can't find field \"text\"",
            ),
            (
                {"inline_keyboard": [[{"text": "a"}]]},
                "can't parse inline keyboard button: Text buttons are unallowed in the "
                "inline keyboard",
            ),
            (
                {"inline_keyboard": [[{"text": "a", "callback_data": ""}]]},
                "can't parse inline keyboard button: Text buttons are unallowed in the "
                "inline keyboard",
            ),
            (
                {"inline_keyboard": [[{"text": "", "callback_data": "x"}]]},
                "inline keyboard button text must be non-empty",
            ),
            (
                {"inline_keyboard": [[{"text": "a", "callback_data": "é" * 33}]]},
                "BUTTON_DATA_INVALID",
            ),
            (
                {"inline_keyboard": [[{"text": "a", "url": "http://localhost:8000"}]]},
                "inline keyboard button URL 'http://localhost:8000' is invalid: Wrong HTTP URL",
            ),
            (
                {"inline_keyboard": [[{"text": "a", "url": "ftp://files.example.com"}]]},
                "inline keyboard button URL 'ftp://files.example.com' is invalid: "
                "Unsupported URL protocol",
            ),
        ],
    )
    async def test_refusals(
        self, api: BotApi, user: SandboxUser, markup: object, description: str
    ) -> None:
        assert await api.error("sendMessage", chat_id=user.id, text="x", reply_markup=markup) == (
            400,
            f"Bad Request: {description}",
        )

    async def test_callback_data_limit_is_64_bytes(self, api: BotApi, user: SandboxUser) -> None:
        markup = {"inline_keyboard": [[{"text": "a", "callback_data": "é" * 32}]]}
        message = await api.ok("sendMessage", chat_id=user.id, text="x", reply_markup=markup)
        assert message["reply_markup"] == markup


class TestEdits:
    async def sent(self, api: BotApi, user: SandboxUser) -> int:
        message = await api.ok("sendMessage", chat_id=user.id, text="Pick", reply_markup=KEYBOARD)
        return int(message["message_id"])

    async def test_edit_text_sets_edit_date_and_drops_an_omitted_keyboard(
        self, api: BotApi, user: SandboxUser
    ) -> None:
        message_id = await self.sent(api, user)
        edited = await api.ok(
            "editMessageText", chat_id=user.id, message_id=message_id, text="Done"
        )
        assert list(edited)[:5] == ["message_id", "from", "chat", "date", "edit_date"]
        assert edited["text"] == "Done"
        assert "reply_markup" not in edited

    async def test_not_modified(self, api: BotApi, user: SandboxUser) -> None:
        message_id = await self.sent(api, user)
        not_modified = (
            400,
            "Bad Request: message is not modified: specified new message content and reply "
            "markup are exactly the same as a current content and reply markup of the message",
        )
        same = {"chat_id": user.id, "message_id": message_id}
        assert await api.error("editMessageText", **same, text="Pick", reply_markup=KEYBOARD) == (
            not_modified
        )
        assert await api.error("editMessageReplyMarkup", **same, reply_markup=KEYBOARD) == (
            not_modified
        )
        edited = await api.ok("editMessageReplyMarkup", **same)
        assert "reply_markup" not in edited
        assert await api.error("editMessageReplyMarkup", **same) == not_modified
        # A different markup with the same text is a modification.
        await api.ok("editMessageText", **same, text="Pick", reply_markup=KEYBOARD)

    async def test_an_empty_inline_keyboard_removes_the_keyboard(
        self, api: BotApi, user: SandboxUser
    ) -> None:
        message_id = await self.sent(api, user)
        edited = await api.ok(
            "editMessageReplyMarkup",
            chat_id=user.id,
            message_id=message_id,
            reply_markup={"inline_keyboard": []},
        )
        assert "reply_markup" not in edited

    async def test_refusals(self, api: BotApi, user: SandboxUser) -> None:
        assert await api.error("editMessageText", text="x") == (
            400,
            "Bad Request: message identifier is not specified",
        )
        assert await api.error("editMessageText", chat_id=user.id, message_id=999, text="x") == (
            400,
            "Bad Request: message to edit not found",
        )
        assert await api.error("editMessageText", chat_id=user.id, message_id=1, text="x") == (
            400,
            "Bad Request: message can't be edited",
        )
        message_id = await self.sent(api, user)
        markup = {"keyboard": [["a"]]}
        assert await api.error(
            "editMessageText", chat_id=user.id, message_id=message_id, text="y", reply_markup=markup
        ) == (400, "Bad Request: inline keyboard expected")


class TestDeleteMessage:
    async def test_delete_and_refusals(self, api: BotApi, user: SandboxUser) -> None:
        message = await api.ok("sendMessage", chat_id=user.id, text="bye")
        assert await api.error("deleteMessage", message_id=message["message_id"]) == (
            400,
            "Bad Request: chat identifier is not specified",
        )
        assert await api.error("deleteMessage", chat_id=user.id) == (
            400,
            "Bad Request: message identifier is not specified",
        )
        assert await api.ok("deleteMessage", chat_id=user.id, message_id=message["message_id"])
        assert await api.ok("deleteMessage", chat_id=user.id, message_id=1)  # the user's /start
        for message_id in (message["message_id"], 999):
            assert await api.error("deleteMessage", chat_id=user.id, message_id=message_id) == (
                400,
                "Bad Request: message to delete not found",
            )


class TestCallbackQueries:
    async def test_exactly_one_answer_per_query(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        message = await api.ok("sendMessage", chat_id=user.id, text="Pick", reply_markup=KEYBOARD)
        query_id = await control.press_button(user.id, message["message_id"], text="Buy")
        too_old = (
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )
        assert await api.error(
            "answerCallbackQuery", callback_query_id=query_id, text="x" * 201
        ) == (
            400,
            "Bad Request: MESSAGE_TOO_LONG",
        )
        assert await api.ok(
            "answerCallbackQuery", callback_query_id=query_id, text="x" * 200, show_alert=True
        )
        assert await api.error("answerCallbackQuery", callback_query_id=query_id) == too_old
        assert await api.error("answerCallbackQuery", callback_query_id="not-a-number") == too_old
        answer = (await control.transcript(user.id)).callback_query(query_id).answer
        assert answer is not None
        assert (answer.text, answer.show_alert) == ("x" * 200, True)


class TestPhotos:
    async def test_upload_then_resend_by_file_id(
        self, http: httpx.AsyncClient, api: BotApi, user: SandboxUser
    ) -> None:
        response = await http.post(
            f"/bot{BOT.token}/sendPhoto",
            data={
                "chat_id": str(user.id),
                "photo": "attach://pic",
                "caption": "<b>Nice</b>",
                "parse_mode": "HTML",
            },
            files={"pic": ("a.png", png(1000, 500), "image/png")},
        )
        message = response.json()["result"]
        sizes = message["photo"]
        assert [(size["width"], size["height"]) for size in sizes] == [
            (90, 45),
            (320, 160),
            (800, 400),
            (1000, 500),
        ]
        assert list(sizes[-1]) == ["file_id", "file_unique_id", "file_size", "width", "height"]
        assert message["caption"] == "Nice"
        assert message["caption_entities"] == [{"offset": 0, "length": 4, "type": "bold"}]
        again = await api.ok("sendPhoto", chat_id=user.id, photo=sizes[-1]["file_id"])
        assert again["photo"] == sizes
        assert "caption" not in again
        assert await api.error(
            "editMessageText", chat_id=user.id, message_id=again["message_id"], text="x"
        ) == (400, "Bad Request: there is no text in the message to edit")

    async def test_part_named_after_the_parameter(
        self, http: httpx.AsyncClient, user: SandboxUser
    ) -> None:
        response = await http.post(
            f"/bot{BOT.token}/sendPhoto",
            data={"chat_id": str(user.id)},
            files={"photo": ("a.png", png(10, 10), "image/png")},
        )
        assert response.json()["result"]["photo"][0]["width"] == 10

    async def test_refusals(self, http: httpx.AsyncClient, api: BotApi, user: SandboxUser) -> None:
        assert await api.error("sendPhoto", chat_id=user.id) == (
            400,
            "Bad Request: there is no photo in the request",
        )
        assert await api.error("sendPhoto", chat_id=user.id, photo="AgACAgIAAxkBAAIB") == (
            400,
            "Bad Request: wrong file identifier/HTTP URL specified",
        )
        assert await api.error(
            "sendPhoto", chat_id=user.id, photo=f"{http.base_url}missing.png"
        ) == (400, "Bad Request: wrong file identifier/HTTP URL specified")
        response = await http.post(
            f"/bot{BOT.token}/sendPhoto",
            data={"chat_id": str(user.id), "photo": "attach://pic", "caption": "c" * 1025},
            files={"pic": ("a.png", png(10, 10), "image/png")},
        )
        assert response.json()["description"] == "Bad Request: message caption is too long"


class TestSmallMethods:
    async def test_send_chat_action(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        assert await api.ok("sendChatAction", chat_id=user.id, action="Typing") is True
        assert await api.error("sendChatAction", chat_id=user.id, action="dance") == (
            400,
            "Bad Request: wrong parameter action in request",
        )
        await control.block(user.id)
        assert await api.error("sendChatAction", chat_id=user.id, action="typing") == (
            403,
            "Forbidden: bot was blocked by the user",
        )

    async def test_set_my_commands(self, api: BotApi) -> None:
        commands = [{"command": "start", "description": "Start"}]
        assert await api.ok("setMyCommands", commands=commands) is True
        assert await api.ok("getMyCommands") == commands
        for raw, description in (
            ("x", "can't parse commands JSON object"),
            ({}, "expected an Array of BotCommand"),
            ([{"description": "d"}], "can't parse BotCommand: Can't find field \"command\""),
        ):
            assert await api.error("setMyCommands", commands=raw) == (
                400,
                f"Bad Request: {description}",
            )


class TestRateLimits:
    async def test_off_by_default(self, api: BotApi, user: SandboxUser) -> None:
        for _ in range(6):
            await api.ok("sendMessage", chat_id=user.id, text="spam")

    async def test_429_with_retry_after(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        await control.set_rate_limits(True)
        for _ in range(3):  # the burst a chat is allowed
            await api.ok("sendMessage", chat_id=user.id, text="spam")
        response = await api.call("sendMessage", chat_id=user.id, text="spam")
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert response.text == (
            '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1",'
            '"parameters":{"retry_after":1}}'
        )
