"""SVG layout checks shared by the chart tests: where each label lands, estimated without a renderer.

A label's width is estimated at 7 px per character at font-size 12 (sans-serif averages ~6.5), placed
by its text-anchor; its height is the font size above the baseline and a quarter of it below.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
CHAR_PX = 7.0


def canvas(root: ET.Element) -> tuple[float, float]:
    """(width, height) of the canvas; the viewBox, when there is one, must agree with width and height."""
    width, height = float(root.get("width", "nan")), float(root.get("height", "nan"))
    if root.get("viewBox"):
        x, y, vw, vh = (float(v) for v in root.get("viewBox", "").split())
        assert (x, y, vw, vh) == (0, 0, width, height), root.get("viewBox")
    return width, height


def visible_text(el: ET.Element) -> str:
    """The text a <text> element shows: its own text and its children's, less <title> tooltips."""
    out = [el.text or ""]
    for child in el:
        if child.tag != SVG + "title":
            out.append(visible_text(child))
        out.append(child.tail or "")
    return "".join(out)


def label_boxes(svg: str) -> list[tuple[str, float, float, float, float]]:
    """(label, left, top, right, bottom) of every <text> element, by the estimate above."""
    root = ET.fromstring(svg)
    base = float(root.get("font-size", "16"))
    boxes = []
    for el in root.iter(SVG + "text"):
        label, size = visible_text(el), float(el.get("font-size", base))
        x, y, w = float(el.get("x", "0")), float(el.get("y", "0")), len(label) * CHAR_PX * size / 12
        left = {"middle": x - w / 2, "end": x - w}.get(el.get("text-anchor", "start"), x)
        boxes.append((label, left, y - size, left + w, y + size / 4))
    return boxes


def labels_outside(svg: str) -> list[str]:
    """Labels (with their boxes) that leave the canvas; [] when every label is inside."""
    width, height = canvas(ET.fromstring(svg))
    return [f"{label!r} at ({x0:.0f},{y0:.0f})-({x1:.0f},{y1:.0f}) in {width:.0f}x{height:.0f}"
            for label, x0, y0, x1, y1 in label_boxes(svg)
            if x0 < 0 or y0 < 0 or x1 > width or y1 > height]


def background(svg: str) -> ET.Element | None:
    """The opaque rect that covers the whole canvas, drawn first; None when there is none."""
    root = ET.fromstring(svg)
    width, height = canvas(root)
    first = next(iter(root), None)
    if (first is not None and first.tag == SVG + "rect" and float(first.get("x", 0)) <= 0
            and float(first.get("y", 0)) <= 0 and float(first.get("width", 0)) >= width
            and float(first.get("height", 0)) >= height and first.get("fill", "none") not in ("none", "transparent")
            and float(first.get("fill-opacity", 1)) == 1):
        return first
    return None
