/** The HTML report: one self-contained page (inline CSS and SVG, no scripts, nothing fetched). */
import type { ScenarioResult } from '../scenario/run.js';
import { formatSize } from '../sizes.js';
import { esc, iovaSvg, physicalSvg, swiotlbSvg, virtualSvg } from './svg.js';
import { formatScenarioText } from './text.js';

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1140px; color: #222; background: #fff; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 19px; margin-top: 36px; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 22px 0 6px; }
p.lead { color: #555; margin-top: 0; }
table.figures { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
table.figures th { text-align: left; font-weight: 600; padding: 3px 14px 3px 0; vertical-align: top; color: #444; white-space: nowrap; }
table.figures td { padding: 3px 0; }
.pass { color: #fff; background: #2e8540; padding: 1px 8px; border-radius: 3px; font-weight: 600; }
.fail { color: #fff; background: #c0392b; padding: 1px 8px; border-radius: 3px; font-weight: 600; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 12px; line-height: 1.35; }
figure { margin: 6px 0 18px; }
figcaption { font-size: 12px; color: #666; margin-top: 2px; }
nav a { margin-right: 12px; }
`;

function figures(r: ScenarioResult): string {
  const rows: [string, string][] = [
    ['result', `<span class="${r.passed ? 'pass' : 'fail'}">${r.passed ? 'PASS' : 'FAIL'}</span> ${r.intact ? 'every byte arrived intact' : 'data NOT intact'}`],
    ['machine', esc(`${r.arch}/${r.platform}, ${formatSize(r.memoryBytes)} RAM${r.iommuName === null ? '' : `, IOMMU ${r.iommuName}`}`)],
    ['ops per device', esc(r.devices.map((d) => `${d.name}: ${d.ops}`).join('; '))],
    ...r.workloads.map((w): [string, string] => [esc(`${w.kind} on ${w.device}`), esc(`${w.label} — ${w.good}/${w.done} ${w.unit} intact${w.error === null ? '' : `; error: ${w.error}`}`)]),
    ['bytes moved', esc(`devices read ${formatSize(r.bytesMoved.deviceRead)}, wrote ${formatSize(r.bytesMoved.deviceWritten)}`)],
    ['bounces', esc(r.swiotlb === null ? 'no swiotlb' : `${formatSize(r.swiotlb.bouncedToDevice)} to the device, ${formatSize(r.swiotlb.bouncedFromDevice)} from it (high water ${r.swiotlb.highWaterSlots} slots)`)],
    ['IOTLB', esc(r.iommu === null ? 'no IOMMU' : `${r.iommu.iotlbHits} hits, ${r.iommu.iotlbMisses} misses, ${r.iommu.faults} faults`)],
    ['vmalloc saved', esc(r.vmallocSaved === null ? '—' : formatSize(r.vmallocSaved))],
    ['dma-debug', esc(r.dmaDebug.length === 0 ? 'no findings' : [...new Set(r.dmaDebug.map((e) => e.kind))].join(', '))],
  ];
  return `<table class="figures">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function figure(svg: string, caption: string): string {
  return svg === '' ? '' : `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

export function formatHtmlReport(results: readonly ScenarioResult[], title = 'kdma report'): string {
  const sections = results.map((r, i) => {
    const snaps = r.snapshots;
    const labels = snaps.map((s) => s.label).join(', ');
    const vmalloc = virtualSvg(snaps, 'vmalloc');
    const consistent = virtualSvg(snaps, 'consistent');
    const iova = iovaSvg(snaps);
    const swiotlb = swiotlbSvg(snaps);
    return `<section id="s${i}">
<h2>${esc(r.name)}</h2>
${r.description === '' ? '' : `<p class="lead">${esc(r.description)}</p>`}
${figures(r)}
<h3>Physical memory</h3>
${figure(physicalSvg(snaps), `RAM regions with zones, CMA, the kernel image and the swiotlb pool; one row per snapshot (${labels}).`)}
<h3>vmalloc area</h3>
${figure(vmalloc, 'Kernel virtual mappings: vmalloc, vmap and the DMA remaps, each followed by its guard page.')}
${consistent === '' ? '' : `<h3>Consistent DMA area (ARM, 2011)</h3>${figure(consistent, 'The fixed consistent area of the 2011 ARM kernels.')}`}
<h3>IOVA space</h3>
${iova === '' ? '<p>No IOMMU DMA domain on this machine.</p>' : figure(iova, 'Allocated (and reserved) IOVA ranges of each DMA domain, on a window around them.')}
<h3>swiotlb slots</h3>
${swiotlb === '' ? '<p>No swiotlb pool on this machine.</p>' : figure(swiotlb, 'Each column is a group of 2 KiB slots, shaded by how many are in use; dashed lines separate the per-CPU areas.')}
<details><summary>Text report</summary><pre>${esc(formatScenarioText(r))}</pre></details>
</section>`;
  });
  const nav = results.map((r, i) => `<a href="#s${i}">${esc(r.name)}</a>`).join('');
  const passed = results.filter((r) => r.passed).length;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="lead">${results.length} scenario${results.length === 1 ? '' : 's'}, ${passed} passed. Pictures of the physical memory map, the vmalloc area, the IOVA space per domain and the swiotlb slots, before, during and after each scenario.</p>
<nav>${nav}</nav>
${sections.join('\n')}
</body>
</html>
`;
}
