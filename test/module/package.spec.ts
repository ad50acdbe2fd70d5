import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
/** jest's own dependency; no types installed, so the two functions used are typed here. */
const semver = require('semver') as {
  satisfies(version: string, range: string): boolean;
  subset(sub: string, sup: string): boolean;
};

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
interface PackageJson {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  license: string;
  description: string;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

describe('peer dependencies', () => {
  it('accept reflect-metadata 0.1.x from 0.1.12 on, as Nest 11 and 12 do', () => {
    const range = pkg.peerDependencies['reflect-metadata'];
    for (const version of ['0.1.12', '0.1.14', '0.2.0', '0.2.2']) expect([version, semver.satisfies(version, range)]).toEqual([version, true]);
    expect(semver.satisfies('0.1.11', range)).toBe(false);
  });

  it('accept every version the installed Nest packages accept, for each peer they share with us', () => {
    for (const nest of ['@nestjs/common', '@nestjs/core', '@nestjs/websockets']) {
      const nestPkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', nest, 'package.json'), 'utf8')) as {
        version: string;
        peerDependencies: Record<string, string>;
      };
      for (const [peer, nestRange] of Object.entries(nestPkg.peerDependencies)) {
        const ours = pkg.peerDependencies[peer];
        if (ours === undefined) continue;
        // e.g. Nest 12.5 wants rxjs ^7.1.0: ours must include all of it.
        expect({ nest: `${nest}@${nestPkg.version}`, peer, ours, subset: semver.subset(nestRange, ours) }).toEqual({
          nest: `${nest}@${nestPkg.version}`,
          peer,
          ours,
          subset: true,
        });
      }
      // ... and the Nest package itself, so an app on this major can install us.
      expect(semver.satisfies(nestPkg.version, pkg.peerDependencies[nest])).toBe(true);
    }
  });

  it('declare @nestjs/event-emitter an optional peer (npm installs no optional peer) whose range holds the tested version', () => {
    const meta = (pkg as unknown as { peerDependenciesMeta?: Record<string, { optional?: boolean }> }).peerDependenciesMeta;
    expect(meta?.['@nestjs/event-emitter']).toEqual({ optional: true });
    const installed = JSON.parse(readFileSync(join(ROOT, 'node_modules/@nestjs/event-emitter/package.json'), 'utf8')) as { version: string };
    expect(semver.satisfies(installed.version, pkg.peerDependencies['@nestjs/event-emitter'])).toBe(true);
    expect(pkg.dependencies['@nestjs/event-emitter']).toBeUndefined();
  });

  it('accept both Nest majors the library is tested on', () => {
    for (const nest of ['@nestjs/common', '@nestjs/core', '@nestjs/websockets']) {
      expect(semver.satisfies('11.0.0', pkg.peerDependencies[nest])).toBe(true);
      expect(semver.satisfies('12.0.0', pkg.peerDependencies[nest])).toBe(true);
      expect(semver.satisfies('10.4.0', pkg.peerDependencies[nest])).toBe(false);
    }
  });
});

describe('the packed package (npm pack)', () => {
  // --ignore-scripts: list what is there, without running the build again (CI's `npm ci` ran it
  // through `prepare`; locally, `npm run build`).
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as { files: { path: string }[] }[];
  const files = new Set(packed[0].files.map((f) => f.path));

  it('holds the build, its types, the LICENSE and the README', () => {
    const wanted = ['dist/lib/index.js', 'dist/lib/index.d.ts', 'LICENSE', 'README.md', 'package.json'];
    const missing = wanted.filter((f) => !files.has(f));
    // No dist/ at all: the build has not run here (`npm ci` runs it through `prepare`).
    expect({ missing, hint: missing.length > 0 ? 'build first: npm run build' : '' }).toEqual({ missing: [], hint: '' });
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  it('has source maps whose sources are in the package too', () => {
    const maps = [...files].filter((f) => f.startsWith('dist/lib/') && f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const resolved = normalize(join(dirname(map), source)).split('\\').join('/');
        if (!files.has(resolved)) missing.push(`${map} → ${resolved}`);
      }
    }
    expect(missing).toEqual([]);
    // Each module points at its map.
    const js = [...files].filter((f) => f.startsWith('dist/lib/') && f.endsWith('.js'));
    const unmapped = js.filter((f) => !readFileSync(join(ROOT, f), 'utf8').includes(`//# sourceMappingURL=${f.split('/').pop()}.map`));
    expect(unmapped).toEqual([]);
  });

  it('has types whose imports resolve for an app: each package is a dependency or a peer, with its types', () => {
    // An app with skipLibCheck: false type-checks these .d.ts files: `import … from 'ws'` needs @types/ws.
    const typeFiles = [...files].filter((f) => f.endsWith('.d.ts'));
    const imported = new Set<string>();
    for (const f of typeFiles) {
      for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/(?:from '|import\(")([^.'"][^'"]*)['"]/g)) {
        if (m[1].startsWith('node:')) continue;
        imported.add(m[1].split('/').slice(0, m[1].startsWith('@') ? 2 : 1).join('/'));
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const name of imported) {
      if (pkg.peerDependencies[name] === undefined && pkg.dependencies[name] === undefined) problems.push(`${name}: not a dependency`);
      const own = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { types?: string; typings?: string };
      const hasTypes = own.types !== undefined || own.typings !== undefined || existsSync(join(ROOT, 'node_modules', name, 'index.d.ts'));
      if (!hasTypes && pkg.dependencies[`@types/${name}`] === undefined) problems.push(`${name}: @types/${name} is not a dependency`);
    }
    expect(problems).toEqual([]);
  });

  it('holds no tests, samples or benchmarks', () => {
    expect([...files].filter((f) => /^(test|sample|bench|dist\/(test|sample|bench))\//.test(f))).toEqual([]);
  });
});

describe('package.json description', () => {
  it('describes what exists: the simple broker and the relay', () => {
    expect(pkg.description).toMatch(/simple broker/);
    expect(pkg.description).toMatch(/broker relay to RabbitMQ/);
  });
});
