"""The text chunker: a short first clause for early audio, then whole sentences."""

from __future__ import annotations

from agent.voice.chunker import ChunkAggregator, Chunker


def feed(chunker: Chunker, tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        out += chunker.push(token)
    rest = chunker.flush()
    return out + ([rest] if rest else [])


class TestChunker:
    def test_first_piece_ends_at_the_first_clause_boundary(self) -> None:
        """The first piece is released at a comma once it has a few words; the rest by sentence."""
        tokens = [
            "Sure",
            " thing",
            " Sam",
            ",",
            " we",
            " open",
            " at",
            " nine",
            ".",
            " We",
            " close",
            ",",
            " though",
            ",",
            " at",
            " one",
            ".",
        ]
        assert feed(Chunker(), tokens) == ["Sure thing Sam,", "we open at nine.", "We close, though, at one."]

    def test_a_long_first_clause_is_cut_at_a_word_boundary(self) -> None:
        """Without punctuation the first piece is cut after `first_max_words` words."""
        text = "one two three four five six seven eight nine ten eleven"
        pieces = feed(Chunker(first_max_words=5), [w + " " for w in text.split()])
        assert pieces == ["one two three four five", "six seven eight nine ten eleven"]

    def test_decimals_and_abbreviations_do_not_end_sentences(self) -> None:
        """'$2.50', 'Dr. Lee' and '9 a.m. on' stay inside their sentence."""
        tokens = [
            "It",
            " costs",
            " $2",
            ".",
            "50",
            " total",
            ".",
            " See",
            " Dr",
            ".",
            " Lee",
            " at",
            " 9",
            " a",
            ".m",
            ".",
            " on",
            " Monday",
            ".",
            " Bye",
            ".",
        ]
        assert feed(Chunker(), tokens) == [
            "It costs $2.50 total.",
            "See Dr. Lee at 9 a.m. on Monday.",
            "Bye.",
        ]

    def test_a_short_question_is_its_own_first_piece(self) -> None:
        """A question mark ends the first piece even when it is short."""
        assert feed(Chunker(), ["Hello", "?", " How", " are", " you", "?", " "]) == ["Hello?", "How are you?"]

    def test_flush_starts_a_new_reply_and_reset_drops_text(self) -> None:
        """After flush the next reply gets a short first piece again; reset discards the buffer."""
        c = Chunker()
        assert feed(c, ["Yes", ",", " we", " do", ", ", "on", " weekdays", "."]) == [
            "Yes, we do,",
            "on weekdays.",
        ]
        assert c.push("Okay then Sam, see you soon") == ["Okay then Sam,"]
        c.reset()
        assert c.flush() is None


async def test_aggregator_yields_pieces_to_pipecat() -> None:
    """The pipecat aggregator yields the same pieces and flushes the remainder."""
    agg = ChunkAggregator()
    got = [a.text async for a in agg.aggregate("Well, hello there. How are")]
    final = await agg.flush()
    assert got == ["Well, hello there."]
    assert final is not None and final.text == "How are"
