// Writes the web app manifest's PNG icons (public/icons/) from the favicon's drawing
// (public/favicon.svg: a rounded dark square with four dots, the experts): 192 and 512 pixels, and
// a maskable pair whose background fills the square and whose dots sit inside the central 80%
// circle that launchers keep. Run again only if the drawing changes:
//
//   node bin/run-ts.mjs tools/build/icons.ts
//
// No image library: 4x4 supersampled coverage of a rounded rectangle and circles, then a PNG
// (8-bit RGBA, zlib) written by hand.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

type RGB = [number, number, number];
interface Circle { x: number; y: number; r: number; color: RGB }
interface Drawing { corner: number; background: RGB; dots: Circle[] }

const BLUE: RGB = [0x1f, 0x3a, 0x5f];
const GOLD: RGB = [0xf5, 0xb9, 0x42];
const GREEN: RGB = [0x6c, 0xc4, 0xa1];

/** In the favicon's 32x32 units. */
const ICON: Drawing = {
  corner: 6, background: BLUE,
  dots: [{ x: 10, y: 11, r: 4, color: GOLD }, { x: 22, y: 11, r: 4, color: GREEN }, { x: 10, y: 22, r: 4, color: GREEN }, { x: 22, y: 22, r: 4, color: GOLD }],
};
/** Full-bleed background; the dots drawn closer, all within 12.8 units (80% / 2) of the centre. */
const MASKABLE: Drawing = {
  corner: 0, background: BLUE,
  dots: [{ x: 11, y: 11.5, r: 3.2, color: GOLD }, { x: 21, y: 11.5, r: 3.2, color: GREEN }, { x: 11, y: 20.5, r: 3.2, color: GREEN }, { x: 21, y: 20.5, r: 3.2, color: GOLD }],
};

function insideRoundedSquare(x: number, y: number, corner: number): boolean {
  if (x < 0 || y < 0 || x > 32 || y > 32) return false;
  const cx = Math.min(Math.max(x, corner), 32 - corner);
  const cy = Math.min(Math.max(y, corner), 32 - corner);
  return (x - cx) ** 2 + (y - cy) ** 2 <= corner ** 2;
}

/** RGBA pixels, row by row. */
function render(d: Drawing, size: number): Uint8Array {
  const px = new Uint8Array(size * size * 4);
  const SS = 4;
  for (let py = 0; py < size; py++) {
    for (let pxi = 0; pxi < size; pxi++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const x = ((pxi + (sx + 0.5) / SS) * 32) / size;
          const y = ((py + (sy + 0.5) / SS) * 32) / size;
          if (!insideRoundedSquare(x, y, d.corner)) continue;
          const dot = d.dots.find((c) => (x - c.x) ** 2 + (y - c.y) ** 2 <= c.r ** 2);
          const c = dot?.color ?? d.background;
          r += c[0]; g += c[1]; b += c[2]; a += 1;
        }
      }
      const o = (py * size + pxi) * 4;
      if (a > 0) [px[o], px[o + 1], px[o + 2]] = [Math.round(r / a), Math.round(g / a), Math.round(b / a)];
      px[o + 3] = Math.round((255 * a) / (SS * SS));
    }
  }
  return px;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

function png(rgba: Uint8Array, size: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter set, no interlace
  const rows = Buffer.alloc(size * (size * 4 + 1)); // each row: filter byte 0, then the pixels
  for (let y = 0; y < size; y++) rows.set(rgba.subarray(y * size * 4, (y + 1) * size * 4), y * (size * 4 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', new Uint8Array(0)),
  ]);
}

const out = new URL('../../public/icons/', import.meta.url);
for (const [name, drawing, size] of [
  ['icon-192.png', ICON, 192], ['icon-512.png', ICON, 512],
  ['icon-maskable-192.png', MASKABLE, 192], ['icon-maskable-512.png', MASKABLE, 512],
] as const) {
  writeFileSync(new URL(name, out), png(render(drawing, size), size));
  console.log(`public/icons/${name}`);
}
