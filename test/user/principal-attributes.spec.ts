import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import {
  ConnectedSession,
  MessageMapping,
  Principal,
  SendToUser,
  SessionAttribute,
  SessionAttributes,
  SimpUserRegistry,
  type StompPrincipal,
  type StompSessionInfo,
} from '../../lib/index.js';
import { SessionRegistry } from '../../lib/transport/session-registry.js';
import { barrier, connectAs, inboxOf, json, sendAndWait } from '../support/handler-fixtures.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';
import type { Inbox, TestClient } from '../support/stomp-client.js';

/** The usual gateway guard: it stores the token's claims on the client. */
@Injectable()
class ClaimsGuard implements CanActivate {
  /** Every client object the guard was given, as a gateway might track them. */
  static readonly clients = new Set<object>();
  canActivate(context: ExecutionContext): boolean {
    const client = context.switchToWs().getClient<{ user: unknown; principal?: StompPrincipal }>();
    ClaimsGuard.clients.add(client);
    client.user = { sub: client.principal?.name, scope: 'chat' };
    return true;
  }
}

@Controller()
class WhoController {
  @MessageMapping('/me')
  @SendToUser('/queue/me')
  me(@Principal() principal: StompPrincipal | undefined, @SessionAttribute('tenant') tenant: unknown) {
    return { principal: principal ?? null, tenant: tenant ?? null };
  }

  @MessageMapping('/remember')
  remember(@SessionAttributes() attributes: Map<string, unknown>) {
    attributes.set('seen', ((attributes.get('seen') as number | undefined) ?? 0) + 1);
  }

  @MessageMapping('/seen')
  @SendToUser('/queue/me')
  seen(@SessionAttribute('seen') seen: unknown) {
    return { seen: seen ?? null };
  }

  /** No guard: the same client object as the guarded handler got, with what the guard put on it. */
  @MessageMapping('/plain')
  @SendToUser('/queue/me')
  plain(@ConnectedSession() client: StompSessionInfo) {
    return { user: client.user, attribute: client.attributes.get('user') };
  }

  /** The guard assigned `client.user`: the handler reads it back; @SendToUser still reaches the principal. */
  @UseGuards(ClaimsGuard)
  @MessageMapping('/guarded')
  @SendToUser('/queue/me')
  guarded(@ConnectedSession() client: StompSessionInfo) {
    return { user: client.user, attribute: client.attributes.get('user'), principal: client.principal ?? null };
  }
}

describe('principal objects and session attributes', () => {
  let running: RunningApp;
  let ann: TestClient;
  let anon: TestClient;
  let annInbox: Inbox;
  let anonInbox: Inbox;

  beforeAll(async () => {
    running = await startStompApp(
      {
        authenticate: ({ login }) =>
          login === undefined ? {} : { user: { name: login, roles: ['reader'], tenant: 'acme' }, attributes: { tenant: 'acme' } },
      },
      { controllers: [WhoController], providers: [ClaimsGuard] },
    );
    ann = await connectAs(running.url, 'ann');
    anon = await connectAs(running.url);
    annInbox = await inboxOf(ann, '/user/queue/me');
    anonInbox = await inboxOf(anon, '/user/queue/me');
  });

  afterAll(async () => {
    await Promise.all([ann?.disconnect(), anon?.disconnect()]);
    await running?.close();
  });

  it('carries the claims the authenticator attached to @Principal(), and only the name in CONNECTED', async () => {
    expect(ann.connected.headers['user-name']).toBe('ann');
    expect(Object.keys(ann.connected.headers).sort()).toEqual(['heart-beat', 'server', 'session', 'user-name', 'version']);
    await sendAndWait(ann, '/app/me', {});
    expect(json((await annInbox.waitFor(1))[0])).toEqual({
      principal: { name: 'ann', roles: ['reader'], tenant: 'acme' },
      tenant: 'acme',
    });
  });

  it('gives an anonymous session no principal and no attributes', async () => {
    expect(anon.connected.headers['user-name']).toBeUndefined();
    await sendAndWait(anon, '/app/me', {});
    expect(json((await anonInbox.waitFor(1))[0])).toEqual({ principal: null, tenant: null });
  });

  it('keeps what a handler stores in the session attributes for the later frames of that session only', async () => {
    const before = annInbox.messages.length;
    await sendAndWait(ann, '/app/remember', {});
    await sendAndWait(ann, '/app/remember', {});
    await sendAndWait(ann, '/app/seen', {});
    await sendAndWait(anon, '/app/seen', {});
    expect(json((await annInbox.waitFor(before + 1))[before])).toEqual({ seen: 2 });
    const anonBefore = anonInbox.messages.length;
    expect(json((await anonInbox.waitFor(anonBefore))[anonBefore - 1])).toEqual({ seen: null });
  });

  it('lets a guard store claims on the client (`client.user = claims`) without touching the principal', async () => {
    const before = annInbox.messages.length;
    await sendAndWait(ann, '/app/guarded', {});
    await sendAndWait(ann, '/app/guarded', {});
    const replies = (await annInbox.waitFor(before + 2)).slice(before).map(json);
    const expected = {
      user: { sub: 'ann', scope: 'chat' },
      attribute: { sub: 'ann', scope: 'chat' },
      principal: { name: 'ann', roles: ['reader'], tenant: 'acme' },
    };
    // Delivered through @SendToUser, so user destinations still resolve by the principal's name.
    expect(replies).toEqual([expected, expected]);
    // As on a gateway: one client object for every message of the session, and what the guard put
    // on it is still there for a later, unguarded handler.
    expect(ClaimsGuard.clients.size).toBe(1);
    await sendAndWait(ann, '/app/plain', {});
    const claims = { sub: 'ann', scope: 'chat' };
    expect(json((await annInbox.waitFor(before + 3))[before + 2])).toEqual({ user: claims, attribute: claims });
    // The registry and the views events carry keep the principal's name.
    expect(running.app.get(SimpUserRegistry).getUser('ann')?.name).toBe('ann');
    expect([...running.app.get(SessionRegistry).all()].map((s) => s.info.user).sort((a, b) => String(a).localeCompare(String(b)))).toEqual([
      'ann',
      undefined,
    ]);
    await barrier(ann);
    expect(running.logs.entries.filter((e) => e.level === 'error' || e.level === 'warn')).toEqual([]);
  });
});
