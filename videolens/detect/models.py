"""Trainable detector architectures behind one small interface, and torchvision's COCO weights.

Every architecture is wrapped as a :class:`DetectorModel` (a ``torch.nn.Module``) with

- ``loss(images, targets) -> dict`` in training mode (images ``(B, 3, S, S)`` float in ``[0, 1]``, targets
  ``[{"boxes": (N, 4) xyxy pixels, "labels": (N,) 0-based}]``), and
- ``predict(images, conf, iou, max_det, multi_label) -> [(boxes, scores, labels)]`` in eval mode,

so the training loop, evaluation and video inference treat a ``yolo`` and a Faster R-CNN alike.

| name | what |
|---|---|
| ``yolo`` | :mod:`videolens.detect.yolo`, ours; ``scale`` n / s / m |
| ``fasterrcnn`` | torchvision Faster R-CNN, MobileNetV3-Large FPN (the CPU choice) |
| ``fasterrcnn-r50`` | torchvision Faster R-CNN, ResNet-50 FPN |
| ``fcos`` / ``retinanet`` | torchvision FCOS / RetinaNet, ResNet-50 FPN (COCO weights for inference) |

>>> model = build_model("yolo", num_classes=3)            # doctest: +SKIP
>>> model.eval().predict(torch.zeros(1, 3, 320, 320))     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import torch
from torch import nn

from ..errors import VideolensError

ARCHITECTURES = ("yolo", "fasterrcnn", "fasterrcnn-r50", "fcos", "retinanet")
TRAINABLE = ("yolo", "fasterrcnn", "fasterrcnn-r50")

# torchvision builder and COCO weights enum per architecture (looked up lazily: importing them is slow).
_TV = {
    "fasterrcnn": ("fasterrcnn_mobilenet_v3_large_fpn", "FasterRCNN_MobileNet_V3_Large_FPN_Weights"),
    "fasterrcnn-r50": ("fasterrcnn_resnet50_fpn", "FasterRCNN_ResNet50_FPN_Weights"),
    "fcos": ("fcos_resnet50_fpn", "FCOS_ResNet50_FPN_Weights"),
    "retinanet": ("retinanet_resnet50_fpn", "RetinaNet_ResNet50_FPN_Weights"),
}


class DetectorModel(nn.Module):
    """Common interface; see the module docstring."""

    name: str = "detector"
    input_range = (0.0, 1.0)

    def config(self) -> dict:
        raise NotImplementedError

    def loss(self, images: torch.Tensor, targets: list[dict]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, images: torch.Tensor, conf: float = 0.25, iou: float = 0.45, max_det: int = 300,
                multi_label: bool = False) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        raise NotImplementedError


class YoloModel(DetectorModel):
    name = "yolo"

    def __init__(self, num_classes: int, scale: str = "n", imgsz: int = 320):
        super().__init__()
        from .yolo import YoloNet

        self.net = YoloNet(num_classes, scale)
        self.num_classes, self.scale, self.imgsz = int(num_classes), scale, int(imgsz)

    def config(self) -> dict:
        return {"num_classes": self.num_classes, "scale": self.scale, "imgsz": self.imgsz}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def loss(self, images, targets):
        from .yolo import yolo_loss

        out = self.net(images)
        shapes = [(images.shape[2] // s, images.shape[3] // s) for s in (8, 16, 32)]
        points, _ = self.net.grid(shapes, images.device, out.dtype)
        return yolo_loss(out, targets, self.num_classes, points)

    @torch.no_grad()
    def predict(self, images, conf=0.25, iou=0.45, max_det=300, multi_label=False):
        from .yolo import postprocess

        out = self.net(images)
        out = torch.cat([out[..., :4], out[..., 4:].sigmoid()], -1)
        return postprocess(out, conf, iou, max_det, multi_label)


class TorchvisionModel(DetectorModel):
    """A torchvision detector. Class 0 is torchvision's background, so our label ``k`` is its ``k + 1``."""

    def __init__(self, arch: str, num_classes: int, imgsz: int = 320, weights: str | None = None,
                 progress: bool = False):
        super().__init__()
        if arch not in _TV:
            raise VideolensError(f"unknown torchvision detector {arch!r} (choose from {', '.join(_TV)})")
        import torchvision.models.detection as tvd

        builder_name, weights_name = _TV[arch]
        builder = getattr(tvd, builder_name)
        self.name, self.arch, self.imgsz = arch, arch, int(imgsz)
        size = {"min_size": self.imgsz, "max_size": self.imgsz}
        if arch.startswith("fasterrcnn"):
            # 128 sampled RoIs per image instead of 512: on a CPU, RoIAlign's backward pass and the box head's
            # matrix products dominate a training step, and a small dataset does not need more (Detectron's
            # setting for small batches).
            size.update(box_batch_size_per_image=128, rpn_post_nms_top_n_train=1000)
        if weights == "coco":
            enum = getattr(tvd, weights_name).COCO_V1
            with _safe_weights(enum, progress):
                net = builder(weights=enum, **size)
            self.coco_categories = list(enum.meta["categories"])
            if num_classes and num_classes != len(self.coco_categories) - 1:
                _replace_classifier(net, arch, num_classes + 1)
        else:
            net = builder(weights=None, weights_backbone=None, num_classes=int(num_classes) + 1, **size)
            self.coco_categories = None
        self.net = net
        self.num_classes = int(num_classes) if num_classes else len(self.coco_categories) - 1

    def config(self) -> dict:
        return {"num_classes": self.num_classes, "imgsz": self.imgsz}

    def set_size(self, imgsz: int) -> None:
        """Images are resized inside the model so their long side is at most ``imgsz``."""
        self.imgsz = int(imgsz)
        self.net.transform.min_size = (self.imgsz,)
        self.net.transform.max_size = self.imgsz

    def loss(self, images, targets):
        tv_targets = [{"boxes": t["boxes"].float(), "labels": t["labels"].long() + 1} for t in targets]
        return self.net(list(images), tv_targets)

    @torch.no_grad()
    def predict(self, images, conf=0.25, iou=0.45, max_det=300, multi_label=False):
        heads = getattr(self.net, "roi_heads", None) or self.net
        for attr, value in (("score_thresh", conf), ("nms_thresh", iou), ("detections_per_img", max_det)):
            if hasattr(heads, attr):
                setattr(heads, attr, value)
        out = self.net(list(images))
        return [(o["boxes"], o["scores"], o["labels"] - 1) for o in out]


def _replace_classifier(net: nn.Module, arch: str, classes_with_bg: int) -> None:
    """Fine-tuning from COCO: a new classification layer for the dataset's classes."""
    if arch.startswith("fasterrcnn"):
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

        in_features = net.roi_heads.box_predictor.cls_score.in_features
        net.roi_heads.box_predictor = FastRCNNPredictor(in_features, classes_with_bg)
    else:
        raise VideolensError(f"fine-tuning {arch} from COCO weights is not supported (use fasterrcnn)")


def coco_weights_path(arch: str) -> Path:
    """Where torchvision looks for ``arch``'s COCO checkpoint: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    import torchvision.models.detection as tvd

    enum = getattr(tvd, _TV[arch][1]).COCO_V1
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)


@contextlib.contextmanager
def _safe_weights(enum, progress: bool):
    """Let torchvision build ``enum``'s model, but load the file with ``weights_only=True`` (torch.hub would
    unpickle it fully), and turn an offline failure into an error that names the exact path."""
    from torchvision.models._api import WeightsEnum

    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(15)
        try:
            torch.hub.download_url_to_file(enum.url, str(path), progress=progress)
        except Exception as e:  # noqa: BLE001 - URLError, timeouts, HTTP errors: all mean "not here"
            with contextlib.suppress(OSError):
                path.unlink()
            raise VideolensError(f"COCO weights not found at {path} and could not be downloaded "
                                 f"({type(e).__name__}); download {enum.url} and put it at that path") from None
        finally:
            socket.setdefaulttimeout(old)

    original = WeightsEnum.get_state_dict

    def load(self, *args, **kwargs):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise VideolensError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None

    WeightsEnum.get_state_dict = load
    try:
        yield path
    except RuntimeError as e:
        if "state_dict" in str(e):
            raise VideolensError(f"{path}: does not hold {enum} weights ({str(e).splitlines()[0]})") from None
        raise
    finally:
        WeightsEnum.get_state_dict = original


def build_model(name: str, num_classes: int, **config) -> DetectorModel:
    """A fresh (untrained, or COCO-initialised with ``weights="coco"``) detector of architecture ``name``."""
    if name == "yolo":
        return YoloModel(num_classes, scale=config.get("scale", "n"), imgsz=config.get("imgsz", 320))
    if name in _TV:
        return TorchvisionModel(name, num_classes, imgsz=config.get("imgsz", 320), weights=config.get("weights"),
                                progress=config.get("progress", False))
    raise VideolensError(f"unknown model {name!r} (choose from {', '.join(ARCHITECTURES)})")
