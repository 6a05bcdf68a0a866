/**
 * Geometry of the toy world: the shapes parts are made of, and their pixel coverage.
 * Coverage is measured by 4×4 supersampling inside each pixel, so edges are antialiased and a
 * shape touches only the pixels its outline crosses.
 */

export type Vec2 = [number, number];
export type RGB = [number, number, number];

export type Shape =
  | { type: "ellipse"; cx: number; cy: number; rx: number; ry: number; angle: number }
  | { type: "rect"; cx: number; cy: number; w: number; h: number; angle: number }
  | { type: "polygon"; points: Vec2[] }
  | { type: "segment"; x1: number; y1: number; x2: number; y2: number; width: number };

/** A shape filled with one colour; `clip` restricts it to the inside of another shape. */
export interface Primitive {
  shape: Shape;
  color: RGB;
  /** 0..1, default 1. */
  opacity?: number;
  clip?: Shape;
}

export const SUPERSAMPLE = 4;

/** True when the point (x, y), in pixel units (pixel i covers [i, i+1)), is inside the shape. */
export function inside(shape: Shape, x: number, y: number): boolean {
  switch (shape.type) {
    case "ellipse": {
      const c = Math.cos(shape.angle);
      const s = Math.sin(shape.angle);
      const dx = x - shape.cx;
      const dy = y - shape.cy;
      const u = (dx * c + dy * s) / shape.rx;
      const v = (-dx * s + dy * c) / shape.ry;
      return u * u + v * v <= 1;
    }
    case "rect": {
      const c = Math.cos(shape.angle);
      const s = Math.sin(shape.angle);
      const dx = x - shape.cx;
      const dy = y - shape.cy;
      const u = dx * c + dy * s;
      const v = -dx * s + dy * c;
      return Math.abs(u) <= shape.w / 2 && Math.abs(v) <= shape.h / 2;
    }
    case "polygon": {
      // even–odd rule
      let inPoly = false;
      const pts = shape.points;
      for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
        const [xi, yi] = pts[i]!;
        const [xj, yj] = pts[j]!;
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inPoly = !inPoly;
      }
      return inPoly;
    }
    case "segment": {
      const vx = shape.x2 - shape.x1;
      const vy = shape.y2 - shape.y1;
      const len2 = vx * vx + vy * vy;
      let t = len2 > 0 ? ((x - shape.x1) * vx + (y - shape.y1) * vy) / len2 : 0;
      t = Math.max(0, Math.min(1, t));
      const px = shape.x1 + t * vx - x;
      const py = shape.y1 + t * vy - y;
      return px * px + py * py <= (shape.width / 2) ** 2;
    }
  }
}

/** Axis-aligned bounds [x0, y0, x1, y1] (pixel units, unclipped) of a shape. */
export function bounds(shape: Shape): [number, number, number, number] {
  switch (shape.type) {
    case "ellipse": {
      const r = Math.max(shape.rx, shape.ry);
      return [shape.cx - r, shape.cy - r, shape.cx + r, shape.cy + r];
    }
    case "rect": {
      const r = Math.hypot(shape.w, shape.h) / 2;
      return [shape.cx - r, shape.cy - r, shape.cx + r, shape.cy + r];
    }
    case "polygon": {
      const xs = shape.points.map((p) => p[0]);
      const ys = shape.points.map((p) => p[1]);
      return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    }
    case "segment": {
      const r = shape.width / 2;
      return [
        Math.min(shape.x1, shape.x2) - r,
        Math.min(shape.y1, shape.y2) - r,
        Math.max(shape.x1, shape.x2) + r,
        Math.max(shape.y1, shape.y2) + r,
      ];
    }
  }
}

/**
 * Calls `visit(index, coverage)` for every pixel of a size×size image that the primitive covers
 * (coverage in (0, 1], the fraction of its subsamples inside the shape and inside the clip).
 */
export function forEachCovered(prim: Primitive, size: number, visit: (index: number, coverage: number) => void): void {
  let [x0, y0, x1, y1] = bounds(prim.shape);
  if (prim.clip) {
    const [cx0, cy0, cx1, cy1] = bounds(prim.clip);
    x0 = Math.max(x0, cx0);
    y0 = Math.max(y0, cy0);
    x1 = Math.min(x1, cx1);
    y1 = Math.min(y1, cy1);
  }
  const px0 = Math.max(0, Math.floor(x0));
  const py0 = Math.max(0, Math.floor(y0));
  const px1 = Math.min(size - 1, Math.floor(x1));
  const py1 = Math.min(size - 1, Math.floor(y1));
  const n = SUPERSAMPLE;
  for (let py = py0; py <= py1; py++) {
    for (let px = px0; px <= px1; px++) {
      let hits = 0;
      for (let sy = 0; sy < n; sy++) {
        const y = py + (sy + 0.5) / n;
        for (let sx = 0; sx < n; sx++) {
          const x = px + (sx + 0.5) / n;
          if (inside(prim.shape, x, y) && (!prim.clip || inside(prim.clip, x, y))) hits++;
        }
      }
      if (hits > 0) visit(py * size + px, hits / (n * n));
    }
  }
}
