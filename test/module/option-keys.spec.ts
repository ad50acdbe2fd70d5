import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { OPTION_OBJECTS, unknownOptionProblems } from '../../lib/module/option-keys.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';

const OPTIONS_FILE = new URL('../../lib/module/stomp-options.ts', import.meta.url);
/** Declarations in stomp-options.ts that are not option objects (what `authenticate` sees and returns). */
const NOT_OPTION_OBJECTS = ['StompConnectRequest', 'StompConnectDecision'];

/**
 * Reads stomp-options.ts and walks StompModuleOptions: every property whose type names an
 * interface of that file (directly, through a type alias, a union or an array) is an object of
 * options at `path` (`[]` for array elements). Returns path → the interface's keys.
 */
function declaredOptionObjects(): { objects: Map<string, string[]>; declarations: string[]; reached: Set<string> } {
  const source = ts.createSourceFile('stomp-options.ts', readFileSync(OPTIONS_FILE, 'utf8'), ts.ScriptTarget.Latest, true);
  const interfaces = new Map<string, ts.InterfaceDeclaration>();
  const aliases = new Map<string, ts.TypeNode>();
  for (const statement of source.statements) {
    if (ts.isInterfaceDeclaration(statement)) interfaces.set(statement.name.text, statement);
    if (ts.isTypeAliasDeclaration(statement)) aliases.set(statement.name.text, statement.type);
  }
  const reached = new Set<string>();
  const objects = new Map<string, string[]>();
  const objectTypes = (type: ts.TypeNode, array = false): { name: string; array: boolean }[] => {
    if (ts.isParenthesizedTypeNode(type)) return objectTypes(type.type, array);
    if (ts.isArrayTypeNode(type)) return objectTypes(type.elementType, true);
    if (ts.isUnionTypeNode(type)) return type.types.flatMap((t) => objectTypes(t, array));
    if (ts.isTypeReferenceNode(type) && ts.isIdentifier(type.typeName)) {
      const name = type.typeName.text;
      if (interfaces.has(name)) return [{ name, array }];
      const alias = aliases.get(name);
      if (alias) {
        reached.add(name);
        return objectTypes(alias, array);
      }
    }
    return [];
  };
  const walk = (name: string, path: string) => {
    reached.add(name);
    const members = interfaces.get(name)!.members.filter(ts.isPropertySignature);
    // A union (BrokerOptions = simple | relay) puts every member's keys at the same place.
    objects.set(path, [...new Set([...(objects.get(path) ?? []), ...members.map((m) => m.name.getText(source))])]);
    for (const member of members) {
      if (!member.type) continue;
      for (const found of objectTypes(member.type)) {
        const key = member.name.getText(source);
        walk(found.name, `${path === '' ? '' : `${path}.`}${key}${found.array ? '[]' : ''}`);
      }
    }
  };
  walk('StompModuleOptions', '');
  return { objects, declarations: [...interfaces.keys(), ...aliases.keys()], reached };
}

describe('the known option keys (lib/module/option-keys.ts)', () => {
  const declared = declaredOptionObjects();

  it('list every key of every option interface in stomp-options.ts, at the right place', () => {
    const known = new Map(OPTION_OBJECTS.map((o) => [o.path, [...o.keys].sort()]));
    const expected = new Map([...declared.objects].map(([path, keys]) => [path, [...keys].sort()]));
    expect(known).toEqual(expected);
  });

  it('cover every declaration of stomp-options.ts (a new option object must be wired in)', () => {
    const unreached = declared.declarations.filter((d) => !declared.reached.has(d) && !NOT_OPTION_OBJECTS.includes(d));
    expect(unreached).toEqual([]);
  });

  it('accept options that use every declared key', () => {
    const all = Object.fromEntries(OPTION_OBJECTS.find((o) => o.path === '')!.keys.map((k) => [k, undefined]));
    expect(unknownOptionProblems(all)).toEqual([]);
    expect(unknownOptionProblems({ ...all, endpoints: [{ path: '/ws', allowedOrigins: undefined }] })).toEqual([]);
  });
});

describe('unknownOptionProblems', () => {
  it('finds unknown keys at every level, each with its full path', () => {
    expect(
      unknownOptionProblems({
        endpoint: [],
        endpoints: [{ path: '/a' }, { path: '/b', origins: ['*'] }],
        broker: { kind: 'simple', queuecapacity: 5, heartbeat: { tolerence: 3 } },
        limits: { maxBodySize: 10 },
      }),
    ).toEqual([
      'unknown option "endpoint": did you mean "endpoints"?',
      'unknown option "endpoints[1].origins": did you mean "endpoints[1].allowedOrigins"?',
      'unknown option "broker.queuecapacity": did you mean "broker.queueCapacity"?',
      'unknown option "broker.heartbeat.tolerence": did you mean "broker.heartbeat.tolerance"?',
      'unknown option "limits.maxBodySize": did you mean "limits.maxBodyLength"?',
    ]);
  });

  it('lists the options of that level when nothing is close', () => {
    expect(unknownOptionProblems({ endpoints: [{ path: '/ws', zzz: 1 }] })).toEqual([
      'unknown option "endpoints[0].zzz"; the options of endpoints[0] are path, allowedOrigins, sockjs',
    ]);
  });

  it('leaves values of the wrong type to the type checks (heartbeat false, endpoints not a list)', () => {
    expect(unknownOptionProblems({ endpoints: '/ws', broker: { kind: 'simple', heartbeat: false }, limits: null })).toEqual([]);
  });

  it('is part of resolveStompOptions, in one error with the other problems', () => {
    expect(() => resolveStompOptions({ endpoint: [], limits: { maxFrameSize: -1 } } as never)).toThrow(
      'Invalid StompModule options:\n  - unknown option "endpoint": did you mean "endpoints"?\n  - limits.maxFrameSize must be a positive integer, got -1',
    );
  });
});
