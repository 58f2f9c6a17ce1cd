/** /api/v1/system in words: label and value rows for the Settings page and the About box. */
import { formatBytes } from './format';

type Report = Record<string, unknown>;

function record(value: unknown): Report {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Report) : {};
}

function text(value: unknown): string {
  return value === null || value === undefined || value === '' ? '' : String(value);
}

const GIB = 2 ** 30;
function gib(bytes: unknown): string {
  return typeof bytes === 'number' && bytes > 0 ? `${(bytes / GIB).toFixed(1)} GiB` : '';
}

export interface Fact {
  label: string;
  value: string;
}

/** Versions and the engine: what an About box and a bug report need. */
export function versionFacts(report: Report): Fact[] {
  const versions = record(report.versions);
  const server = record(report.llama_server);
  const engine =
    server.found === false
      ? 'not found'
      : [text(versions.llama_server) || 'version unknown', versions.backend ? `${text(versions.backend)} backend` : '']
          .filter(Boolean)
          .join(', ');
  return [
    { label: 'Hearth', value: text(versions.hearth) },
    { label: 'llama.cpp', value: text(versions.llama_cpp) },
    { label: 'llama-server', value: engine },
    { label: 'Python', value: text(versions.python) },
    { label: 'Platform', value: text(versions.platform) },
  ].filter((fact) => fact.value);
}

export function folderFacts(report: Report): Fact[] {
  const folders = record(report.directories);
  const names: [string, string][] = [
    ['data', 'Data folder'],
    ['models', 'Models folder'],
    ['logs', 'Logs folder'],
    ['cache', 'Cache folder'],
    ['database', 'Chat database'],
  ];
  return names.map(([key, label]) => ({ label, value: text(folders[key]) })).filter((fact) => fact.value);
}

export function hardwareFacts(report: Report): Fact[] {
  const hardware = record(report.hardware);
  const facts: Fact[] = [];
  if (hardware.cpu_model) {
    const cores = [hardware.physical_cores ? `${text(hardware.physical_cores)} cores` : '', hardware.logical_cores ? `${text(hardware.logical_cores)} threads` : '']
      .filter(Boolean)
      .join(', ');
    facts.push({ label: 'CPU', value: `${text(hardware.cpu_model)}${cores ? ` (${cores})` : ''}` });
  }
  if (gib(hardware.memory_total)) {
    const free = gib(hardware.memory_available);
    facts.push({ label: 'Memory', value: `${gib(hardware.memory_total)} total${free ? `, ${free} free` : ''}` });
  }
  const gpus = Array.isArray(hardware.gpus) ? hardware.gpus.map(record) : [];
  facts.push({
    label: gpus.length > 1 ? 'GPUs' : 'GPU',
    value: gpus.length
      ? gpus.map((gpu) => `${text(gpu.name)}${gib(gpu.memory_total) ? ` (${gib(gpu.memory_total)})` : ''}`).join('; ')
      : 'none detected (models run on the CPU)',
  });
  if (typeof report.disk_free_models === 'number') facts.push({ label: 'Free disk for models', value: formatBytes(report.disk_free_models) });
  const loaded = Array.isArray(report.loaded_models) ? report.loaded_models.map(record) : [];
  facts.push({ label: 'Loaded models', value: loaded.map((model) => text(model.name || model.model)).filter(Boolean).join(', ') || 'none' });
  return facts;
}
