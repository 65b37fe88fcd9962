"""`agent voices …` end to end: add with the tiny XTTS, list, preview, score, remove, install-model."""

from __future__ import annotations

import asyncio
import io
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import soundfile as sf
from aiohttp import web

import agent.voice.xtts
from agent.cli import main
from agent.voice.consent import sha256_file
from agent.voice.enroll import EnrollError, Enrollment, enroll_async
from agent.voice.install import ACCEPTANCE_FILE, LICENCE_NAME
from agent.voice.store import VoiceStore
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
        stored = sorted(voice_dir.glob("ref-*.wav"))
        assert [r["sha256"] for r in consent["references"]] == [sha256_file(p) for p in stored]
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

    def test_unknown_voice_is_a_one_line_error(self, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Previewing a voice that doesn't exist says so."""
        assert main(["voices", "preview", "nobody", "Hi.", "-o", "x.wav"]) == 1
        assert "no voice named 'nobody'" in capsys.readouterr().err


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
        assert "speakers_xtts.pth: not published" in err
        for name, body in FILES.items():
            assert (model_dir / name).read_bytes() == body
        assert not list(model_dir.glob("*.part"))
        accepted = tomllib.loads((model_dir / ACCEPTANCE_FILE).read_text())
        assert accepted["licence"] == LICENCE_NAME
        assert accepted["accepted_by"] == "Sam Operator" and accepted["source"] == hub

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
