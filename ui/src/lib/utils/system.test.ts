import { describe, expect, it } from 'vitest';
import { folderFacts, hardwareFacts, versionFacts } from './system';

const report = {
  versions: { hearth: '0.1.0', llama_cpp: 'llama-cpp-python 0.3.36', llama_server: 'b1', backend: 'cpu', python: '3.11', platform: 'Linux' },
  directories: { data: '/home/a/.local/share/Hearth', models: '/m', logs: '/l', cache: '/c', database: '/d/hearth.db' },
  llama_server: { found: true },
  hardware: { cpu_model: 'Xeon', physical_cores: 2, logical_cores: 4, memory_total: 8 * 2 ** 30, memory_available: 2 ** 30, gpus: [] },
  disk_free_models: 10 * 2 ** 30,
  loaded_models: [{ name: 'gemma3:270m' }],
};

describe('system facts', () => {
  it('says the report in words, not JSON', () => {
    expect(versionFacts(report).map((fact) => `${fact.label}: ${fact.value}`)).toContain('llama-server: b1, cpu backend');
    expect(folderFacts(report)[0]).toEqual({ label: 'Data folder', value: '/home/a/.local/share/Hearth' });
    const hardware = Object.fromEntries(hardwareFacts(report).map((fact) => [fact.label, fact.value]));
    expect(hardware).toMatchObject({ CPU: 'Xeon (2 cores, 4 threads)', Memory: '8.0 GiB total, 1.0 GiB free', 'Loaded models': 'gemma3:270m' });
    expect(hardware.GPU).toContain('none detected');
  });

  it('copes with a missing engine and an empty report', () => {
    expect(versionFacts({ llama_server: { found: false } })).toEqual([{ label: 'llama-server', value: 'not found' }]);
    expect(folderFacts({})).toEqual([]);
  });
});
