"""Measure recorded sound the way a listener would judge it: when, how long, what pitch, gaps."""

from __future__ import annotations

import numpy as np

#: Below this amplitude a sample counts as silence (-40 dBFS; 16-bit dither is far below it).
SILENCE = 0.01


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone, float32."""
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def chirp(
    start_hz: float, end_hz: float, seconds: float, rate: int, amplitude: float = 0.5
) -> np.ndarray:
    """A linear sweep: every stretch of it sounds different, so its position can be found."""
    t = np.arange(round(seconds * rate)) / rate
    phase = 2 * np.pi * (start_hz * t + (end_hz - start_hz) * t**2 / (2 * seconds))
    return (amplitude * np.sin(phase)).astype(np.float32)


def first_sound_index(samples: np.ndarray, threshold: float = SILENCE) -> int | None:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return int(loud[0]) if len(loud) else None


def last_sound_index(samples: np.ndarray, threshold: float = SILENCE) -> int | None:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return int(loud[-1]) if len(loud) else None


def sound_duration(samples: np.ndarray, rate: int, threshold: float = SILENCE) -> float:
    """Seconds from the first to the last sound (0 if there is none)."""
    first, last = first_sound_index(samples, threshold), last_sound_index(samples, threshold)
    return 0.0 if first is None or last is None else (last - first + 1) / rate


def rms_windows(samples: np.ndarray, rate: int, ms: float) -> np.ndarray:
    """RMS of consecutive windows of ``ms`` milliseconds (a trailing partial window is dropped)."""
    size = max(1, round(rate * ms / 1000))
    count = len(samples) // size
    windows = samples[: count * size].astype(np.float64).reshape(count, size)
    return np.sqrt(np.mean(windows**2, axis=1))


def longest_silence(
    samples: np.ndarray, rate: int, threshold: float = SILENCE, between_sound: bool = True
) -> float:
    """Seconds of the longest run of samples at or below ``threshold``.

    With ``between_sound`` only runs between the first and the last sound count: the gaps a
    listener hears inside speech, not the silence around it.
    """
    quiet = np.abs(samples) <= threshold
    if between_sound:
        loud = np.flatnonzero(~quiet)
        if len(loud) == 0:
            return 0.0
        quiet = quiet[loud[0] : loud[-1] + 1]
    if not quiet.any():
        return 0.0
    # Run lengths of True values: distances between the edges of the padded boolean signal.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.view(np.int8), [0]))))
    runs = edges[1::2] - edges[0::2]
    return float(runs.max()) / rate


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """How far ``other`` is from ``reference``: signal to error power, in dB."""
    return 10 * np.log10(np.sum(reference**2) / max(np.sum((other - reference) ** 2), 1e-30))


def max_step(samples: np.ndarray) -> float:
    """The largest jump between neighbouring samples: a click is a jump a smooth signal lacks."""
    return float(np.max(np.abs(np.diff(samples)))) if len(samples) > 1 else 0.0


def align(reference: np.ndarray, captured: np.ndarray) -> tuple[int, float]:
    """Where ``reference`` best matches ``captured``: (offset into captured, correlation).

    The correlation is the normalised one (1.0 = identical shape, any gain) at that offset,
    found with an FFT cross-correlation over every offset where the reference fits entirely.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cap = np.asarray(captured, dtype=np.float64)
    m, n = len(ref), len(cap)
    if m == 0 or n < m:
        raise ValueError("the reference must be non-empty and no longer than the capture")
    ref = ref - ref.mean()
    size = 1 << (n + m - 1).bit_length()
    spectrum = np.fft.rfft(cap, size) * np.conj(np.fft.rfft(ref, size))
    raw = np.fft.irfft(spectrum, size)[: n - m + 1]  # raw[k] = sum(cap[k:k+m] * ref)
    # Normalise by the energy of each window of the capture (mean removed) and of the reference.
    sums = np.concatenate(([0.0], np.cumsum(cap)))
    squares = np.concatenate(([0.0], np.cumsum(cap**2)))
    window_sum = sums[m:] - sums[:-m]
    window_energy = np.maximum(squares[m:] - squares[:-m] - window_sum**2 / m, 0.0)
    scale = np.sqrt(window_energy * np.sum(ref**2))
    floor = 1e-9 * max(float(scale.max()), 1e-30)
    correlation = np.where(scale > floor, raw / np.maximum(scale, floor), 0.0)
    offset = int(np.argmax(correlation))
    return offset, float(correlation[offset])


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency in Hz (Hann window, parabolic interpolation of the peak)."""
    x = np.asarray(samples, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    peak = int(np.argmax(spectrum[1:])) + 1
    if 1 <= peak < len(spectrum) - 1:
        a, b, c = np.log(spectrum[peak - 1 : peak + 2] + 1e-30)
        denominator = a - 2 * b + c
        shift = 0.5 * (a - c) / denominator if denominator else 0.0
    else:
        shift = 0.0
    return (peak + shift) * rate / len(x)


def fundamental_hz(samples: np.ndarray, rate: int, low: float = 60, high: float = 400) -> float:
    """Median pitch (F0) of the voiced frames: the autocorrelation peak of 40 ms frames whose
    period lies between ``1/high`` and ``1/low`` seconds, for frames clearly periodic."""
    size, hop = int(0.04 * rate), int(0.01 * rate)
    shortest, longest = int(rate / high), int(rate / low)
    found = []
    for start in range(0, len(samples) - size, hop):
        frame = np.asarray(samples[start : start + size], dtype=np.float64)
        frame = frame - frame.mean()
        energy = float(np.dot(frame, frame))
        if energy < 1e-4 * size:
            continue
        correlation = np.correlate(frame, frame, "full")[size - 1 :] / energy
        lag = shortest + int(np.argmax(correlation[shortest:longest]))
        if correlation[lag] > 0.6:
            found.append(rate / lag)
    return float(np.median(found)) if found else 0.0
