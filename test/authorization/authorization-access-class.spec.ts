// A class given as a rule's `access` must have an `authorize` method: one without it (typically a
// Nest guard with `canActivate`) used to pass start-up and then deny every frame its rule matched,
// since calling a class as a function throws. Now start-up names it.
import { describe, expect, it } from '@jest/globals';
import { Injectable, type CanActivate } from '@nestjs/common';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import type { StompAuthorizationContext, StompModuleOptions } from '../../lib/index.js';

@Injectable()
class AdminGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@Injectable()
class AdminsOnly {
  authorize(context: StompAuthorizationContext): boolean {
    return context.principal?.name === 'ada';
  }
}

function rules(access: unknown): StompModuleOptions {
  return { authorization: { rules: [{ destination: '/topic/admin/**', access }] } } as unknown as StompModuleOptions;
}

describe('authorization.rules[].access: classes', () => {
  it('refuses a class without authorize (a Nest guard) at start-up, naming the rule and the class', () => {
    expect(() => resolveStompOptions(rules(AdminGuard))).toThrow(
      'authorization.rules[0].access: the class AdminGuard has no authorize(context) method',
    );
  });

  it('still accepts a predicate class and a plain (arrow or function) predicate', () => {
    expect(resolveStompOptions(rules(AdminsOnly)).authorization?.rules).toHaveLength(1);
    expect(resolveStompOptions(rules(() => true)).authorization?.rules).toHaveLength(1);
    expect(resolveStompOptions(rules(function isAdmin(): boolean { return true; })).authorization?.rules).toHaveLength(1);
  });
});
