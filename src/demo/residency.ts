// The expert residency picture: one row per layer with routed experts, one cell per expert, colored by where the
// expert is (GPU, the worker's RAM, stored in IndexedDB, not downloaded yet) with the last token's
// picks outlined. Drawn on a canvas (6,144 cells for a 48 x 128 model); the counts per tier are
// also given as text, which is what a screen reader reads.
import type { WorkerStats } from '../client/index.ts';

type Residency = NonNullable<WorkerStats['residency']>;

/** Tier codes of WorkerStats.residency (3 GPU or, on the WASM backend, heap slots; 2 RAM, 1 stored,
 *  0 missing) and their colors. */
export const TIERS = [
  { name: 'not downloaded', color: 'transparent' },
  { name: 'stored', color: '#8c959f' },
  { name: 'in RAM', color: '#4493f8' },
  { name: 'on the GPU', color: '#2da44e' },
] as const;

/** How many experts are in each tier (index = tier code). */
export function tierCounts(r: Residency): number[] {
  const n = [0, 0, 0, 0];
  for (const t of r.tier) n[t]++;
  return n;
}

/** The counts as text; `top` names tier 3 (default 'on the GPU'; 'in the heap' on WASM). */
export function residencySummary(r: Residency, top: string = TIERS[3].name): string {
  const n = tierCounts(r);
  const picks = r.lastPicks.reduce((s, p) => s + p.length, 0);
  return `${r.layers.length} layers × ${r.nExpert} experts: ${[3, 2, 1, 0].map((t) => `${n[t]} ${t === 3 ? top : TIERS[t].name}`).join(', ')}` +
    (picks ? `; the last token's ${picks} picks outlined` : '');
}

export function drawResidency(canvas: HTMLCanvasElement, r: Residency): void {
  const cell = Math.max(3, Math.min(24, Math.floor(720 / r.nExpert)));
  const gap = cell >= 8 ? 2 : 1;
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = r.nExpert * cell * dpr;
  canvas.height = r.layers.length * cell * dpr;
  canvas.style.width = `${r.nExpert * cell}px`;
  canvas.style.height = `${r.layers.length * cell}px`;
  const g = canvas.getContext('2d');
  if (!g) return;
  g.scale(dpr, dpr);
  const line = getComputedStyle(canvas).getPropertyValue('--line').trim() || '#d0d7de';
  const fg = getComputedStyle(canvas).getPropertyValue('--fg').trim() || '#1b1f24';
  for (let l = 0; l < r.layers.length; l++) {
    for (let e = 0; e < r.nExpert; e++) {
      const t = r.tier[l * r.nExpert + e];
      const x = e * cell, y = l * cell, s = cell - gap;
      if (t === 0) {
        g.strokeStyle = line;
        g.lineWidth = 1;
        g.strokeRect(x + 0.5, y + 0.5, s - 1, s - 1);
      } else {
        g.fillStyle = TIERS[t].color;
        g.fillRect(x, y, s, s);
      }
    }
    for (const e of r.lastPicks[l] ?? []) {
      g.strokeStyle = fg;
      g.lineWidth = Math.max(1, cell / 6);
      g.strokeRect(e * cell + g.lineWidth / 2, l * cell + g.lineWidth / 2, cell - gap - g.lineWidth, cell - gap - g.lineWidth);
    }
  }
}
