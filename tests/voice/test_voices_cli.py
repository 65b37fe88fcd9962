"""`agent voices …` end to end: add with the tiny XTTS, list, preview, score, remove, install-model."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import soundfile as sf
from aiohttp import web

import agent.voice.xtts
from agent.cli import main
from agent.voice.clips import resample
from agent.voice.consent import sha256_file
from agent.voice.enroll import EnrollError, Enrollment, enroll_async
from agent.voice.install import ACCEPTANCE_FILE, LICENCE_NAME, install_model
from agent.voice.piper import load_piper, synthesize_pcm
from agent.voice.speaker import SAME_SPEAKER
from agent.voice.store import VoiceError, VoiceStore
from agent.voice.xtts import SAMPLE_RATE, Latents
from tests.voice.samples import BUSINESS, SPEAKER, Samples, tiny_whisper, voice_samples

if TYPE_CHECKING:
    from TTS.tts.models.xtts import Xtts


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """Speech shared by every voice test."""
    return voice_samples(tmp_path_factory)


@pytest.fixture
def env(tmp_path: Path, tiny_xtts_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings for the CLI: voices and data under tmp_path, the tiny XTTS as the model; the voices dir."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "test-token")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICES_DIR", str(tmp_path / "voices"))
    monkeypatch.setenv("XTTS_MODEL_DIR", str(tiny_xtts_dir))
    return tmp_path / "voices"


@pytest.fixture
def latent_computations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of the real compute_latents."""
    calls: list[int] = []
    real = agent.voice.xtts.compute_latents

    def counted(*args: object, **kwargs: object) -> agent.voice.xtts.Latents:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(agent.voice.xtts, "compute_latents", counted)
    return calls


def add_args(samples: Samples, consent: Path, refs_from: tuple[Path, ...] | None = None) -> list[str]:
    refs = [arg for p in refs_from or samples.refs for arg in ("--ref", str(p))]
    return [
        "voices", "add", "acme", *refs, "--speaker", SPEAKER, "--recorded-by", "Sam Operator",
        "--business", BUSINESS, "--consent-recording", str(consent), "--whisper-model", "embedded",
    ]  # fmt: skip


class TestAddPreviewScoreRemove:
    def test_voice_lifecycle(
        self,
        env: Path,
        samples: Samples,
        tmp_path: Path,
        latent_computations: list[int],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Adding computes latents once; list, preview and score reuse them; remove deletes the voice."""
        assert main(add_args(samples, samples.consent)) == 0
        out = capsys.readouterr()
        assert "added voice 'acme'" in out.out
        assert " s  loading XTTS…" in out.err and " s  computing conditioning latents" in out.err  # progress
        voice_dir = env / "acme"
        latents = voice_dir / "latents.pt"
        assert latents.is_file() and latent_computations == [1]
        consent = tomllib.loads((voice_dir / "consent.toml").read_text())
        assert consent["check"]["passed"] is True and consent["recorded_by"] == "Sam Operator"
        assert consent["references"] == [
            {"file": given.name, "stored": f"ref-{i}.wav", "sha256": sha256_file(voice_dir / f"ref-{i}.wav")}
            for i, given in enumerate(samples.refs, 1)
        ]
        assert [r["sha256"] for r in consent["references"]] == [sha256_file(p) for p in samples.refs]
        stamp = latents.stat().st_mtime_ns

        assert main(["voices", "list"]) == 0
        listed = capsys.readouterr().out.splitlines()
        assert listed[0].split()[:3] == ["NAME", "DISPLAY", "NAME"]
        assert listed[1].split()[:3] == ["acme", "acme", "xtts"]

        out_wav = tmp_path / "hello.wav"
        assert main(["voices", "preview", "acme", "Hello there.", "-o", str(out_wav)]) == 0
        full, phone = sf.info(str(out_wav)), sf.info(str(tmp_path / "hello.phone.wav"))
        assert (full.samplerate, full.subtype) == (24000, "PCM_16")
        assert (phone.samplerate, phone.subtype) == (8000, "ULAW")
        assert phone.duration == pytest.approx(full.duration, abs=0.01)

        assert main(["voices", "score", "acme"]) in (0, 1)
        assert "acme: " in capsys.readouterr().out
        assert latent_computations == [1]
        assert latents.stat().st_mtime_ns == stamp

        assert main(["voices", "remove", "acme"]) == 0
        assert not voice_dir.exists()
        assert main(["voices", "list"]) == 0
        assert "no voices" in capsys.readouterr().out

    def test_refused_consent_adds_nothing(
        self,
        env: Path,
        samples: Samples,
        latent_computations: list[int],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A consent recording of other words is refused with the reason; no voice, no latents."""
        assert main(add_args(samples, samples.other_words)) == 1
        assert "consent refused: words didn't match" in capsys.readouterr().err
        assert not (env / "acme").exists() and latent_computations == []

    def test_rejected_clips_are_refused_before_consent(
        self, env: Path, samples: Samples, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Too little reference speech is refused with the clip report's reason."""
        assert main(add_args(samples, samples.consent, refs_from=(samples.short,))) == 1
        err = capsys.readouterr().err
        assert "all clips: reject: only" in err and "consent" not in err.split("refused:")[1]

    def test_a_language_xtts_does_not_speak_is_refused_before_any_model_loads(
        self, env: Path, samples: Samples, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--language xx` is refused at once, with the 17 languages XTTS speaks; nothing is stored."""
        assert main([*add_args(samples, samples.consent), "--language", "en", "--language", "xx"]) == 1
        err = capsys.readouterr().err
        assert err.strip() == (
            "voices add: XTTS does not speak 'xx': use one or more of "
            "en es fr de it pt pl tr ru nl cs ar zh-cn ja hu ko hi"
        )
        assert not (env / "acme").exists()

    def test_unknown_voice_is_a_one_line_error(self, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Previewing a voice that doesn't exist says so."""
        assert main(["voices", "preview", "nobody", "Hi.", "-o", "x.wav"]) == 1
        assert "no voice named 'nobody'" in capsys.readouterr().err


def stored_voice(env: Path, samples: Samples, latents: Latents, name: str = "acme") -> VoiceStore:
    """A voice put straight into the store (no consent check): the reference clips and the tiny latents."""
    store = VoiceStore(env)
    store.add(
        name,
        references=list(samples.refs),
        consent={"speaker": SPEAKER},
        consent_recording=samples.consent,
        latents=latents,
        speaker=SPEAKER,
    )
    return store


def listed(out: str) -> dict[str, dict[str, str]]:
    """`voices list` output as {name: {column: value}} (columns are two or more spaces apart)."""
    header, *rows = (re.split(r"\s{2,}", line) for line in out.splitlines())
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def piper_speaks(_model: object, text: str, _language: str, _latents: Latents) -> np.ndarray:
    """Piper's Joe, the reference clips' own voice, reading `text` at XTTS's 24 kHz: what a trained XTTS
    would give (the tiny random-weight one speaks noise, in which no voice is heard)."""
    voice = load_piper("embedded")
    pcm = np.frombuffer(b"".join(synthesize_pcm(voice, text)), "<i2").astype(np.float32) / 32768
    return resample(pcm, voice.config.sample_rate, SAMPLE_RATE)


class TestListAndScore:
    def test_list_shows_each_voice_fidelity(
        self, env: Path, samples: Samples, tiny_latents: Latents, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A stored fidelity is listed to two decimals; a voice never scored shows '-'."""
        store = stored_voice(env, samples, tiny_latents)
        stored_voice(env, samples, tiny_latents, "unscored")
        store.set_fidelity("acme", 0.8765)
        capsys.readouterr()  # the store's own log lines
        assert main(["voices", "list"]) == 0
        rows = listed(capsys.readouterr().out)
        assert rows["acme"]["FIDELITY"] == "0.88" and rows["unscored"]["FIDELITY"] == "-"
        assert rows["acme"]["ENGINE"] == "xtts" and rows["acme"]["SPEAKER"] == SPEAKER

    def test_score_prints_the_fidelity_it_stores(
        self,
        env: Path,
        samples: Samples,
        tiny_latents: Latents,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A preview in the reference speaker's voice scores as the same speaker; the printed score is the
        one stored and then listed."""
        store = stored_voice(env, samples, tiny_latents)
        monkeypatch.setattr(agent.voice.xtts, "synthesize", piper_speaks)
        capsys.readouterr()  # the store's own log lines
        assert main(["voices", "score", "acme"]) == 0
        printed = re.search(r"^acme: fidelity (\d\.\d\d)$", capsys.readouterr().out, re.MULTILINE)
        assert printed is not None
        fidelity = store.get("acme").fidelity
        assert fidelity is not None and printed[1] == f"{fidelity:.2f}" and fidelity >= SAME_SPEAKER
        assert main(["voices", "list"]) == 0
        assert listed(capsys.readouterr().out)["acme"]["FIDELITY"] == printed[1]

    def test_score_of_a_preview_without_a_voice_says_so_and_stores_nothing(
        self, env: Path, samples: Samples, tiny_latents: Latents, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The tiny XTTS speaks noise: `score` says no voice was heard, fails, and stores no score."""
        store = stored_voice(env, samples, tiny_latents)
        capsys.readouterr()  # the store's own log lines
        assert main(["voices", "score", "acme"]) == 1
        printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("acme: ")]
        assert printed == ["acme: no voice heard in the synthesized preview; fidelity not scored"]
        assert store.get("acme").fidelity is None


FILES = {
    "LICENSE.txt": b"Coqui Public Model License 1.0.0\nNon-commercial use only.\n",
    "config.json": b'{"model": "xtts"}',
    "model.pth": bytes(range(256)) * 4096,  # 1 MiB, streamed in blocks
    "vocab.json": b'{"vocab": {}}',
}


@pytest.fixture
def hub() -> Iterator[str]:
    """A local server laid out like Hugging Face's coqui/XTTS-v2 (model.pth redirects to a CDN path)."""
    prefix = "/coqui/XTTS-v2/resolve/main"

    async def resolve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name == "model.pth":
            raise web.HTTPFound("/cdn/model.pth")
        if name not in FILES:
            raise web.HTTPNotFound()
        return web.Response(body=FILES[name])

    async def cdn(request: web.Request) -> web.Response:
        return web.Response(body=FILES["model.pth"])

    app = web.Application()
    app.router.add_get(prefix + "/{name}", resolve)
    app.router.add_get("/cdn/model.pth", cdn)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}{prefix}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


class TestInstallModel:
    def test_accepted_licence_is_recorded_and_files_downloaded(
        self, env: Path, hub: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --accept-license the licence is shown, its acceptance recorded and every file fetched."""
        model_dir = tmp_path / "xtts"
        args = ["voices", "install-model", "--dir", str(model_dir), "--url", hub]
        assert main([*args, "--accept-license", "--accepted-by", "Sam Operator"]) == 0
        err = capsys.readouterr().err
        assert "NON-COMMERCIAL" in err and "Non-commercial use only." in err
        assert re.search(r"model\.pth: 100%\|█+\| 1\.00M/1\.00M", err), err  # tqdm's bar, in MiB
        assert "speakers_xtts.pth: not published" in err
        for name, body in FILES.items():
            assert (model_dir / name).read_bytes() == body
        assert not list(model_dir.glob("*.part"))
        accepted = tomllib.loads((model_dir / ACCEPTANCE_FILE).read_text())
        assert accepted["licence"] == LICENCE_NAME
        assert accepted["accepted_by"] == "Sam Operator" and accepted["source"] == hub

    async def test_each_file_has_a_progress_bar_advanced_to_its_size(self, hub: str, tmp_path: Path) -> None:
        """The progress factory gets a bar per file with its size, advanced by every byte, then closed."""
        bars: list[RecordedBar] = []

        def progress(name: str, total: int | None) -> RecordedBar:
            bars.append(RecordedBar(name, total))
            return bars[-1]

        await install_model(tmp_path / "xtts", hub, accept=lambda _text: True, progress=progress)
        assert [(b.name, b.total, b.done, b.closed) for b in bars] == [
            (name, len(FILES[name]), len(FILES[name]), True)
            for name in ("config.json", "model.pth", "vocab.json")
        ]
        assert len(bars[1].steps) > 1  # model.pth streamed in blocks

    def test_typed_yes_accepts(
        self, env: Path, hub: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Answering 'yes' at the prompt accepts the licence."""
        monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
        assert main(["voices", "install-model", "--dir", str(tmp_path / "xtts"), "--url", hub]) == 0
        assert (tmp_path / "xtts" / "model.pth").is_file()

    @pytest.mark.parametrize("answer", ["no\n", ""])
    def test_declined_licence_downloads_nothing(
        self, env: Path, hub: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str
    ) -> None:
        """Declining, or no answer at all, downloads nothing and records no acceptance."""
        monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        model_dir = tmp_path / "xtts"
        assert main(["voices", "install-model", "--dir", str(model_dir), "--url", hub]) == 1
        assert not model_dir.exists() or list(model_dir.iterdir()) == []

    def test_missing_required_file_fails(self, env: Path, hub: str, tmp_path: Path) -> None:
        """A server without the weights fails the install instead of leaving a partial model."""
        url = hub.replace("/main", "/other")
        assert (
            main(["voices", "install-model", "--dir", str(tmp_path / "x"), "--url", url, "--accept-license"])
            == 1
        )
        assert not (tmp_path / "x" / "config.json").exists()


@dataclass
class RecordedBar:
    """A progress bar that remembers what it was told."""

    name: str
    total: int | None
    steps: list[int] = field(default_factory=list)
    closed: bool = False

    @property
    def done(self) -> int:
        """Bytes advanced so far."""
        return sum(self.steps)

    def update(self, n: int) -> None:
        """Advance by `n` bytes."""
        self.steps.append(n)

    def close(self) -> None:
        """Finish."""
        self.closed = True


class TestEnrollAsync:
    async def test_refusal_reaches_the_async_caller(self, tmp_path: Path, samples: Samples) -> None:
        """An async caller gets the same refusal, with its reasons, from the worker thread."""
        request = Enrollment(
            name="acme",
            references=(samples.short,),
            speaker=SPEAKER,
            recorded_by="Sam Operator",
            business=BUSINESS,
            consent_recording=samples.consent,
        )

        def no_model() -> Xtts:
            raise AssertionError("refused voices never load XTTS")

        with pytest.raises(EnrollError) as refused:
            await enroll_async(
                VoiceStore(tmp_path / "voices"),
                request,
                whisper=tiny_whisper(),
                whisper_name="embedded",
                load_model=no_model,
            )
        assert any("only" in r and "of speech in all" in r for r in refused.value.reasons)
        assert refused.value.clips is not None and refused.value.consent is None

    async def test_a_language_xtts_does_not_speak_is_refused_before_any_check(
        self, tmp_path: Path, samples: Samples
    ) -> None:
        """Enrolling (as the console does) with a language XTTS lacks is refused before clips or consent."""
        request = Enrollment(
            name="acme",
            references=samples.refs,
            speaker=SPEAKER,
            recorded_by="Sam Operator",
            business=BUSINESS,
            consent_recording=samples.consent,
            languages=("en", "klingon"),
        )

        def no_model() -> Xtts:
            raise AssertionError("refused voices never load XTTS")

        with pytest.raises(VoiceError, match="XTTS does not speak 'klingon'"):
            await enroll_async(
                VoiceStore(tmp_path / "voices"),
                request,
                whisper=tiny_whisper(),
                whisper_name="embedded",
                load_model=no_model,
            )
        assert not (tmp_path / "voices").exists()
