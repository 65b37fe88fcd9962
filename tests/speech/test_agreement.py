"""LocalAgreement: words are committed only when two successive passes agree on them."""

from __future__ import annotations

from agent.speech.agreement import LocalAgreement, common_prefix, split_words


class TestLocalAgreement:
    def test_first_pass_commits_nothing(self) -> None:
        """A single hypothesis has nothing to agree with, so every word stays tentative."""
        a = LocalAgreement()
        assert a.insert(["I'd", "like", "a"]) == []
        assert a.tentative == ["I'd", "like", "a"]
        assert a.committed == []

    def test_longest_common_prefix_of_two_passes_is_committed(self) -> None:
        """The words two passes share from the start are committed; the rest stays tentative."""
        a = LocalAgreement()
        a.insert(["I'd", "like", "a"])
        assert a.insert(["I'd", "like", "an", "appointment"]) == ["I'd", "like"]
        assert a.committed == ["I'd", "like"]
        assert a.tentative == ["an", "appointment"]

    def test_commitment_grows_as_later_passes_agree_further(self) -> None:
        """Each pass re-decodes the whole buffer; words newly shared with the previous pass are committed."""
        a = LocalAgreement()
        a.insert(["book", "a"])
        assert a.insert(["book", "a", "cleaning"]) == ["book", "a"]
        assert a.insert(["book", "a", "cleaning", "for", "Tuesday"]) == ["cleaning"]
        assert a.text == "book a cleaning for Tuesday"
        assert a.committed_text == "book a cleaning"

    def test_committed_words_are_never_taken_back(self) -> None:
        """A later pass that rewrites committed words commits nothing more and retracts nothing."""
        a = LocalAgreement()
        a.insert(["my", "name", "is"])
        a.insert(["my", "name", "is", "John"])
        assert a.insert(["I", "name", "is", "John"]) == []
        assert a.committed == ["my", "name", "is"]

    def test_case_and_punctuation_do_not_block_agreement(self) -> None:
        """'Tuesday,' and 'tuesday' agree; the newer spelling is kept."""
        a = LocalAgreement()
        a.insert(["next", "Tuesday,"])
        assert a.insert(["next", "tuesday", "afternoon"]) == ["next", "tuesday"]

    def test_disagreement_commits_nothing_new(self) -> None:
        """When the newest pass changes its mind about the first word, nothing is committed."""
        a = LocalAgreement()
        a.insert(["signature"])
        assert a.insert(["Cigna", "insurance"]) == []
        assert a.tentative == ["Cigna", "insurance"]

    def test_complete_resets(self) -> None:
        """Completing the utterance forgets its words, so the next one starts fresh."""
        a = LocalAgreement()
        a.insert(["my", "name"])
        a.insert(["my", "name", "is"])
        a.complete()
        assert a.committed == [] and a.tentative == [] and a.passes == 0
        assert a.insert(["my", "name"]) == []

    def test_drop_committed_removes_the_oldest_words(self) -> None:
        """Trimming the buffer hands back the committed words whose audio is gone."""
        a = LocalAgreement()
        a.insert(["one", "two", "three"])
        a.insert(["one", "two", "three", "four"])
        assert a.drop_committed(2) == ["one", "two"]
        assert a.committed == ["three"]
        assert a.insert(["three", "four", "five"]) == ["four"]


def test_common_prefix_counts_shared_leading_words() -> None:
    """common_prefix stops at the first word that differs."""
    assert common_prefix(["a", "b", "c"], ["a", "b", "d"]) == 2
    assert common_prefix([], ["a"]) == 0


def test_split_words_splits_on_whitespace() -> None:
    """A transcript splits into words the way Whisper spaces them."""
    assert split_words(" Hi, I'd  like ") == ["Hi,", "I'd", "like"]
