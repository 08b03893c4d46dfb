"""Registration: where each point of the sheet's page lies in a scan of it.

A map from page points (origin top-left, y down, 1 pt = 1/72 in) to scan pixels is an affine
transform (2 × 3): a flatbed or feeder scan has no perspective, only position, scale (the
scan's resolution), rotation (any multiple of 90°, plus a few degrees of skew) and at most a
little shear from the feeder. It is found in two steps:

1. **From the QR code's corners.** The layout says where the code was drawn; zxing-cpp says
   where its four corners are in the scan, in the symbol's own orientation, so the rotation
   is known whatever way up the page was scanned. This alone places the code exactly but
   extrapolates: a one-pixel error over the 15 mm code is 2-4 mm at the far end of the page.
2. **From the page's own print.** The blank layout (the background every sheet of that layout
   shares: rules, labels, boxes) is compared with the scan mapped by the first estimate, patch
   by patch (normalised cross-correlation at 50 dpi, sub-pixel peaks), first near the code and
   then over the whole page with a narrower search; each patch's offset is one more point pair,
   and a least-squares fit without outliers gives the final map. Values stamped on the sheet
   and the applicant's ink are not in the blank layout; they only lower the correlation a little.

:func:`warp` then cuts any page rectangle out of the scan at any resolution through the map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

MM = 72 / 25.4  # points per millimetre
SEARCH_DPI = 50.0
PATCH_MM = 24.0
MIN_SCORE = 0.45
MIN_PATCHES = 4
MAX_PATCHES = 28
CELL_MM = 60.0

Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Registration:
    """The map from page points to scan pixels, and how well the print confirmed it."""

    matrix: Array          # 2 × 3: scan = matrix @ (x, y, 1)
    patches: int           # patches of the blank layout that confirmed it (0: the code only)
    residual_mm: float     # RMS distance of those patches from the fitted map
    scale: float           # scan pixels per page point (dpi / 72)
    rotation: float        # degrees, counter-clockwise, of the page in the scan

    @property
    def dpi(self) -> float:
        return self.scale * 72

    def as_dict(self) -> dict[str, Any]:
        return {"method": "code+print" if self.patches else "code", "patches": self.patches,
                "residual_mm": round(self.residual_mm, 2), "dpi": round(self.dpi),
                "rotation": round(self.rotation, 1)}


def fit_affine(page: Array, scan: Array) -> Array:
    """The least-squares affine map taking ``page`` points (N × 2) onto ``scan`` points."""
    design = np.hstack([page, np.ones((len(page), 1))])
    solution, *_ = np.linalg.lstsq(design, scan, rcond=None)
    return np.asarray(solution.T, dtype=np.float64)


def apply(matrix: Array, points: Array) -> Array:
    return np.asarray(points @ matrix[:, :2].T + matrix[:, 2], dtype=np.float64)


def warp(image: Image, matrix: Array, origin: tuple[float, float], size: tuple[float, float],
         dpi: float) -> Image:
    """The page rectangle at ``origin`` (pt) of ``size`` (pt), cut out of the scan at ``dpi``."""
    from PIL import Image as PILImage

    step = 72 / dpi
    out = (max(1, round(size[0] / step)), max(1, round(size[1] / step)))
    (a, b, c), (d, e, f) = matrix.tolist()
    x0, y0 = origin
    data = (a * step, b * step, a * x0 + b * y0 + c, d * step, e * step, d * x0 + e * y0 + f)
    fill: Any = "white"
    return image.transform(out, PILImage.Transform.AFFINE, data,
                           resample=PILImage.Resampling.BILINEAR, fillcolor=fill)


def darkness(image: Image) -> Array:
    """0 (paper) to 1 (black) per pixel."""
    return 1.0 - np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def register(image: Image, page_corners: Array, scan_corners: Array, blank: Array,
             page_size: tuple[float, float]) -> Registration:
    """Register a scan: from the code's corners, then refined against the blank layout.

    ``blank`` is the layout's background page rendered at :data:`SEARCH_DPI` as darkness.
    """
    matrix = fit_affine(page_corners, scan_corners)
    centre = page_corners.mean(axis=0)
    used = 0
    residual = 0.0
    grey = image.convert("L")
    # Near the code first, where its estimate is good; then the whole page, searching less.
    for reach_mm, step_mm, search_mm in ((110.0, 12.0, 6.0), (400.0, 24.0, 2.5)):
        pairs = _match_patches(grey, matrix, blank, page_size, centre, reach_mm, step_mm,
                               search_mm)
        if len(pairs) < MIN_PATCHES:
            break
        page_pts = np.array([p for p, _ in pairs])
        scan_pts = np.array([s for _, s in pairs])
        refined, kept, residual = _robust_fit(page_pts, scan_pts)
        if kept < MIN_PATCHES:
            break
        matrix, used = refined, kept
    return _describe(matrix, used, residual)


def _describe(matrix: Array, patches: int, residual: float) -> Registration:
    # The page's x axis in the scan gives rotation; the mean column length gives the scale.
    x_axis = matrix[:, 0]
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    rotation = float(np.degrees(np.arctan2(-x_axis[1], x_axis[0])))
    return Registration(matrix, patches, residual, scale, rotation)


def _robust_fit(page: Array, scan: Array) -> tuple[Array, int, float]:
    """Fit, drop pairs far from the fit (a patch matched to the wrong table row), refit."""
    keep = np.ones(len(page), dtype=bool)
    matrix = fit_affine(page, scan)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    for _ in range(3):
        errors = np.linalg.norm(apply(matrix, page) - scan, axis=1) / scale / MM
        limit = max(0.6, 2.5 * float(np.median(errors[keep])))
        new_keep = errors <= limit
        if new_keep.sum() < MIN_PATCHES or (new_keep == keep).all():
            break
        keep = new_keep
        matrix = fit_affine(page[keep], scan[keep])
    errors = np.linalg.norm(apply(matrix, page[keep]) - scan[keep], axis=1) / scale / MM
    return matrix, int(keep.sum()), float(np.sqrt(np.mean(errors ** 2)))


def _match_patches(image: Image, matrix: Array, blank: Array, page_size: tuple[float, float],
                   centre: Array, reach_mm: float, step_mm: float, search_mm: float
                   ) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(page point, scan point) pairs from patches of the blank layout found in the scan."""
    step = 72 / SEARCH_DPI  # pt per search pixel
    scan = darkness(warp(image, matrix, (0.0, 0.0), page_size, SEARCH_DPI))
    height, width = min(scan.shape[0], blank.shape[0]), min(scan.shape[1], blank.shape[1])
    size = round(PATCH_MM * MM / step)
    radius = max(2, round(search_mm * MM / step))
    stride = round(step_mm * MM / step)
    # Window sums of the scan and of its square, for every patch at once (integral images).
    integral = np.pad(scan.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))
    integral2 = np.pad((scan * scan).cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))
    span = 2 * radius + 1
    candidates = []
    for top in range(radius, height - size - radius, stride):
        for left in range(radius, width - size - radius, stride):
            middle = np.array([(left + size / 2) * step, (top + size / 2) * step])
            if np.linalg.norm(middle - centre) > reach_mm * MM:
                continue
            template = blank[top:top + size, left:left + size]
            ink = template.mean()
            if not 0.02 < ink < 0.5 or template.std() < 0.08:
                continue  # empty paper or a solid block: nothing to lock on to
            candidates.append((float(template.std()), top, left, middle, template - ink))
    pairs = []
    for _, top, left, middle, template in _spread(candidates, MAX_PATCHES):
        y0, x0 = top - radius, left - radius
        region = scan[y0:y0 + size + 2 * radius, x0:x0 + size + 2 * radius]
        sums = _window_sums(integral, y0, x0, size, span)
        squares = _window_sums(integral2, y0, x0, size, span)
        variance = squares - sums * sums / (size * size)
        # Correlation with the template at every offset, through the FFT (no wrap-around
        # reaches the offsets kept: the region is the template plus the search on each side).
        product = np.fft.rfft2(region) * np.conj(np.fft.rfft2(template, s=region.shape))
        correlation = np.fft.irfft2(product, s=region.shape)[:span, :span]
        score = correlation / np.sqrt(
            np.maximum(variance, 1e-9) * float((template ** 2).sum()))
        iy, ix = (int(i) for i in np.unravel_index(int(np.argmax(score)), score.shape))
        best = float(score[iy, ix])
        if best < MIN_SCORE or iy in (0, score.shape[0] - 1) or ix in (0, score.shape[1] - 1):
            continue  # weak, or at the edge of the search: the true peak may lie beyond
        second = _second_peak(score, iy, ix)
        if second > best - 0.05:
            continue  # ambiguous: repeated rows or columns look alike
        dy = iy - radius + _subpixel(score[iy - 1, ix], best, score[iy + 1, ix])
        dx = ix - radius + _subpixel(score[iy, ix - 1], best, score[iy, ix + 1])
        shifted = middle + np.array([dx, dy]) * step
        target = apply(matrix, shifted[None, :])[0]
        pairs.append(((float(middle[0]), float(middle[1])),
                      (float(target[0]), float(target[1]))))
    return pairs


def _spread(candidates: list[Any], count: int) -> list[Any]:
    """Up to ``count`` patches, the most structured (text and rules lock on best) of each part
    of the page in turn: points spread over the page fix rotation and scale best."""
    cells: dict[tuple[int, int], list[Any]] = {}
    for candidate in sorted(candidates, key=lambda c: -c[0]):
        middle = candidate[3]
        cell = (int(middle[0] // (CELL_MM * MM)), int(middle[1] // (CELL_MM * MM)))
        cells.setdefault(cell, []).append(candidate)
    chosen: list[Any] = []
    while len(chosen) < count and any(cells.values()):
        for queue in cells.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def _window_sums(integral: Array, top: int, left: int, size: int, span: int) -> Array:
    """Sums of the size × size windows at offsets 0..span-1 from (top, left), from an
    integral image (padded with a leading row and column of zeros)."""
    rows = slice(top, top + span)
    cols = slice(left, left + span)
    rows_end = slice(top + size, top + size + span)
    cols_end = slice(left + size, left + size + span)
    return np.asarray(integral[rows_end, cols_end] - integral[rows, cols_end]
                      - integral[rows_end, cols] + integral[rows, cols])


def _second_peak(score: Array, iy: int, ix: int) -> float:
    """The best score 4 search pixels (2 mm) or more from the peak."""
    masked = score.copy()
    masked[max(0, iy - 3):iy + 4, max(0, ix - 3):ix + 4] = -1.0
    return float(masked.max()) if masked.size else -1.0


def _subpixel(before: float, peak: float, after: float) -> float:
    """The vertex of the parabola through three scores around a peak, as an offset."""
    denominator = before - 2 * peak + after
    if denominator >= 0:
        return 0.0
    return float(np.clip(0.5 * (before - after) / denominator, -0.5, 0.5))
