// The demo's model catalog, public/models/models.json (written by tools/train/to-gguf.ts).

export interface CatalogModel {
  id: string;
  /** File name under models/. */
  file: string;
  /** Bytes. */
  size: number;
  sha256?: string;
  architecture?: string;
  experts?: { count: number; used: number };
  quantization?: string;
  parameters?: number;
  contextLength?: number;
  description?: string;
}

/** The catalog's models with absolute URLs (served beside the page, under the site's base path). */
export async function loadCatalog(base = new URL(import.meta.env.BASE_URL, location.href)): Promise<(CatalogModel & { url: string })[]> {
  const url = new URL('models/models.json', base);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`the model catalog ${url.href} answered ${res.status}: the demo's public/models/ folder is not being served`);
  const json: { models?: CatalogModel[] } = await res.json();
  return (json.models ?? []).map((m) => ({ ...m, url: new URL(`models/${m.file}`, base).href }));
}
