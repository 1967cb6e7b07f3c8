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

import json
import sys
from dataclasses import dataclass
from pathlib import Path

#: The files ``cut_model`` writes.
ENCODER, DECODER, CUT = "encoder.onnx", "decoder.onnx", "cut.json"


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


def cut_model(model_path: Path, folder: Path) -> None:
    """Write the two halves of ``model_path`` into ``folder`` (``encoder.onnx``,
    ``decoder.onnx``) and ``cut.json``: the cut, or why there is none."""
    import onnx
    import onnx.utils

    folder.mkdir(parents=True, exist_ok=True)
    try:
        try:
            model = onnx.load(str(model_path))
        except Exception as error:  # a truncated or foreign file: protobuf raises many kinds
            raise GraphNotSplittable(f"the model could not be read ({error})") from error
        cut = find_cut(model)
        inputs = [inp.name for inp in model.graph.input]
        _declare(model, [*cut.inputs, cut.durations])
        try:
            extractor = onnx.utils.Extractor(model)
            encoder = extractor.extract_model(inputs, [*cut.inputs, cut.durations])
            decoder = extractor.extract_model(list(cut.inputs), [model.graph.output[0].name])
        except Exception as error:  # onnx raises bare Exceptions for a bad cut
            raise GraphNotSplittable(f"the graph could not be cut ({error})") from error
        onnx.save(encoder, str(folder / ENCODER))
        onnx.save(decoder, str(folder / DECODER))
        found = {"inputs": list(cut.inputs), "durations": cut.durations, "graph_inputs": inputs}
    except GraphNotSplittable as error:
        found = {"unsplittable": str(error)}
    (folder / CUT).write_text(json.dumps(found), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m readaloud.engines.piper.graph MODEL FOLDER``: what the engine runs in a child
    process, so the daemon never holds the parsed graph (it would keep ~75 MB)."""
    model, folder = (argv if argv is not None else sys.argv[1:])[:2]
    cut_model(Path(model), Path(folder))
    return 0


def _declare(model, names: list[str]) -> None:
    """Give the cut tensors a type where the export recorded none (the halves' inputs need one;
    the tensors at a VITS cut are float)."""
    from onnx import TensorProto, helper

    graph = model.graph
    known = {info.name for part in (graph.value_info, graph.input, graph.output) for info in part}
    for name in names:
        if name not in known:
            graph.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))


if __name__ == "__main__":
    sys.exit(main())
