"""Text parsing and link checks, without HTTP: the parsers' output and TDLib's error texts."""

from __future__ import annotations

import pytest

from sandbox.telegram.entities import FormattedText, normalize, utf16_length
from sandbox.telegram.errors import BotApiError
from sandbox.telegram.formatting import parse_formatted_text
from sandbox.telegram.links import LinkError, check_link


def parsed(text: str, mode: str) -> tuple[str, list[dict[str, object]]]:
    formatted = normalize(parse_formatted_text(text, mode, ""))
    return formatted.text, formatted.entities_json()


def parse_error(text: str, mode: str) -> str:
    with pytest.raises(BotApiError) as caught:
        parse_formatted_text(text, mode, "")
    assert caught.value.error_code == 400
    return caught.value.description


class TestHtml:
    def test_bold_with_utf16_offsets(self) -> None:
        assert parsed("Hello <b>x</b>", "HTML") == (
            "Hello x",
            [{"offset": 6, "length": 1, "type": "bold"}],
        )
        text, entities = parsed("<b>😀</b>a<i>b</i>", "html")
        assert text == "😀ab"
        assert entities == [
            {"offset": 0, "length": 2, "type": "bold"},
            {"offset": 3, "length": 1, "type": "italic"},
        ]

    def test_nested_entities_sort_outer_first_then_by_type(self) -> None:
        _, entities = parsed("<i><b>xy</b></i><u>z</u>", "HTML")
        assert [entity["type"] for entity in entities] == ["bold", "italic", "underline"]

    def test_character_references(self) -> None:
        text, _ = parsed("&lt;a&gt; &amp; &quot;q&quot; &#33;&#x41; &nbsp;", "HTML")
        assert text == '<a> & "q" !A &nbsp;'

    def test_links_and_code(self) -> None:
        text, entities = parsed(
            '<a href="https://Example.com">site</a> <pre><code class="language-python">'
            "x = 1</code></pre> <code>c</code>",
            "HTML",
        )
        assert text == "site x = 1 c"
        assert entities == [
            {"offset": 0, "length": 4, "type": "text_link", "url": "https://example.com/"},
            {"offset": 5, "length": 5, "type": "pre", "language": "python"},
            {"offset": 11, "length": 1, "type": "code"},
        ]

    def test_spoilers_and_blockquotes(self) -> None:
        _, entities = parsed(
            '<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler>'
            "<blockquote expandable>c</blockquote>",
            "HTML",
        )
        assert [entity["type"] for entity in entities] == [
            "spoiler",
            "spoiler",
            "expandable_blockquote",
        ]

    @pytest.mark.parametrize(
        ("text", "detail"),
        [
            ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
            ("é<b", "Unclosed start tag at byte offset 2"),
            ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
            ("x</b>", "Unexpected end tag at byte offset 1"),
            ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
            ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
            ("I <3 you", 'Unsupported start tag "3" at byte offset 2'),
        ],
    )
    def test_errors(self, text: str, detail: str) -> None:
        assert parse_error(text, "HTML") == f"Bad Request: can't parse entities: {detail}"


class TestMarkdownV2:
    def test_every_simple_entity(self) -> None:
        text, entities = parsed("*b* _i_ __u__ ~s~ ||p|| `c` 1\\.5", "MarkdownV2")
        assert text == "b i u s p c 1.5"
        assert [(entity["offset"], entity["type"]) for entity in entities] == [
            (0, "bold"),
            (2, "italic"),
            (4, "underline"),
            (6, "strikethrough"),
            (8, "spoiler"),
            (10, "code"),
        ]

    def test_links_pre_and_quotes(self) -> None:
        text, entities = parsed(
            "[site](https://example.com/a\\)b)\n```python\nx\n```\n>quoted", "markdownv2"
        )
        assert text == "site\nx\n\nquoted"
        assert entities == [
            {"offset": 0, "length": 4, "type": "text_link", "url": "https://example.com/a)b"},
            {"offset": 5, "length": 2, "type": "pre", "language": "python"},
            {"offset": 8, "length": 6, "type": "blockquote"},
        ]

    @pytest.mark.parametrize(
        ("text", "detail"),
        [
            ("Price 1.5", "Character '.' is reserved and must be escaped with the preceding '\\'"),
            ("a-b", "Character '-' is reserved and must be escaped with the preceding '\\'"),
            ("*bold", "Can't find end of Bold entity at byte offset 0"),
            ("ok _it", "Can't find end of Italic entity at byte offset 3"),
            ("[x](http://a.b", "Can't find end of a URL at byte offset 4"),
        ],
    )
    def test_errors(self, text: str, detail: str) -> None:
        assert parse_error(text, "MarkdownV2") == f"Bad Request: can't parse entities: {detail}"


class TestLegacyMarkdown:
    def test_entities(self) -> None:
        text, entities = parsed("*b* _i_ `c` [l](https://a.io)", "Markdown")
        assert text == "b i c l"
        assert [entity["type"] for entity in entities] == ["bold", "italic", "code", "text_link"]

    def test_unclosed(self) -> None:
        assert parse_error("x *bold", "Markdown") == (
            "Bad Request: can't parse entities: "
            "Can't find end of the entity starting at byte offset 2"
        )


class TestNormalization:
    def test_trims_and_finds_commands_mentions_hashtags_and_urls(self) -> None:
        formatted = normalize(FormattedText("  /start ref_42  "))
        assert formatted.text == "/start ref_42"
        assert formatted.entities_json() == [{"offset": 0, "length": 6, "type": "bot_command"}]
        found = normalize(FormattedText("/help@shop_bot @someone #sale see https://a.io/x."))
        assert [(e["type"], e["length"]) for e in found.entities_json()] == [
            ("bot_command", 14),
            ("mention", 8),
            ("hashtag", 5),
            ("url", 14),
        ]

    def test_no_url_entity_inside_code(self) -> None:
        formatted = normalize(parse_formatted_text("<code>https://a.io</code>", "HTML", ""))
        assert [entity.type for entity in formatted.entities] == ["code"]

    def test_utf16_length(self) -> None:
        assert utf16_length("a😀é") == 4

    def test_unsupported_parse_mode(self) -> None:
        assert parse_error("x", "html5") == "Bad Request: unsupported parse_mode"

    def test_entities_parameter(self) -> None:
        formatted = parse_formatted_text(
            "ab", "", '[{"type":"bold","offset":0,"length":1},{"type":"pre","offset":1,"length":1}]'
        )
        assert [entity.type for entity in formatted.entities] == ["bold", "pre"]
        with pytest.raises(BotApiError, match='Can\'t find field "length"'):
            parse_formatted_text("ab", "", '[{"type":"bold","offset":0}]')
        with pytest.raises(BotApiError, match="can't parse entities JSON object"):
            parse_formatted_text("ab", "", "[{")


class TestLinks:
    @pytest.mark.parametrize(
        ("url", "normalized"),
        [
            ("https://example.com", "https://example.com/"),
            ("example.com/a?b#c", "http://example.com/a?b#c"),
            ("HTTP://User@Example.COM:8080", "http://User@example.com:8080/"),
            ("tg://user?id=42", "tg://user?id=42"),
        ],
    )
    def test_accepted(self, url: str, normalized: str) -> None:
        assert check_link(url) == normalized

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://localhost:8000", "Wrong HTTP URL"),
            ("ftp://example.com", "Unsupported URL protocol"),
            ("https://", "URL host is empty"),
            ("https://exa mple.com", "Unallowed characters in URL host"),
            ("tg://http://x", "Wrong tg URL"),
        ],
    )
    def test_refused(self, url: str, reason: str) -> None:
        with pytest.raises(LinkError, match=reason):
            check_link(url)
