"""A Piper voice's ONNX graph cut in two where its frame-rate part begins.

A Piper voice is one VITS graph: the text encoder and the duration predictor run at phoneme rate,
then the flow and the convolutional decoder run at frame rate (``hop`` samples per frame). Cut at
the flow's input, the first part runs once per sentence (it is small), and the second part can be
run over windows of frames, so the first audio of a whole sentence comes after the first part plus
one small window instead of after the whole sentence.

The cut is found from the graph itself, never from one export's tensor names: the frame-rate part
is every node downstream of the flow (the nodes scoped ``/flow/`` or reading ``flow.*`` weights),
and the cut is what that part reads from the rest of the graph. The duration predictor's output
is the graph's one ``Ceil`` (frames per phoneme id), the tensor Piper's own alignment patch uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The tensors of the first part for a sentence: the decoder's inputs by name, and the frames per
#: phoneme id.
Feeds = dict[str, np.ndarray]


class GraphNotSplittable(Exception):
    """The voice's graph has no clean cut; the engine speaks each segment whole."""


@dataclass(frozen=True)
class GraphCut:
    """Where the graph is cut: tensor names found in the graph."""

    #: What the frame-rate part reads: the latent and the frame mask (and a speaker embedding on
    #: multi-speaker voices).
    inputs: tuple[str, ...]
    #: Frames per phoneme id (the duration predictor's rounded-up output).
    durations: str


def find_cut(model) -> GraphCut:  # model: onnx.ModelProto
    """The cut between a VITS graph's phoneme-rate and frame-rate parts; GraphNotSplittable when
    the graph does not have the expected shape."""
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    producer = {out: index for index, node in enumerate(graph.node) for out in node.output}
    readers: dict[str, list[int]] = {}
    for index, node in enumerate(graph.node):
        for name in node.input:
            readers.setdefault(name, []).append(index)

    seeds = [
        index
        for index, node in enumerate(graph.node)
        if node.name.startswith("/flow/") or any(i.startswith("flow.") for i in node.input)
    ]
    if not seeds:
        raise GraphNotSplittable("the graph has no flow (not a VITS voice)")
    frame_rate: set[int] = set()
    stack = list(seeds)
    while stack:
        index = stack.pop()
        if index in frame_rate:
            continue
        frame_rate.add(index)
        for out in graph.node[index].output:
            stack.extend(readers.get(out, ()))

    cut: list[str] = []
    for index in sorted(frame_rate):
        for name in graph.node[index].input:
            if not name or name in weights or name in cut:
                continue
            source = producer.get(name)
            if source is not None and (
                source in frame_rate or graph.node[source].op_type == "Constant"
            ):
                continue
            cut.append(name)
    audio = graph.output[0].name if graph.output else ""
    if not cut or producer.get(audio) not in frame_rate:
        raise GraphNotSplittable("the audio output is not computed from the flow")
    if any(name in {inp.name for inp in graph.input} for name in cut):
        raise GraphNotSplittable("the flow reads a graph input directly")
    ceils = [out for node in graph.node if node.op_type == "Ceil" for out in node.output]
    if len(ceils) != 1:
        raise GraphNotSplittable(f"expected one duration tensor (Ceil), found {len(ceils)}")
    return GraphCut(inputs=tuple(cut), durations=ceils[0])


class SplitVoice:
    """The two halves of a voice's graph as onnxruntime sessions.

    ``encode`` runs the phoneme-rate part on a sentence's phoneme ids; ``decode`` runs the
    frame-rate part on any window of its frames (``frames`` tells which tensors have a frame axis).
    """

    def __init__(self, model_path: Path, use_cuda: bool = False) -> None:
        import onnx
        import onnx.utils

        try:
            model = onnx.load(str(model_path))
        except Exception as error:  # a truncated or foreign file: protobuf raises many kinds
            raise GraphNotSplittable(f"the model could not be read ({error})") from error
        self.cut = find_cut(model)
        self.graph_inputs = tuple(inp.name for inp in model.graph.input)
        output = model.graph.output[0].name
        _declare(model, [*self.cut.inputs, self.cut.durations])
        try:
            extractor = onnx.utils.Extractor(model)
            encoder = extractor.extract_model(
                list(self.graph_inputs), [*self.cut.inputs, self.cut.durations]
            )
            decoder = extractor.extract_model(list(self.cut.inputs), [output])
            del model, extractor
            self._encoder = _session(encoder.SerializeToString(), use_cuda)
            self._decoder = _session(decoder.SerializeToString(), use_cuda)
        except Exception as error:  # onnx and onnxruntime raise bare Exceptions for a bad cut
            raise GraphNotSplittable(f"the graph could not be cut ({error})") from error
        #: Cut tensors with a frame axis (the last one); found on the first sentence.
        self._framed: frozenset[str] | None = None

    @property
    def framed(self) -> frozenset[str]:
        """The decoder inputs sliced by a window (the latent and the mask); others go whole."""
        if self._framed is None:
            raise RuntimeError("encode a sentence first")
        return self._framed

    def encode(self, feeds: Feeds) -> tuple[Feeds, np.ndarray]:
        """Run the phoneme-rate part: the decoder's inputs and the frames per phoneme id."""
        results = self._encoder.run(None, feeds)
        tensors = dict(zip(self.cut.inputs, results[:-1], strict=True))
        durations = np.asarray(results[-1]).reshape(-1).astype(np.int64)
        if self._framed is None:
            frames = max(1, int(durations.sum()))
            self._framed = frozenset(
                name
                for name, value in tensors.items()
                if value.ndim == 3 and value.shape[-1] == frames
            )
            if not self._framed:
                raise GraphNotSplittable("no tensor at the cut has a frame axis")
        return tensors, durations

    def decode(self, tensors: Feeds, start: int, stop: int) -> np.ndarray:
        """Samples for frames ``start:stop`` decoded alone (no context beyond them)."""
        feeds = {
            name: value[..., start:stop] if name in self.framed else value
            for name, value in tensors.items()
        }
        return np.asarray(self._decoder.run(None, feeds)[0], dtype=np.float32).reshape(-1)


def _declare(model, names: list[str]) -> None:
    """Give the cut tensors a type where the export recorded none (the halves' inputs need one;
    the tensors at a VITS cut are float)."""
    from onnx import TensorProto, helper

    graph = model.graph
    known = {info.name for part in (graph.value_info, graph.input, graph.output) for info in part}
    for name in names:
        if name not in known:
            graph.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))


def _session(model: bytes, use_cuda: bool):  # -> onnxruntime.InferenceSession
    import onnxruntime

    providers = (
        [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"})]
        if use_cuda
        else ["CPUExecutionProvider"]
    )
    options = onnxruntime.SessionOptions()
    # The halves run one after the other: a pool left spinning after the encoder's run takes the
    # cores from the decoder's (measured: first window 76 ms spinning, 48 ms not, on 2 cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, sess_options=options, providers=providers)
