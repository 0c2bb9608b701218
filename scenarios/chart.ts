// Charts of the scenarios: a Vega-Lite spec compiled to Vega and rendered headless to
// SVG (no canvas, no browser). Scenarios describe what to plot; this file owns the look.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

export type ChartSpec = TopLevelSpec;

/** The look every chart shares: readable legends (no truncated labels), one font. */
export const CONFIG = { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', legend: { labelLimit: 400, titleLimit: 400 } };

/** Renders a Vega-Lite spec (data inlined) to an SVG document. */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface LineChartOptions {
  title: string;
  /** Rows with at least the x, y and series fields. */
  data: Array<Record<string, unknown>>;
  x: { field: string; title: string; type?: 'ordinal' | 'quantitative'; sort?: unknown[]; log?: boolean };
  y: { field: string; title: string; log?: boolean };
  /** Field that splits the data into lines (one colour each). */
  series: { field: string; title: string; sort?: string[] };
  /** Optional field with an upper figure (p95) drawn as a tick above each point. */
  upper?: { field: string; title: string };
  subtitle?: string;
  width?: number;
  height?: number;
}

/** Medians as lines with points, p95 as ticks, one colour per measure. */
export function lineChart(o: LineChartOptions): ChartSpec {
  const x = {
    field: o.x.field,
    type: o.x.type ?? 'ordinal',
    title: o.x.title,
    ...(o.x.sort ? { sort: o.x.sort } : {}),
    ...(o.x.log ? { scale: { type: 'log' } } : {}),
    axis: { labelAngle: 0 },
  };
  const color = { field: o.series.field, type: 'nominal', title: o.series.title, ...(o.series.sort ? { sort: o.series.sort } : {}) };
  const y = { field: o.y.field, type: 'quantitative', title: o.y.title, ...(o.y.log ? { scale: { type: 'log' } } : {}) };
  const tooltip = [
    { field: o.series.field, title: o.series.title },
    { field: o.x.field, title: o.x.title },
    { field: o.y.field, title: o.y.title, format: '.3f' },
    ...(o.upper ? [{ field: o.upper.field, title: o.upper.title, format: '.3f' }] : []),
  ];
  const layers: unknown[] = [
    { mark: { type: 'line', point: { filled: true, size: 50 } }, encoding: { x, y, color, tooltip } },
  ];
  if (o.upper) {
    layers.push({
      mark: { type: 'tick', orient: 'horizontal', thickness: 2, size: 12, opacity: 0.7 },
      encoding: { x, y: { ...y, field: o.upper.field }, color },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.subtitle ? { text: o.title, subtitle: o.subtitle } : o.title,
    width: o.width ?? 520,
    height: o.height ?? 320,
    background: 'white',
    data: { values: o.data },
    layer: layers,
    config: CONFIG,
  } as ChartSpec;
}
