// Draws Instant JSON annotations as SVG, in the page's own space: points from the top-left
// corner of the unrotated CropBox, as the records hold them (the page's <g> turns them with
// the page's rotation). Pure functions of a record; the console decides when to call them.

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element with attributes. */
export function svg(name, attributes = {}) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(key, String(value));
  }
  return element;
}

const shortType = (content) => String(content.type ?? "").split("/").at(-1);

/** The transform that turns page space into the rotated page as shown. */
export function rotation(width, height, degrees) {
  switch (((degrees % 360) + 360) % 360) {
    case 90: return `translate(${height} 0) rotate(90)`;
    case 180: return `translate(${width} ${height}) rotate(180)`;
    case 270: return `translate(0 ${width}) rotate(270)`;
    default: return "";
  }
}

const textOf = (content) => {
  const text = content.text;
  return typeof text === "string" ? text : (text?.value ?? "");
};

function box(content) {
  const [left, top, width, height] = content.bbox ?? [0, 0, 0, 0];
  return { left, top, width, height };
}

function stroked(content, colorKey = "strokeColor", widthKey = "strokeWidth") {
  return {
    stroke: content[colorKey] ?? "#2D6BE4",
    "stroke-width": content[widthKey] ?? 1,
    "stroke-dasharray": content.strokeDashArray?.join(" "),
    fill: "none",
  };
}

const pointList = (points) => (points ?? []).map(([x, y]) => `${x},${y}`).join(" ");

const DRAW = {
  note(content, group) {
    const { left, top, width, height } = box(content);
    const size = Math.max(12, Math.min(width || 24, height || 24));
    group.append(svg("rect", { x: left, y: top, width: size, height: size, rx: 3,
      fill: content.color ?? "#FFD83F", stroke: "#6b5600", "stroke-width": 1 }));
    for (const line of [0.3, 0.5, 0.7]) {
      group.append(svg("line", { x1: left + size * 0.2, x2: left + size * 0.8,
        y1: top + size * line, y2: top + size * line, stroke: "#6b5600", "stroke-width": 1 }));
    }
  },
  highlight(content, group) {
    for (const [x, y, w, h] of content.rects ?? []) {
      group.append(svg("rect", { x, y, width: w, height: h, fill: content.color ?? "#FFFF00",
        "fill-opacity": 0.45, class: "multiply" }));
    }
  },
  underline(content, group) { markupLine(content, group, 0.95, false); },
  strikeout(content, group) { markupLine(content, group, 0.5, false); },
  squiggly(content, group) { markupLine(content, group, 0.95, true); },
  ink(content, group) {
    for (const line of content.lines?.points ?? []) {
      group.append(svg("polyline", { points: pointList(line), fill: "none",
        stroke: content.strokeColor ?? "#2D6BE4", "stroke-width": content.lineWidth ?? 2,
        "stroke-linecap": "round", "stroke-linejoin": "round" }));
    }
  },
  rectangle(content, group) {
    const { left, top, width, height } = box(content);
    const inset = (content.strokeWidth ?? 1) / 2;
    group.append(svg("rect", { x: left + inset, y: top + inset,
      width: Math.max(0, width - 2 * inset), height: Math.max(0, height - 2 * inset),
      ...stroked(content), fill: content.fillColor ?? "none" }));
  },
  ellipse(content, group) {
    const { left, top, width, height } = box(content);
    const inset = (content.strokeWidth ?? 1) / 2;
    group.append(svg("ellipse", { cx: left + width / 2, cy: top + height / 2,
      rx: Math.max(0, width / 2 - inset), ry: Math.max(0, height / 2 - inset),
      ...stroked(content), fill: content.fillColor ?? "none" }));
  },
  line(content, group) {
    const [x1, y1] = content.startPoint ?? [0, 0];
    const [x2, y2] = content.endPoint ?? [0, 0];
    group.append(svg("line", { x1, y1, x2, y2, ...stroked(content) }));
  },
  polyline(content, group) {
    group.append(svg("polyline", { points: pointList(content.points), ...stroked(content) }));
  },
  polygon(content, group) {
    group.append(svg("polygon", { points: pointList(content.points), ...stroked(content),
      fill: content.fillColor ?? "none" }));
  },
  text(content, group) {
    const { left, top, width, height } = box(content);
    group.append(svg("rect", { x: left, y: top, width, height,
      fill: content.fillColor ?? "none", stroke: content.borderColor ?? "none" }));
    const size = content.fontSize ?? 12;
    const lines = textOf(content).split("\n");
    const text = svg("text", { x: left + 2, y: top + size, "font-size": size,
      "font-family": "Helvetica, Arial, sans-serif", fill: content.fontColor ?? "#000000" });
    lines.forEach((line, n) => {
      const span = svg("tspan", { x: left + 2, dy: n === 0 ? 0 : size * 1.2 });
      span.textContent = line;
      text.append(span);
    });
    group.append(text);
  },
  stamp(content, group) {
    const { left, top, width, height } = box(content);
    const color = content.color ?? "#C0392B";
    group.append(svg("rect", { x: left + 1, y: top + 1, width: Math.max(0, width - 2),
      height: Math.max(0, height - 2), rx: 4, fill: "none", stroke: color, "stroke-width": 2 }));
    const label = svg("text", { x: left + width / 2, y: top + height / 2,
      "text-anchor": "middle", "dominant-baseline": "central", fill: color,
      "font-size": Math.max(6, Math.min(height * 0.5, 18)), "font-weight": "bold",
      "font-family": "Helvetica, Arial, sans-serif" });
    label.textContent = content.title ?? content.stampType ?? "Stamp";
    group.append(label);
  },
  image(content, group, context) {
    const { left, top, width, height } = box(content);
    const href = context?.imageUrl?.(content.imageAttachmentId);
    if (href) {
      group.append(svg("image", { x: left, y: top, width, height, href,
        preserveAspectRatio: "none" }));
    } else {
      group.append(svg("rect", { x: left, y: top, width, height, fill: "#e8e8e8",
        stroke: "#999" }));
    }
  },
  link(content, group) {
    const { left, top, width, height } = box(content);
    group.append(svg("rect", { x: left, y: top, width, height, fill: "#2D6BE4",
      "fill-opacity": 0.08, stroke: "#2D6BE4", "stroke-dasharray": "3 2" }));
  },
  redaction(content, group) {
    const rects = content.rects?.length ? content.rects : [content.bbox ?? [0, 0, 0, 0]];
    for (const [x, y, w, h] of rects) {
      group.append(svg("rect", { x, y, width: w, height: h, fill: content.fillColor ?? "none",
        stroke: content.outlineColor ?? "#E00000", "stroke-width": 1.5 }));
    }
  },
};

function markupLine(content, group, at, wavy) {
  const color = content.color ?? "#E00000";
  for (const [x, y, w, h] of content.rects ?? []) {
    const base = y + h * at;
    if (!wavy) {
      group.append(svg("line", { x1: x, x2: x + w, y1: base, y2: base, stroke: color,
        "stroke-width": Math.max(1, h * 0.07) }));
      continue;
    }
    const step = Math.max(2, h * 0.15);
    const points = [];
    for (let dx = 0, up = true; dx <= w; dx += step, up = !up) {
      points.push([x + dx, base + (up ? -step / 2 : step / 2)]);
    }
    group.append(svg("polyline", { points: pointList(points), fill: "none", stroke: color,
      "stroke-width": 1 }));
  }
}

/** Any other type (widget, comment marker, media, …): its box, dashed. */
function drawOther(content, group) {
  const { left, top, width, height } = box(content);
  group.append(svg("rect", { x: left, y: top, width, height, fill: "none", stroke: "#888",
    "stroke-dasharray": "2 2" }));
}

/**
 * One annotation as an SVG group carrying its id and type; `context.imageUrl(id)` gives
 * the URL of an image attachment (or null while it loads).
 */
export function drawAnnotation(content, context) {
  const type = shortType(content);
  const group = svg("g", { "data-id": content.id, "data-type": type, class: "annotation",
    opacity: content.opacity ?? 1 });
  try {
    (DRAW[type] ?? drawOther)(content, group, context);
  } catch { // a record this code cannot draw is its box, never a page that stops drawing
    group.replaceChildren();
    drawOther(content, group);
  }
  if (content.bbox) { // what a click may pick it by, drawn or not (an unfilled shape too)
    const [x, y, width, height] = content.bbox;
    group.append(svg("rect", { x, y, width, height, class: "hit" }));
  }
  if (content.hidden || content.flags?.includes?.("hidden")) group.setAttribute("display", "none");
  return group;
}

/** The box of an annotation in page space (from its points when its bbox is missing). */
export function boundsOf(content) {
  if (content.bbox) return box(content);
  return { left: 0, top: 0, width: 0, height: 0 };
}

/** The content moved by (dx, dy): its box and every point it holds. */
export function moved(content, dx, dy) {
  const shift = ([x, y, ...rest]) => [x + dx, y + dy, ...rest];
  const next = structuredClone(content);
  if (next.bbox) next.bbox = shift(next.bbox);
  if (next.rects) next.rects = next.rects.map(shift);
  if (next.startPoint) next.startPoint = shift(next.startPoint);
  if (next.endPoint) next.endPoint = shift(next.endPoint);
  if (next.points) next.points = next.points.map(shift);
  if (next.lines?.points) next.lines.points = next.lines.points.map((line) => line.map(shift));
  if (next.callout) {
    for (const key of ["start", "knee", "end"]) {
      if (next.callout[key]) next.callout[key] = shift(next.callout[key]);
    }
  }
  return next;
}

/** The smallest bbox around points, widened by half a stroke. */
export function bboxAround(points, stroke = 0) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const left = Math.min(...xs) - stroke / 2;
  const top = Math.min(...ys) - stroke / 2;
  return [left, top, Math.max(...xs) - Math.min(...xs) + stroke,
    Math.max(...ys) - Math.min(...ys) + stroke];
}
