"""Image geometry for detectors: letterboxing (inference and training) and the training augmentations.

Everything works on uint8 RGB ``(H, W, 3)`` arrays and ``x1, y1, x2, y2`` pixel boxes with numpy and OpenCV.
Augmentations take a ``numpy.random.Generator`` so a seed makes them repeatable.

>>> import numpy as np
>>> img, ratio, (px, py) = letterbox(np.zeros((240, 320, 3), np.uint8), 320)
>>> img.shape, ratio, (px, py)
((320, 320, 3), 1.0, (0, 40))
"""

from __future__ import annotations

import cv2
import numpy as np

PAD_VALUE = 114   # the grey Ultralytics pads with; models trained on it expect it


def letterbox(img: np.ndarray, size: int | tuple[int, int], pad_value: int = PAD_VALUE,
              scaleup: bool = True) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio to fit ``size`` (int: square; or ``(w, h)``) and pad the rest.

    Returns ``(image, ratio, (pad_x, pad_y))``: a box in the original is ``box * ratio + pad`` in the result.
    The padding is split as Ultralytics splits it (the extra pixel goes right and bottom).
    """
    tw, th = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    h, w = img.shape[:2]
    r = min(tw / w, th / h)
    if not scaleup:
        r = min(r, 1.0)
    nw, nh = int(round(w * r)), int(round(h * r))
    if (nw, nh) != (w, h):
        interp = cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR
        img = cv2.resize(img, (nw, nh), interpolation=interp)
    dw, dh = (tw - nw) / 2, (th - nh) / 2
    top, left = int(round(dh - 0.1)), int(round(dw - 0.1))
    bottom, right = th - nh - top, tw - nw - left
    if top or bottom or left or right:
        img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                 value=(pad_value, pad_value, pad_value))
    return img, float(r), (left, top)


def ultralytics_letterbox(img: np.ndarray, shape: tuple[int, int], auto: bool = False, stride: int = 32,
                          pad_value: int = PAD_VALUE) -> np.ndarray:
    """Ultralytics' ``LetterBox`` as its predictor applies it (``ultralytics/data/augment.py``), to the pixel.

    ``shape`` is the model input ``(height, width)``. The ratio ``min(h / H, w / W)`` scales up as well as down, the
    resize is ``INTER_LINEAR`` (Ultralytics' models learned on that, not ``INTER_AREA``), the padding of 114 is
    centred with ``round(d - 0.1)`` before and ``round(d + 0.1)`` after. ``auto`` pads only to a multiple of
    ``stride`` (the minimum rectangle its predictor uses for dynamic-shape exports). Boxes go back with
    :func:`ultralytics_scale_boxes`.
    """
    h, w = img.shape[:2]
    th, tw = int(shape[0]), int(shape[1])
    r = min(th / h, tw / w)
    nw, nh = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = tw - nw, th - nh
    if auto:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    if (w, h) != (nw, nh):
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(pad_value,) * 3)


def ultralytics_scale_boxes(boxes: np.ndarray, input_hw: tuple[int, int], frame_hw: tuple[int, int]) -> np.ndarray:
    """Boxes in a letterboxed input of ``input_hw`` back to the frame, as Ultralytics' ``scale_boxes`` does it
    (the gain of each axis from the rounded resized size, padding subtracted first, then clipped); float32."""
    h0, w0 = frame_hw
    h1, w1 = input_hw
    gain = min(h1 / h0, w1 / w0)
    new_h, new_w = max(round(h0 * gain), 1), max(round(w0 * gain), 1)
    gain_y, gain_x = new_h / h0, new_w / w0
    pad_x, pad_y = round((w1 - new_w) / 2 - 0.1), round((h1 - new_h) / 2 - 0.1)
    out = np.array(boxes, np.float32).reshape(-1, 4)
    out[:, [0, 2]] -= np.float32(pad_x)
    out[:, [1, 3]] -= np.float32(pad_y)
    out[:, [0, 2]] /= np.float32(gain_x)
    out[:, [1, 3]] /= np.float32(gain_y)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w0)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h0)
    return out


def unletterbox(boxes: np.ndarray, ratio: float, pad: tuple[int, int], width: int, height: int) -> np.ndarray:
    """Boxes in a letterboxed image back to the original ``width x height`` image (clipped to it)."""
    out = (np.asarray(boxes, np.float32).reshape(-1, 4) - np.asarray([pad[0], pad[1], pad[0], pad[1]], np.float32))
    out /= max(ratio, 1e-12)
    return np.clip(out, 0, [width, height, width, height]).astype(np.float32)


def read_image(path: str) -> np.ndarray:
    """An image file as uint8 RGB, upright per its EXIF orientation (OpenCV applies it)."""
    data = np.fromfile(path, dtype=np.uint8)   # works with non-ASCII paths, unlike cv2.imread
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def hsv_jitter(img: np.ndarray, rng: np.random.Generator, h: float = 0.015, s: float = 0.7,
               v: float = 0.4) -> np.ndarray:
    """Random hue, saturation and value gains (YOLO's colour augmentation)."""
    gains = rng.uniform(-1, 1, 3) * [h, s, v] + 1
    hue, sat, val = cv2.split(cv2.cvtColor(img, cv2.COLOR_RGB2HSV))
    x = np.arange(256, dtype=np.float32)
    lut_h = ((x * gains[0]) % 180).astype(np.uint8)
    lut_s = np.clip(x * gains[1], 0, 255).astype(np.uint8)
    lut_v = np.clip(x * gains[2], 0, 255).astype(np.uint8)
    out = cv2.merge((cv2.LUT(hue, lut_h), cv2.LUT(sat, lut_s), cv2.LUT(val, lut_v)))
    return cv2.cvtColor(out, cv2.COLOR_HSV2RGB)


def hflip(img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = img.shape[1]
    out = boxes.copy()
    out[:, [0, 2]] = w - boxes[:, [2, 0]]
    return np.ascontiguousarray(img[:, ::-1]), out


def keep_boxes(before: np.ndarray, after: np.ndarray, min_size: float = 2.0, min_area_ratio: float = 0.2):
    """Mask of boxes worth keeping after a crop: not too thin, and not mostly cut away."""
    w, h = after[:, 2] - after[:, 0], after[:, 3] - after[:, 1]
    w0, h0 = before[:, 2] - before[:, 0], before[:, 3] - before[:, 1]
    return (w > min_size) & (h > min_size) & (w * h > min_area_ratio * np.maximum(w0 * h0, 1e-6))


def random_affine(img: np.ndarray, boxes: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator,
                  scale: tuple[float, float] = (0.5, 1.5), translate: float = 0.1, border: int = 0):
    """Scale jitter and translation into a ``size x size`` output (the input may be larger, e.g. a mosaic).

    ``border`` is the margin to crop away (``-size // 2`` for a ``2 * size`` mosaic canvas).
    """
    h, w = img.shape[:2]
    s = rng.uniform(*scale)
    # Centre the input on the origin, scale, then move to a random spot around the output centre.
    tx = rng.uniform(0.5 - translate, 0.5 + translate) * size
    ty = rng.uniform(0.5 - translate, 0.5 + translate) * size
    m = np.array([[s, 0, tx - s * w / 2], [0, s, ty - s * h / 2]], np.float32)
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR,
                         borderValue=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    if len(boxes):
        moved = boxes * s + np.array([m[0, 2], m[1, 2], m[0, 2], m[1, 2]], np.float32)
        clipped = np.clip(moved, 0, size)
        keep = keep_boxes(moved, clipped)
        boxes, labels = clipped[keep].astype(np.float32), labels[keep]
    return out, boxes, labels


def mosaic(items: list[tuple[np.ndarray, np.ndarray, np.ndarray]], size: int, rng: np.random.Generator):
    """Four images around a random centre on a ``2 * size`` canvas (YOLO's mosaic), before :func:`random_affine`.

    Each item is ``(image, boxes, labels)`` with the image already resized so its long side is ``size``.
    """
    s = size
    canvas = np.full((2 * s, 2 * s, 3), PAD_VALUE, np.uint8)
    xc, yc = (int(rng.uniform(0.5 * s, 1.5 * s)) for _ in range(2))
    all_boxes, all_labels = [], []
    for k, (img, boxes, labels) in enumerate(items):
        h, w = img.shape[:2]
        if k == 0:    # top left
            x1a, y1a, x2a, y2a = max(xc - w, 0), max(yc - h, 0), xc, yc
            x1b, y1b = w - (x2a - x1a), h - (y2a - y1a)
        elif k == 1:  # top right
            x1a, y1a, x2a, y2a = xc, max(yc - h, 0), min(xc + w, 2 * s), yc
            x1b, y1b = 0, h - (y2a - y1a)
        elif k == 2:  # bottom left
            x1a, y1a, x2a, y2a = max(xc - w, 0), yc, xc, min(2 * s, yc + h)
            x1b, y1b = w - (x2a - x1a), 0
        else:         # bottom right
            x1a, y1a, x2a, y2a = xc, yc, min(xc + w, 2 * s), min(2 * s, yc + h)
            x1b, y1b = 0, 0
        x2b, y2b = x1b + (x2a - x1a), y1b + (y2a - y1a)
        canvas[y1a:y2a, x1a:x2a] = img[y1b:y2b, x1b:x2b]
        if len(boxes):
            shifted = boxes + np.array([x1a - x1b, y1a - y1b, x1a - x1b, y1a - y1b], np.float32)
            all_boxes.append(shifted)
            all_labels.append(labels)
    if all_boxes:
        boxes = np.concatenate(all_boxes).astype(np.float32)
        labels = np.concatenate(all_labels)
        clipped = np.clip(boxes, 0, 2 * s)
        keep = keep_boxes(boxes, clipped)
        boxes, labels = clipped[keep], labels[keep]
    else:
        boxes, labels = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    return canvas, boxes, labels


def resize_long(img: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize so the long side is ``size``; boxes follow."""
    h, w = img.shape[:2]
    r = size / max(h, w)
    if abs(r - 1) > 1e-6:
        img = cv2.resize(img, (max(1, int(round(w * r))), max(1, int(round(h * r)))),
                         interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
        boxes = boxes * np.float32(r)
    return img, boxes
